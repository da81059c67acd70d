"""neo4j:backupS3Endpoint reaches every backup and restore path: moto's S3 server over TLS on 127.0.0.1 is
reached only through the key's value, as the rendered launcher exports it (AWS_ENDPOINT_URL_S3), by a real
backup.py, restore drill and freshness check against a real Neo4j Community 5.26, with no --endpoint-url.

The launcher runs under bash with stand-ins for curl (instance metadata) and aws (Secrets Manager); its
python3 stand-in records the environment and arguments the real tools would get.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from components.aws.user_data import render_backup_job
from components.topology import plan_topology
from scripts.neo4j_ops.backup.freshness import (
    BACKUP_METRIC,
    DRILL_METRIC,
    METRICS_FILE,
    drill_key,
    freshness_parser,
)
from tests.conftest import make_settings, require_tool
from tests.support.neo4j_dist import free_port

from .conftest import CREDENTIALS, PASSWORD, SCRIPTS
from .support import run_launcher

pytestmark = pytest.mark.integration

COMMUNITY = {"edition": "community", "coreCount": 1, "replicaCount": 0, "acceptLicense": False}


@pytest.fixture(scope="module")
def tls_moto(tmp_path_factory):
    """moto's S3 server on https://127.0.0.1:<port> with a certificate for 127.0.0.1 (trusted via AWS_CA_BUNDLE)."""
    where = tmp_path_factory.mktemp("moto-tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run([require_tool("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port),
                               "-s", "-c", str(cert), "-k", str(key)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"https://127.0.0.1:{port}"
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", verify=str(cert),
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    deadline = time.monotonic() + 30
    while True:
        try:
            s3.list_buckets()
            break
        except Exception:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise
            time.sleep(0.3)
    try:
        yield endpoint, cert, s3
    finally:
        server.terminate()
        server.wait(timeout=10)


def launch(script: str, tmp_path: Path, *args: str) -> list[list[str]]:
    """Run the rendered launcher; every tool run it made: [ENDPOINT=…, tool, args…]."""
    return run_launcher(script, tmp_path, '"ENDPOINT=${AWS_ENDPOINT_URL_S3:-}"', *args)


def rendered_job(endpoint: str = "") -> dict[str, str]:
    settings = make_settings(**COMMUNITY, **({"backupS3Endpoint": endpoint} if endpoint else {}))
    return render_backup_job(settings, plan_topology(settings))


def test_the_launcher_exports_the_endpoint_to_every_tool_and_passes_shellcheck(tmp_path):
    job = rendered_job("https://minio.example.com:9000")
    script = job["backup/neo4j-backup.sh"]
    (tmp_path / "check.sh").write_text(script)
    checked = subprocess.run([require_tool("shellcheck"), "--severity=info", str(tmp_path / "check.sh")],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout
    for mode in ((), ("--restore-drill",), ("--freshness",)):
        (run,) = launch(script, tmp_path, *mode)
        assert run[0] == "ENDPOINT=https://minio.example.com:9000", mode
        assert "--endpoint-url" not in run, "the tools take the endpoint from AWS_ENDPOINT_URL_S3 like neo4j-admin"
    # Without the key: AWS S3, nothing exported.
    (run,) = launch(rendered_job()["backup/neo4j-backup.sh"], tmp_path)
    assert run[0] == "ENDPOINT="


def test_the_freshness_mode_runs_the_freshness_check_with_options_it_accepts(tmp_path):
    (run,) = launch(rendered_job()["backup/neo4j-backup.sh"], tmp_path, "--freshness")
    _, flag, module, *argv = run
    assert (flag, module) == ("-m", "scripts.neo4j_ops.backup.freshness")
    args = freshness_parser().parse_args(argv)
    # The default database and system are reported before their first backup; any other database once the bucket
    # holds a backup of it (freshness.databases_in_bucket).
    assert (args.bucket, args.stack, args.database, args.region) == ("tagged-bucket", "test", ["neo4j", "system"],
                                                                     "eu-west-1")


def test_the_boot_script_fetches_the_tooling_through_the_endpoint():
    from components.aws.user_data import aws_artifacts

    settings = make_settings(**COMMUNITY, backupS3Endpoint="https://minio.example.com:9000")
    files = aws_artifacts(settings, plan_topology(settings))
    # The boot runs the same refresh as before every backup (the job and the tooling come from the archive),
    # and every S3 call of that refresh goes through the endpoint.
    (server,) = [f for f in files.values() if "backup/refresh-backup-tooling.sh" in f]
    assert 'retry /bin/bash "/usr/local/lib/neo4j-cluster/refresh-backup-tooling.sh"' in server["setup-neo4j.sh"]
    refresh = server["backup/refresh-backup-tooling.sh"]
    (options,) = [line for line in refresh.splitlines() if line.startswith("S3_OPTIONS=")]
    assert '--endpoint-url "https://minio.example.com:9000"' in options
    calls = [line for line in refresh.splitlines() if line.strip().startswith(("aws s3", "if ! etag=$(aws s3"))]
    assert calls and all('"${S3_OPTIONS[@]}"' in line for line in calls), calls


def test_backup_drill_and_freshness_reach_the_store_only_through_the_key(tls_moto, neo4j, neo4j_commands, tmp_path):
    endpoint, cert, s3 = tls_moto
    bucket = f"endpoint-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    (run,) = launch(rendered_job(endpoint)["backup/neo4j-backup.sh"], tmp_path / "launcher")
    exported = run[0].removeprefix("ENDPOINT=")
    assert exported == endpoint
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NEO4J_"))}
    env.update(CREDENTIALS, NEO4J_PASSWORD=PASSWORD, AWS_ENDPOINT_URL_S3=exported, AWS_CA_BUNDLE=str(cert),
               AWS_EC2_METADATA_DISABLED="true")
    common = ["--bucket", bucket, "--stack", "test", "--region", "us-east-1", "--neo4j-home", str(neo4j.home),
              "--neo4j-admin", str(neo4j_commands["admin"]), "--uri", neo4j.uri]

    def tool(name: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(SCRIPTS / f"{name}.py"), *common, *args], env=env,
                              capture_output=True, text=True, timeout=600)

    neo4j.query("UNWIND range(1, 50) AS i CREATE (:Item {i: i})")
    (tmp_path / "staging").mkdir()  # the test's own: the default staging directory exists only on a server
    made = tool("backup", "--offline-ok", "--json", "--staging-dir", str(tmp_path / "staging"),
                "--stop-command", neo4j.command("stop"), "--start-command", neo4j.command("start"))
    assert made.returncode == 0, made.stderr
    stamp = json.loads(made.stdout)["backup"]
    held = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert f"test/neo4j/{stamp}/manifest.json" in held

    (tmp_path / "drill").mkdir()
    drilled = tool("restore", "--latest", "--verify-only", "--json", "--work-dir", str(tmp_path / "drill"),
                   "--scratch-command", str(neo4j_commands["console"]))
    assert drilled.returncode == 0, drilled.stderr
    drills = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="test/neo4j/drills/")["Contents"]]
    assert len(drills) == 1 and drills[0].startswith(drill_key("test", "neo4j", "")[:-len(".json")])
    record = json.loads(s3.get_object(Bucket=bucket, Key=drills[0])["Body"].read())
    assert record["result"] == "passed" and record["verified_backup"] == stamp

    textfiles = tmp_path / "textfile"
    fresh = subprocess.run([sys.executable, "-m", "scripts.neo4j_ops.backup.freshness", "--bucket", bucket,
                            "--stack", "test", "--database", "neo4j", "--region", "us-east-1",
                            "--textfile-dir", str(textfiles)], env=env, capture_output=True, text=True,
                           timeout=120, cwd=SCRIPTS.parent)
    assert fresh.returncode == 0, fresh.stderr
    metrics = dict(line.rsplit(" ", 1) for line in (textfiles / METRICS_FILE).read_text().splitlines()
                   if not line.startswith("#"))
    now = time.time()
    assert now - 600 < float(metrics[f'{BACKUP_METRIC}{{database="neo4j"}}']) <= now
    assert now - 600 < float(metrics[f'{DRILL_METRIC}{{database="neo4j"}}']) <= now


def test_without_the_key_the_tools_do_not_find_the_store(tls_moto, tmp_path):
    # The control: the same run without AWS_ENDPOINT_URL_S3 does not reach moto (the key is what routes it).
    endpoint, cert, s3 = tls_moto
    bucket = f"endpoint-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NEO4J_"))}
    env.update(CREDENTIALS, AWS_CA_BUNDLE=str(cert), AWS_ENDPOINT_URL_S3="https://127.0.0.1:9",
               AWS_MAX_ATTEMPTS="1", AWS_EC2_METADATA_DISABLED="true")
    lost = subprocess.run([sys.executable, "-m", "scripts.neo4j_ops.backup.freshness", "--bucket", bucket,
                           "--stack", "test", "--textfile-dir", str(tmp_path)], env=env, capture_output=True,
                          text=True, timeout=120, cwd=SCRIPTS.parent)
    assert lost.returncode != 0 and "Traceback" not in lost.stderr
    assert not (tmp_path / METRICS_FILE).exists()


def test_every_server_gives_neo4j_the_endpoint_for_s3_seeds():
    from components.aws.user_data import aws_artifacts

    settings = make_settings(backupS3Endpoint="https://minio.example.com:9000")
    files = aws_artifacts(settings, plan_topology(settings))
    scripts = {name: f["setup-neo4j.sh"] for name, f in files.items() if "setup-neo4j.sh" in f}
    assert len(scripts) == len(plan_topology(settings).servers)
    for name, setup in scripts.items():
        assert "Environment=AWS_ENDPOINT_URL_S3=https://minio.example.com:9000" in setup, name
        assert setup.index("run_step s3_endpoint_for_neo4j") < setup.index("run_step start_neo4j"), name
    plain = make_settings()
    for f in aws_artifacts(plain, plan_topology(plain)).values():
        assert "s3-endpoint.conf" not in f.get("setup-neo4j.sh", "")
