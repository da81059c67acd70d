"""A stack of this project under the real Pulumi engine (file backend in a temporary directory, no network).

The program is the project's own __main__.py, run inline through the Automation API: the CLI (cli.py) drives
the engine and connects to the Automation API's language server in this process. Providers: the stand-ins of
standin_provider.py, attached through PULUMI_DEBUG_PROVIDERS, at the versions the program's SDKs ask for.
The stack's config is the repo's Pulumi.<stack>.yaml (copied, never written) plus test secrets set with
`pulumi config set --secret` semantics (encrypted by a passphrase provider).
"""
from __future__ import annotations

import fcntl
import json
import os
import runpy
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from components.program.recording import RecordingMocks
from tests.conftest import stack_config
from tests.support.engine.cli import engine_dir, pulumi_cli
from tests.support.engine.standin_provider import RunningProvider, debug_providers, serve
from tests.support.engine.tls_material import TlsMaterialMocks

ROOT = Path(__file__).resolve().parents[3]
PROJECT = "neo4j-cluster"
PASSPHRASE = "engine-tests-only"
# Stand-ins for the packages this machine cannot build (standin_provider.py), at the SDKs' versions.
STANDIN_PACKAGES = {"aws": "pulumi_aws", "tls": "pulumi_tls"}


def sdk_version(distribution: str) -> str:
    return metadata.version(distribution.replace("_", "-"))


# This process's engine output not yet attached to a test's report (tests/engine/conftest.py engine_log).
ENGINE_LINES: list[str] = []


def engine_output(line: str) -> None:
    """The engine's own output: on standard error as it comes (pytest shows it with -s, or for a failed test) and
    in the summary of the run, from whichever worker (tests/support/engine_report.py)."""
    print(f"engine| {line}", file=sys.__stderr__, flush=True)
    ENGINE_LINES.append(line)


def _program() -> None:
    runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")


@dataclass
class EngineStack:
    stack: auto.Stack
    providers: list[RunningProvider]
    state_dir: Path
    work_dir: Path  # holds Pulumi.<stack>.yaml, the stack's settings with its encrypted secrets
    env: dict[str, str]  # the engine's environment (backend, passphrase, attached providers)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """The CLI itself on this stack, for what the Automation API has no call for (`pulumi state unprotect`)."""
        return subprocess.run([str(engine_dir() / "bin" / "pulumi"), *args, "--stack", self.stack.name,
                               "--non-interactive"], cwd=self.work_dir, env={**os.environ, **self.env},
                              capture_output=True, text=True, timeout=120)

    def preview(self, **options) -> auto.PreviewResult:
        return self.stack.preview(**options)

    def up(self, **options) -> auto.UpResult:
        return self.stack.up(**options)


@dataclass(frozen=True)
class Deployed:
    """A stack as its first `up` left it: the engine's own export of its state (`pulumi stack export`). Imported
    into a fresh stack of the same name and config (engine_stack(..., deployed=)), it spares a test that starts
    from a deployed stack the `up` that creates its ~200 resources: 15 CPU seconds against 0.5 for the import
    (dev, measured 2026-12-07). The secrets in it are encrypted under the same passphrase (PASSPHRASE)."""
    stack: str
    config: Mapping[str, Any]
    deployment: auto.Deployment


def deployed_once(stack: str, shared: Path, *, secrets: Mapping[str, str],
                  config: Mapping[str, Any] | None = None) -> Deployed:
    """The state of one `up` of `stack` from nothing, made once in `shared` (a directory every pytest-xdist worker
    of the run sees: the first worker to ask runs the `up`, under a lock, and the others read its export)."""
    config = dict(config or {})
    export = shared / f"engine-deployed-{stack}.json"
    with open(shared / f"engine-deployed-{stack}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not export.exists():
            with engine_stack(stack, shared / f"engine-deployed-{stack}", secrets=secrets, config=config) as engine:
                engine.up()
                state = engine.stack.export_stack()
            written = export.with_suffix(".part")
            written.write_text(json.dumps({"config": config, "version": state.version,
                                           "deployment": state.deployment}))
            written.replace(export)
    document = json.loads(export.read_text())
    if document["config"] != config:
        raise ValueError(f"{export} holds {stack} deployed with config {document['config']}, not {config}")
    return Deployed(stack, config, auto.Deployment(version=document["version"], deployment=document["deployment"]))


@contextmanager
def engine_stack(stack: str, tmp: Path, *, secrets: Mapping[str, str], config: Mapping[str, Any] | None = None,
                 zones: tuple[str, ...] = (), deployed: Deployed | None = None,
                 checkpoints: bool = False, providers: tuple[RunningProvider, ...] = (),
                 tls_material: bool = False) -> Iterator[EngineStack]:
    """The repo's stack `stack` (config overridden by `config`) in a fresh file backend under `tmp`; with
    `deployed`, its state is that deployment's (as after an `up`), else empty.

    Without `checkpoints`, the engine saves the state once at the end of each update, not after every step
    (PULUMI_SKIP_CHECKPOINTS: "Skip saving state checkpoints and only save the final deployment. See #10668.",
    sdk/go/common/env/env.go at v3.276.0, which no longer asks for PULUMI_EXPERIMENTAL): writing the whole state
    after each of ~250 steps was most of an `up`'s cost (prod: 13.1 CPU seconds of the CLI's 15.3; wall 17.9 s ->
    6.5 s, measured 2026-12-07). A failed update still saves its final state (the rollout's failing-step test reads
    it); a test of what a crash in the middle of an update leaves (none yet) asks for `checkpoints`, as a user's
    `pulumi up` has them. `providers`: more providers to attach (the docker stand-in, for a docker stack), stopped
    with the others when the block ends. `tls_material`: the tls stand-in makes real keys and certificates
    (tests/support/engine/tls_material.py), for a stack whose servers serve TLS for real; else the plan's
    placeholders."""
    if deployed is not None and (deployed.stack, dict(deployed.config)) != (stack, dict(config or {})):
        raise ValueError(f"a deployment of {deployed.stack} {dict(deployed.config)} is not stack {stack} "
                         f"{dict(config or {})}")
    values = {**stack_config(stack), **(config or {})}
    region = values.get("neo4j:region") or values.get("aws:region") or "us-east-1"
    mocks = RecordingMocks(zones or tuple(f"{region}{z}" for z in "abc"))
    tls_mocks = TlsMaterialMocks(mocks.zones) if tls_material else mocks
    attached = [serve(package, sdk_version(sdk), tls_mocks if package == "tls" else mocks)
                for package, sdk in STANDIN_PACKAGES.items()] + list(providers)
    with program_stack(stack, tmp, _program, attached, project=PROJECT, checkpoints=checkpoints) as engine:
        plain = {key: auto.ConfigValue(value if isinstance(value, str) else json.dumps(value))
                 for key, value in values.items()}
        hidden = {key: auto.ConfigValue(value, secret=True) for key, value in secrets.items()}
        engine.stack.set_all_config({**plain, **hidden})
        if deployed is not None:
            engine.stack.import_stack(deployed.deployment)
        yield engine


@contextmanager
def program_stack(stack: str, tmp: Path, program: Callable[[], None], providers: list[RunningProvider], *,
                  project: str, checkpoints: bool = False) -> Iterator[EngineStack]:
    """A new stack of `program` (run inline, in this process) in a fresh file backend under `tmp`, the engine
    attached to `providers`, which are stopped when the block ends (engine_stack's PULUMI_SKIP_CHECKPOINTS)."""
    pulumi_cli(log=lambda line: None)  # built by `make engine-cli` (make test does it first, with its progress)
    state, home, work = tmp / "state", tmp / "pulumi-home", tmp / "work"
    for directory in (state, home, work):
        directory.mkdir(parents=True, exist_ok=True)
    env = {
        "PULUMI_BACKEND_URL": f"file://{state}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_HOME": str(home),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_DEBUG_PROVIDERS": debug_providers(providers),
        "AWS_EC2_METADATA_DISABLED": "true",
        **({} if checkpoints else {"PULUMI_SKIP_CHECKPOINTS": "true"}),
    }
    try:
        workspace = auto.LocalWorkspaceOptions(
            work_dir=str(work), pulumi_home=str(home), env_vars=env, secrets_provider="passphrase",
            project_settings=auto.ProjectSettings(name=project, runtime="python"),
            pulumi_command=auto.PulumiCommand(root=str(engine_dir())))
        yield EngineStack(auto.create_stack(stack, project_name=project, program=program, opts=workspace),
                          providers, state, work, env)
    finally:
        for provider in providers:
            provider.stop()
