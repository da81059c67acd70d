"""refresh-backup-tooling.sh (run before every backup) against moto's S3 server with the real AWS CLI: the
archive `pulumi up` publishes (with the stack's backup job under job/) is installed, its job's units placed
and their timers enabled, not fetched again while its ETag stays, and a new release replaces it. The deploy's
ToolingSha256 instance tag (IMDS, a stand-in curl) holds the sha256 of what the test publishes, as `up` sets it."""
from __future__ import annotations

import hashlib

import pytest

from components.aws.user_data import aws_artifacts, backup_tooling_files
from components.tooling import TOOLING_KEY, tooling_archive
from components.topology import plan_topology
from tests.conftest import make_settings, require_tool
from tests.support.shell import sandbox

pytestmark = pytest.mark.integration


def stack():
    settings = make_settings(version="5.26.30")
    topology = plan_topology(settings)
    return aws_artifacts(settings, topology), topology


def run_refresh(tmp_path, moto_s3, bucket: str):
    aws = require_tool("aws")
    artifacts, topology = stack()
    script = artifacts[topology.backup_server.name]["backup/refresh-backup-tooling.sh"]
    box = sandbox(tmp_path / "box")
    box.stand_in("systemctl")  # the machine's systemd; the units land in the sandbox
    box.stand_in("curl", f'''case "$*" in
    *api/token*) echo token ;;
    *tags/instance/ToolingSha256*) cat "{tmp_path}/ToolingSha256" ;;
    *) exit 22 ;;
esac''')
    tools = tmp_path / "scripts"
    prelude = (f'REGION=us-east-1\nKEY="{TOOLING_KEY}"\nTOOLS_DIR="{tools}"\nBUCKET="{bucket}"\n'
               f'INSTALLED_ETAG="$TOOLS_DIR/.archive-etag"\n'
               f'S3_OPTIONS=(--region "$REGION" --endpoint-url "{moto_s3.endpoint}")\n'
               f'UNIT_DIR="{tmp_path}/systemd"\nJOB_SCRIPT="{tmp_path}/lib/neo4j-backup.sh"\n'
               'log() { echo "refresh-backup-tooling: $*"; }\n')
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "PATH": f"{box.bin}:{aws.rsplit('/', 1)[0]}:/usr/bin:/bin"}
    return box.run(script, ["installed", "deployed_sha256", "place", "install_job", "refresh_tooling"],
                   "refresh_tooling\n",
                   prelude=prelude, env=env), tools


def publish_tag(tmp_path, archive: bytes) -> None:
    (tmp_path / "ToolingSha256").write_text(hashlib.sha256(archive).hexdigest())


def test_the_published_archive_is_installed_once_and_a_new_release_replaces_it(tmp_path, moto_s3, bucket):
    s3 = moto_s3.client()
    artifacts, topology = stack()
    job = backup_tooling_files(artifacts, topology)
    s3.put_object(Bucket=bucket, Key=TOOLING_KEY, Body=tooling_archive(job))
    publish_tag(tmp_path, tooling_archive(job))
    first, tools = run_refresh(tmp_path, moto_s3, bucket)
    assert first.returncode == 0, first.stdout + first.stderr
    assert (tmp_path / "systemd" / "neo4j-backup.timer").read_text() == job["job/neo4j-backup.timer"]
    assert (tmp_path / "lib" / "neo4j-backup.sh").read_text() == job["job/neo4j-backup.sh"]
    assert "installed the backup job: neo4j-backup-diff.timer neo4j-backup-freshness.timer" in first.stdout
    etag = s3.head_object(Bucket=bucket, Key=TOOLING_KEY)["ETag"]
    assert f"ETag {etag}" in first.stdout and (tools / "backup.py").is_file()
    assert (tools / ".archive-etag").read_text() == etag

    again, _ = run_refresh(tmp_path, moto_s3, bucket)
    assert again.returncode == 0 and again.stdout == "", again.stderr

    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = b"# release 2\n"
        info = tarfile.TarInfo("backup.py")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    s3.put_object(Bucket=bucket, Key=TOOLING_KEY, Body=buffer.getvalue())
    publish_tag(tmp_path, buffer.getvalue())
    upgraded, _ = run_refresh(tmp_path, moto_s3, bucket)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert (tools / "backup.py").read_text() == "# release 2\n" and not (tools / "restore.py").exists()

    # Someone who can write the bucket (not the deploy: the tag stays) swaps the object: refused, release 2 stays.
    s3.put_object(Bucket=bucket, Key=TOOLING_KEY, Body=tooling_archive(job))
    swapped, _ = run_refresh(tmp_path, moto_s3, bucket)
    assert swapped.returncode == 0 and "REFUSED" in swapped.stderr, swapped.stdout + swapped.stderr
    assert (tools / "backup.py").read_text() == "# release 2\n"
