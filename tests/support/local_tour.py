"""The local tour of the README's quick start, steps 2 and 3, against the server step 1 started
(`make local-server`: tests/support/neo4j_local.py in the background; its state file says where it is):

    make local-check            # scripts/check.py --uri <its Bolt URI>, NEO4J_PASSWORD set
    make local-backup-restore   # backup.py, then restore.py, against moto's S3 on loopback

Each prints the command it runs, with every argument it supplies (the password as NEO4J_PASSWORD=…), so
the same command can be run by hand. `backup-restore` starts moto's S3 server on 127.0.0.1 (a stand-in for
AWS S3, the one the tests use) with a bucket, writes a small graph (label TourPerson) into the server,
backs the database up (Community: an offline dump, the server paused and resumed through
`neo4j_local --pause/--resume`, as systemctl stop/start on a machine), deletes the graph, restores the
latest backup, compares the counts, and then stops moto and removes its work directory (staging,
downloads, the restore's safety dump, the neo4j-admin launcher). The server keeps running: `make local-stop`.
"""
from __future__ import annotations

import argparse
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support import neo4j_local
from tests.support.moto_aws import CREDENTIALS, ELSEWHERE, REGION, moto_server

ROOT = neo4j_local.ROOT
BUCKET = "neo4j-local-backups"
STACK = "local-tour"
PEOPLE = 100


class TourError(Exception):
    pass


def _server() -> dict:
    state = neo4j_local._read_state(neo4j_local.STATE_DIR / "state.json")
    if state is None:
        raise TourError("no local server is running: start it with `make local-server` (step 1)")
    if not state.get("running", True):
        raise TourError("the local server is paused: `make local-stop`, then `make local-server`")
    return state


def _python() -> str:
    """The virtualenv's interpreter as the README writes it (.venv/bin/python), when this is it."""
    venv = ROOT / ".venv" / "bin" / "python"
    return ".venv/bin/python" if venv.exists() and Path(sys.executable).parent == venv.parent else sys.executable


def _run(command: list[str], env: dict[str, str], shown_env: str = "NEO4J_PASSWORD=… ") -> int:
    print(f"$ {shown_env}{shlex.join(command)}", flush=True)
    return subprocess.run(command, cwd=ROOT, env=env).returncode


def _env(password: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ELSEWHERE and not k.startswith("NEO4J_PASSWORD")}
    env.update(NEO4J_PASSWORD=password, AWS_EC2_METADATA_DISABLED="true", **extra)
    return env


# A JVM just started (compiled by C1 only, neo4j_local.TEST_JVM_ARGS) on a busy laptop answers its first queries
# in seconds, not the milliseconds of a warm production server: check's 5 s default is too short for it.
CHECK_TIMEOUT = "30"


def check(extra: list[str]) -> int:
    server = _server()
    timeout = [] if "--timeout" in extra else ["--timeout", CHECK_TIMEOUT]
    return _run([_python(), "scripts/check.py", "--uri", server["uri"], *timeout, *extra], _env(server["password"]))


def _counts(server: dict) -> tuple[int, int]:
    from neo4j import GraphDatabase

    with GraphDatabase.driver(server["uri"], auth=("neo4j", server["password"])) as driver:
        nodes = driver.execute_query("MATCH (n) RETURN count(n) AS c").records[0]["c"]
        rels = driver.execute_query("MATCH ()-[r]->() RETURN count(r) AS c").records[0]["c"]
    return nodes, rels


def _write(server: dict, cypher: str, **params) -> None:
    from neo4j import GraphDatabase

    with GraphDatabase.driver(server["uri"], auth=("neo4j", server["password"])) as driver:
        driver.execute_query(cypher, params)


def backup_restore(extra: list[str]) -> int:
    import boto3

    from tests.integration.backup.support import write_neo4j_commands

    server = _server()
    work = Path(tempfile.mkdtemp(prefix="neo4j-local-tour-"))
    try:
        admin = write_neo4j_commands(work, version=server["version"])["admin"]
        (work / "staging").mkdir()
        (work / "restore").mkdir()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request otherwise
        local = f"{_python()} -m tests.support.neo4j_local"
        with moto_server() as endpoint:
            print(f"S3 emulator (moto) on {endpoint}, bucket {BUCKET}", flush=True)
            boto3.client("s3", endpoint_url=endpoint, region_name=REGION, **{
                "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}).create_bucket(Bucket=BUCKET)
            _write(server, "MATCH (n:TourPerson) DETACH DELETE n")
            _write(server, "UNWIND range(1, $n) AS i CREATE (:TourPerson {id: i})", n=PEOPLE)
            _write(server, "MATCH (a:TourPerson), (b:TourPerson) WHERE b.id = a.id + 1 CREATE (a)-[:KNOWS]->(b)")
            before = _counts(server)
            print(f"graph before the backup: {before[0]} nodes, {before[1]} relationships", flush=True)
            common = ["--bucket", BUCKET, "--stack", STACK, "--endpoint-url", endpoint, "--region", REGION,
                      "--neo4j-home", server["home"], "--neo4j-admin", str(admin), "--uri", server["uri"],
                      "--stop-command", f"{local} --pause", "--start-command", f"{local} --resume"]
            env = _env(server["password"], **CREDENTIALS, AWS_DEFAULT_REGION=REGION)
            shown = "NEO4J_PASSWORD=… AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
            rc = _run([_python(), "scripts/backup.py", *common, "--offline-ok", "--staging-dir",
                       str(work / "staging"), *extra], env, shown)
            if rc != 0:
                print(f"local-backup-restore: backup.py failed (exit {rc})", file=sys.stderr)
                return rc
            _write(server, "MATCH (n:TourPerson) DETACH DELETE n")
            print(f"graph deleted: {_counts(server)[0]} nodes left", flush=True)
            rc = _run([_python(), "scripts/restore.py", *common, "--work-dir", str(work / "restore"), "--latest",
                       "--yes"], env, shown)
            if rc != 0:
                print(f"local-backup-restore: restore.py failed (exit {rc})", file=sys.stderr)
                return rc
            after = _counts(server)
            if after != before:
                print(f"local-backup-restore: restored {after[0]} nodes, {after[1]} relationships; expected "
                      f"{before[0]}, {before[1]}", file=sys.stderr)
                return 1
            print(f"restored: {after[0]} nodes, {after[1]} relationships, as before the backup", flush=True)
            return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)
        print(f"local-backup-restore: S3 emulator stopped, {work} removed; the server still runs "
              f"(make local-stop)", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="local_tour", description=__doc__.split("\n\n")[0])
    p.add_argument("step", choices=("check", "backup-restore"))
    args, extra = p.parse_known_args(argv)
    try:
        return check(extra) if args.step == "check" else backup_restore(extra)
    except TourError as error:
        print(f"local-{args.step}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
