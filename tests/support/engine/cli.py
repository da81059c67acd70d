"""The Pulumi CLI the engine tests run: built here from the Go module proxy, once, then cached.

`go install` of the CLI fails on pkg/v3's replace directive (github.com/atotto/clipboard), so a module of ours
requires pkg/v3 and sdk/v3 at PULUMI_VERSION with the same replace, and `go build`s the CLI's main package;
-ldflags sets the version it reports. Cold: 3-9 minutes on a 2-CPU machine (bench/engine.py prints it); warm:
the binary is reused. The Python language host is not built: the tests run the program inline through the
Automation API, whose own language server (pulumi/automation/_server.py, in the `pulumi` package) the CLI
connects to, or, for the commands that select a stack by directory, attach that server as a stand-in host
(language_host.py).

Run `python -m tests.support.engine.cli` to build it ahead (make engine does).
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.support.neo4j_dist import cache_root

PULUMI_VERSION = "v3.276.0"
MODULE = "github.com/pulumi/pulumi/pkg/v3"
MAIN_PACKAGE = f"{MODULE}/cmd/pulumi"
# pkg/v3's own go.mod replaces it; a module that builds the CLI needs the same line.
CLIPBOARD_REPLACE = "github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e"
GO_MOD = f"""module neo4j-cluster/engine-cli

go 1.24

replace {CLIPBOARD_REPLACE}
"""


def engine_dir() -> Path:
    return cache_root() / "engine" / PULUMI_VERSION


def built_cli() -> Path | None:
    cli = engine_dir() / "bin" / "pulumi"
    return cli if cli.is_file() and os.access(cli, os.X_OK) else None


def _stderr(line: str) -> None:
    print(line, file=sys.__stderr__, flush=True)  # the test log shows it whatever pytest captures


def pulumi_cli(log=_stderr) -> Path:
    """The CLI's path, built first when this machine has none (one build at a time: a lock file)."""
    directory = engine_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cli = built_cli()
        if cli is not None:
            log(f"engine: the Pulumi CLI {PULUMI_VERSION} is built ({cli}); reused")
            return cli
        source = directory / "src"
        source.mkdir(exist_ok=True)
        (source / "go.mod").write_text(GO_MOD)
        env = {**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}
        started = time.monotonic()
        log(f"engine: building the Pulumi CLI {PULUMI_VERSION} from the Go module proxy into {directory} "
            f"(once; 3-9 minutes)")
        fetched = subprocess.run(["go", "get", f"{MAIN_PACKAGE}@{PULUMI_VERSION}",
                                  f"github.com/pulumi/pulumi/sdk/v3@{PULUMI_VERSION}"],
                                 cwd=source, env=env, capture_output=True, text=True)
        if fetched.returncode != 0:  # its list of ~300 added modules only when it failed
            raise RuntimeError(f"engine: go get of the Pulumi CLI failed:\n{fetched.stderr}")
        log(f"engine: modules fetched ({time.monotonic() - started:.0f} s); compiling")
        target = directory / "bin" / "pulumi.new"
        target.parent.mkdir(exist_ok=True)
        ldflags = f"-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version={PULUMI_VERSION}"
        subprocess.run(["go", "build", "-trimpath", "-o", str(target), "-ldflags", ldflags, MAIN_PACKAGE],
                       cwd=source, env=env, check=True)
        target.rename(directory / "bin" / "pulumi")
        log(f"engine: built the Pulumi CLI in {time.monotonic() - started:.0f} s")
        return directory / "bin" / "pulumi"


if __name__ == "__main__":
    print(pulumi_cli())
