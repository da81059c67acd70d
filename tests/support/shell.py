"""Run functions of a rendered shell script for real, in bash, with stand-ins for the machine's tools.

The boot scripts are made of functions (`install_neo4j`, `set_initial_password`, …). A test takes the
functions it needs out of the rendered text, puts stand-ins for what only a real machine has
(`apt-get`, `systemctl`, `sudo`, the AWS CLI) first on PATH or as shell functions, and runs them with
`set -euo pipefail` as the script does. Every stand-in appends its arguments to calls.log.
"""
from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path


def shell_function(script: str, name: str) -> str:
    """The text of `name() { … }` in a rendered script (up to the first `}` at the start of a line)."""
    match = re.search(rf"^{re.escape(name)}\(\) \{{\n.*?^\}}\n", script, re.S | re.M)
    if not match:
        raise AssertionError(f"no function {name}() in the script")
    return match.group(0)


@dataclass
class Sandbox:
    """A directory with bin/ (stand-ins, first on PATH) and calls.log."""
    root: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def log(self) -> Path:
        return self.root / "calls.log"

    def stand_in(self, name: str, body: str = "") -> None:
        """bin/<name>: logs `name args…`, then runs `body` (bash)."""
        path = self.bin / name
        path.write_text(f'#!/usr/bin/env bash\necho "{name} $*" >>"{self.log}"\n{body}\n')
        path.chmod(0o755)

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def run(self, script: str, functions: list[str], body: str, *, prelude: str = "",
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        text = "set -euo pipefail\n" + prelude + "\n" + "".join(shell_function(script, f) for f in functions) + body
        program = self.root / "run.sh"
        program.write_text(text)
        environment = {"PATH": f"{self.bin}:{os.environ['PATH']}", "HOME": str(self.root), **(env or {})}
        return subprocess.run(["bash", str(program)], capture_output=True, text=True, env=environment,
                              cwd=self.root, timeout=300)


def sandbox(directory: Path) -> Sandbox:
    box = Sandbox(directory)
    box.bin.mkdir(parents=True, exist_ok=True)
    return box


def run_install_configuration(box: Sandbox, script: str, *, conf: str, secret: str, places: dict[str, str],
                              aws: str = "") -> subprocess.CompletedProcess:
    """setup-neo4j.sh's install_configuration step in bash, in the sandbox: `conf` the rendered neo4j.conf, `secret`
    what Secrets Manager answers (the aws stand-in; `aws` replaces its body), `places` the script's path variables
    (ALIAS_KEYSTORE, GDS_LICENSE_FILE …) as names under the sandbox. Prints changed=<CONF_CHANGED>."""
    (box.root / "etc").mkdir(exist_ok=True)
    (box.root / "rendered.conf").write_text(conf)
    (box.root / "secret.txt").write_text(secret)
    box.stand_in("aws", aws or f'cat "{box.root}/secret.txt"')
    box.stand_in("install", 'if [[ "$1" == -d ]]; then exit 0; fi; args=("$@"); cp "${args[-2]}" "${args[-1]}"')
    box.stand_in("chown")
    prelude = (f'DATA_DIR="{box.root}/data"\nIMPORT_DIR="{box.root}/import"\nRENDERED_CONF="{box.root}/rendered.conf"\n'
               f'NEO4J_CONF_FILE="{box.root}/etc/neo4j.conf"\n'
               + "".join(f'{name}="{box.root}/{path}"\n' for name, path in places.items())
               + 'REGION=eu-west-1\nRETRY_ATTEMPTS=1\nlog() { echo "setup-neo4j: $*"; }\n')
    return box.run(script, ["retry", "secret", "install_configuration"],
                   'CONF_CHANGED=false\ninstall_configuration\necho "changed=$CONF_CHANGED"\n', prelude=prelude)
