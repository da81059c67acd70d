"""The backup tools' archive (components/tooling.py) is self-contained: unpacked alone, as the backup server's
set-up unpacks it, backup.py and restore.py run without the rest of the repository and without any package
but boto3 and the neo4j driver, and the archive holds exactly the modules they import."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile

from components.aws.user_data import BACKUP_JOB_ARCHIVE_FOLDER, aws_artifacts, backup_tooling_files
from components.settings import load_settings
from components.tooling import TOOLING_DIR, tooling_archive
from components.topology import plan_topology
from tests.conftest import stack_config

PROBE = """
import contextlib, importlib.abc, io, json, runpy, sys

ROOT = {root!r}
NOT_ON_THE_SERVER = ("components", "pulumi", "pulumi_aws", "pulumi_tls", "jinja2", "yaml", "moto", "tests")


class NotOnTheServer(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in NOT_ON_THE_SERVER:
            raise ImportError(f"{{name}} is not installed on the backup server")


sys.meta_path.insert(0, NotOnTheServer())
codes = {{}}
for name, argv in (("backup", ["--help"]), ("restore", ["--help"]),
                   ("backup", ["--stack", "prod", "--prune-only", "--staging-dir", {staging!r}, "--json"])):
    sys.argv = [name + ".py", *argv]
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            runpy.run_path(f"{{ROOT}}/scripts/{{name}}.py", run_name="__main__")
            code = 0
        except SystemExit as exit:
            code = exit.code
    codes[" ".join([name, *argv[:1]])] = code
modules = sorted(m for m in sys.modules if m == "scripts" or m.startswith("scripts."))
print(json.dumps({{"codes": codes, "modules": modules}}))
"""


def test_the_archive_runs_alone_and_holds_exactly_what_backup_and_restore_import(tmp_path):
    assert TOOLING_DIR.endswith("/scripts")  # the archive is the repository's scripts/ slice: same imports
    root = tmp_path / "neo4j-cluster"
    # The archive the AWS adapter stores: the scripts and, under job/, the stack's backup job.
    settings = load_settings("prod", stack_config("prod"))
    topology = plan_topology(settings)
    job = backup_tooling_files(aws_artifacts(settings, topology), topology)
    with tarfile.open(fileobj=io.BytesIO(tooling_archive(job))) as archive:
        names = archive.getnames()
        assert {name: archive.extractfile(name).read().decode() for name in names
                if name.startswith(f"{BACKUP_JOB_ARCHIVE_FOLDER}/")} == job  # the job, and nothing else, in job/
        archive.extractall(root / "scripts", filter="data")
    (tmp_path / "staging").mkdir()
    # -I: no PYTHONPATH, no user site, not the current directory: only what the archive brings.
    proc = subprocess.run([sys.executable, "-I", "-c", PROBE.format(root=str(root), staging=str(tmp_path / "staging"))],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert set(result["codes"].values()) == {0}, result["codes"]

    packed = {name.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for name in names
              if not name.startswith(f"{BACKUP_JOB_ARCHIVE_FOLDER}/")}
    imported = {module.removeprefix("scripts.") for module in result["modules"] if module != "scripts"}
    packed = {name for name in packed if name not in ("backup", "restore", "__init__")}  # the entry points
    assert packed == imported, f"packed, not imported: {sorted(packed - imported)}; imported, not packed: " \
                               f"{sorted(imported - packed)}"
    assert not [m for m in imported if m.split(".")[1:2] in (["checks"], ["diagnose"], ["security"], ["target"],
                                                              ["cluster"], ["recorded"])]


def test_the_archive_with_the_job_is_byte_reproducible_and_keeps_the_job_out_of_the_scripts():
    settings = load_settings("prod", stack_config("prod"))
    topology = plan_topology(settings)
    job = backup_tooling_files(aws_artifacts(settings, topology), topology)
    assert set(job) >= {"job/neo4j-backup.sh", "job/neo4j-backup.service", "job/neo4j-backup.timer"}
    assert "job/refresh-backup-tooling.sh" not in job  # it fetches the archive: user data keeps it
    assert tooling_archive(job) == tooling_archive(dict(reversed(list(job.items()))))
    with tarfile.open(fileobj=io.BytesIO(tooling_archive(job))) as archive:
        members = archive.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {m.name: m.mode for m in members if m.name.startswith("job/")} == {
        name: 0o755 if name.endswith(".sh") else 0o644 for name in job}
    assert {(m.mtime, m.uid, m.gid) for m in members} == {(0, 0, 0)}
