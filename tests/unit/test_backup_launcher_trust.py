"""The backup launcher hands the tools the machine's trust store: the venv's boto3 (PyPI's, with certifi's own
bundle) would otherwise refuse a CA the machine trusts and its AWS CLI accepts (found by the boot rehearsal: the
freshness run could not verify the S3 endpoint the AWS CLI had just read from)."""
from __future__ import annotations

import subprocess

from components.aws.user_data import render_backup_job
from components.topology import plan_topology
from tests.conftest import make_settings
from tests.support.shell import sandbox

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"  # Debian's and Ubuntu's, kept by update-ca-certificates


def run_freshness(tmp_path, env: dict[str, str]) -> str:
    """The rendered launcher's --freshness run with a python3 stand-in that prints what it was given."""
    settings = make_settings(edition="community", coreCount=1, replicaCount=0)
    script = render_backup_job(settings, plan_topology(settings))["backup/neo4j-backup.sh"]
    box = sandbox(tmp_path / "box")
    tools = tmp_path / "tools"
    for tool in ("backup.py", "restore.py", "neo4j_ops/backup/__init__.py"):
        (tools / tool).parent.mkdir(parents=True, exist_ok=True)
        (tools / tool).write_text("")
    box.stand_in("python3", 'echo "AWS_CA_BUNDLE=${AWS_CA_BUNDLE:-}"')
    launcher = tmp_path / "neo4j-backup.sh"
    launcher.write_text(script)
    result = subprocess.run(["bash", str(launcher), "--freshness"], capture_output=True, text=True, timeout=60,
                            env={"PATH": f"{box.bin}:/usr/bin:/bin", "NEO4J_BACKUP_TOOLS": str(tools),
                                 "BACKUP_BUCKET": "b", **env})
    assert result.returncode == 0, result.stderr
    assert "python3 -m tools.neo4j_ops.backup.freshness" in box.calls()[0]
    return result.stdout


def test_the_tools_verify_tls_with_the_machines_trust_store(tmp_path):
    assert run_freshness(tmp_path, {}).strip() == f"AWS_CA_BUNDLE={SYSTEM_BUNDLE}"


def test_a_bundle_the_service_sets_itself_is_kept(tmp_path):
    given = "/etc/company/ca.pem"
    assert run_freshness(tmp_path, {"AWS_CA_BUNDLE": given}).strip() == f"AWS_CA_BUNDLE={given}"
