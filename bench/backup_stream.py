#!/usr/bin/env python3
"""Benchmark of the community backup path: a generated store of at least 1 GB (default), dumped by
`neo4j-admin database dump --to-stdout` and streamed by scripts/backup.py into moto's S3 on 127.0.0.1.

Prints, with no timed assertions:
  * backup.py end to end (server stopped, dump streamed to S3, server started): time, throughput
    (dump bytes / streaming seconds) and peak memory of the backup process (and, apart, of the
    neo4j-admin JVMs it ran);
  * restore.py end to end (--latest --yes --no-safety-dump: download, verify, stop, load, start, count)
    beside the backup's time, its download throughput, and the peak memory of the restore process;
  * the upload alone, same dump file, same endpoint: backup.py's uploader (scripts/neo4j_ops/backup/s3.py)
    and `aws s3 cp` (awscli; installed with apt-get when missing and run as root, which is said);
  * the download alone, same object: the restore's verified download and `aws s3 cp` the other way;
  * several databases: backup.py --database '*' (Community: system and neo4j, one stop) beside the sum of
    two single runs (--database neo4j, --database system); three standard databases need Enterprise;
  * restore from the command to the database online (restore --until needs an Enterprise chain: not here).
Targets: peak memory of the backup and restore processes under 200 MiB whatever the store size; upload
and download throughput at least that of `aws s3 cp`.

Needs java 17/21 and Maven (Neo4j from Maven Central, as the tests), a few GB in --work-dir.

Example:
  .venv/bin/python bench/backup_stream.py               # ~1.1 GB store
  .venv/bin/python bench/backup_stream.py --store-gb 3 --keep
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.backup.support import PASSWORD, ControlledServer, write_neo4j_commands
from tests.support.moto_aws import moto_server
from tests.support.neo4j_dist import run_neo4j_admin
from tests.support.neo4j_local import prepare

MiB = 1024 * 1024
# Per node: two random 150-byte payloads (200 base64 characters each: dynamic string records) and
# one relationship. About 600 bytes of store per node.
STORE_BYTES_PER_NODE = 600
ROUNDS = 3
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}


def say(text: str) -> None:
    print(f"bench: {text}", flush=True)


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def generate_csv(directory: Path, nodes: int) -> tuple[Path, Path]:
    node_file, rel_file = directory / "nodes.csv", directory / "relationships.csv"
    with open(node_file, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id:ID", "a", "b", ":LABEL"])
        for i in range(nodes):
            block = base64.b64encode(os.urandom(300)).decode()
            writer.writerow([i, block[:200], block[200:], "Item"])
    with open(rel_file, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([":START_ID", ":END_ID", ":TYPE"])
        for i in range(nodes - 1):
            writer.writerow([i, i + 1, "NEXT"])
    return node_file, rel_file


def build_store(home: Path, store_gb: float, scratch: Path) -> tuple[int, int]:
    nodes = int(store_gb * 1024 ** 3 / STORE_BYTES_PER_NODE)
    say(f"generating {nodes:,} nodes and {nodes - 1:,} relationships as CSV")
    t0 = time.monotonic()
    node_file, rel_file = generate_csv(scratch, nodes)
    say(f"CSV ready ({(tree_size(scratch)) / 1024 ** 3:.2f} GiB, {time.monotonic() - t0:.0f}s); neo4j-admin import")
    t0 = time.monotonic()
    run_neo4j_admin(["database", "import", "full", f"--nodes={node_file}", f"--relationships={rel_file}",
                     "--overwrite-destination=true", "neo4j"], home, timeout=3600, check=True)
    node_file.unlink()
    rel_file.unlink()
    store = tree_size(home / "data" / "databases" / "neo4j") + tree_size(home / "data" / "transactions" / "neo4j")
    say(f"store of {store / 1024 ** 3:.2f} GiB imported in {time.monotonic() - t0:.0f}s")
    return nodes, store


def awscli() -> tuple[str | None, str]:
    found = shutil.which("aws")
    if found:
        return found, "found on PATH"
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say("awscli is missing: installing the Debian package awscli with apt-get (running as root)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], env=env, check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "awscli"], env=env,
                       check=False, capture_output=True)
        found = shutil.which("aws")
        return found, "installed with apt-get install awscli" if found else "apt-get install awscli failed"
    return None, "not installed, and not root: install awscli to compare"


UPLOADER = """
import json, sys, time
sys.path.insert(0, {root!r})
from scripts.neo4j_ops.backup.make_backup import peak_rss
from scripts.neo4j_ops.backup.s3 import client, stream_upload
s3 = client({endpoint!r}, "us-east-1")
t0 = time.monotonic()
with open({path!r}, "rb") as source:
    up = stream_upload(s3, {bucket!r}, "uploader/neo4j.dump", source, log=lambda _: None)
print(json.dumps({{"seconds": time.monotonic() - t0, "size": up.size,
                  "peak_rss": peak_rss()}}))
"""


DOWNLOADER = """
import hashlib, json, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from scripts.neo4j_ops.backup.layout import FileEntry
from scripts.neo4j_ops.backup.make_backup import peak_rss
from scripts.neo4j_ops.backup.s3 import client, download_verified
s3 = client({endpoint!r}, "us-east-1")
entry = FileEntry("neo4j.dump", {size!r}, {sha256!r})
seconds = download_verified(s3, {bucket!r}, {key!r}, Path({target!r}), entry, log=lambda _: None)
print(json.dumps({{"seconds": seconds, "size": entry.size, "peak_rss": peak_rss()}}))
"""

# restore.py as its own process, reporting its own peak memory (not neo4j-admin's JVMs) on the last line.
RESTORER = """
import runpy, sys
sys.argv = {argv!r}
try:
    runpy.run_path({script!r}, run_name="__main__")
finally:
    sys.path.insert(0, {root!r})
    from scripts.neo4j_ops.backup.make_backup import peak_rss
    print("PEAK_RSS", peak_rss(), file=sys.stderr)
"""


def children_cpu() -> float:
    import resource

    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed_process(command: list[str], env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run, returning (wall seconds, CPU seconds of the process and its waited-for children, result). On a loaded
    machine the CPU seconds per GiB say more than the wall time: both clients share the CPUs with moto."""
    t0, cpu0 = time.monotonic(), children_cpu()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    return time.monotonic() - t0, children_cpu() - cpu0, result


def aws_version(aws: str) -> str:
    found = subprocess.run([aws, "--version"], capture_output=True, text=True)
    return (found.stdout or found.stderr).strip() or f"exit {found.returncode}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store-gb", type=float, default=1.1, help="store size to generate, GiB (default 1.1)")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--keep", action="store_true", help="keep the generated Neo4j home")
    args = parser.parse_args()

    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    work = Path(tempfile.mkdtemp(prefix="neo4j-backup-bench-", dir=args.work_dir))
    moto = contextlib.ExitStack()
    endpoint = moto.enter_context(moto_server())
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                      aws_secret_access_key="bench")
    s3.create_bucket(Bucket="bench")
    server = None
    try:
        local = prepare(work / "home", password=PASSWORD, heap="512m", page_cache="256m")
        home = local.home
        (work / "csv").mkdir()
        nodes, store = build_store(home, args.store_gb, work / "csv")
        commands = write_neo4j_commands(work)
        server = ControlledServer(local)
        server.ensure_running()
        say(f"Neo4j up on {server.uri}: {server.counts()[0]:,} nodes")

        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NEO4J_"))}
        env.update(CREDENTIALS, NEO4J_PASSWORD=PASSWORD, AWS_EC2_METADATA_DISABLED="true")
        # The staging directory is the bench's own: the default (/var/lib/neo4j/...) exists only on a server.
        (work / "staging").mkdir()
        backup = [sys.executable, str(ROOT / "scripts" / "backup.py"), "--bucket", "bench", "--stack", "bench",
                  "--endpoint-url", endpoint, "--region", "us-east-1", "--neo4j-home", str(home),
                  "--neo4j-admin", str(commands["admin"]), "--uri", server.uri, "--offline-ok", "--json",
                  "--staging-dir", str(work / "staging"),
                  "--stop-command", server.command("stop"), "--start-command", server.command("start")]
        say("backup.py: stop, dump --to-stdout streamed to S3, start")
        wall, _, result = timed_process(backup, env)
        if result.returncode != 0:
            say(f"backup.py failed:\n{result.stderr[-3000:]}")
            return 1
        made = json.loads(result.stdout)
        dump_size, seconds, streaming = made["size"], made["seconds"], made["upload_seconds"]

        restore = [str(ROOT / "scripts" / "restore.py"), "--bucket", "bench", "--stack", "bench",
                   "--endpoint-url", endpoint, "--region", "us-east-1", "--neo4j-home", str(home),
                   "--neo4j-admin", str(commands["admin"]), "--uri", server.uri, "--json", "--latest", "--yes",
                   "--no-safety-dump", "--work-dir", str(work / "restore"),
                   "--stop-command", server.command("stop"), "--start-command", server.command("start")]
        (work / "restore").mkdir()
        say("restore.py: download and verify, stop, load, start, count")
        restore_wall, _, restored = timed_process([sys.executable, "-c", RESTORER.format(
            argv=restore, script=restore[0], root=str(ROOT))], env)
        if restored.returncode != 0:
            say(f"restore.py failed:\n{restored.stderr[-3000:]}")
            return 1
        restore_report = json.loads(restored.stdout)
        restore_peak = int(restored.stderr.rsplit("PEAK_RSS", 1)[1].split()[0])

        # Several databases in one run. Community hosts one standard database besides system, so the bench can
        # compare '*' (system and neo4j, dumped within one stop of the server) with two single runs; three standard
        # databases need Enterprise, which this bench does not run.
        say("backup.py --database system, then --database '*' (system and neo4j in one run)")
        multi: dict[str, float | str] = {"neo4j": wall}
        for database in ("system", "*"):
            run_wall, _, ran = timed_process(backup + ["--database", database], env)
            multi[database] = run_wall if ran.returncode == 0 else f"failed (exit {ran.returncode}): " \
                                                                  f"{ran.stderr.strip().splitlines()[-1:]}"

        dump_file = work / "neo4j.dump"
        key = made["prefix"].split("/", 3)[3] + "neo4j.dump"
        s3.download_file("bench", key, str(dump_file))
        import hashlib

        with open(dump_file, "rb") as opened:
            dump_sha = hashlib.file_digest(opened, "sha256").hexdigest()

        server.close()  # the comparison below runs on a quiet machine: no Neo4j in the background
        server = None
        aws, how = awscli()
        if aws:
            how = f"{Path(aws).resolve()}, {aws_version(aws)}; {how}"
            say(f"aws: {how}")
        uploader_cpu, aws_cpu, downloader_cpu, aws_download_cpu = [], [], [], []
        say(f"upload alone, same file, same endpoint, {ROUNDS} alternating rounds: backup.py's uploader"
            + (f" and aws s3 cp ({how})" if aws else ""))
        uploader, aws_runs = [], []
        for _ in range(ROUNDS):
            seconds_, cpu, up = timed_process([sys.executable, "-c", UPLOADER.format(
                root=str(ROOT), endpoint=endpoint, path=str(dump_file), bucket="bench")], env)
            if up.returncode == 0:
                uploader.append(json.loads(up.stdout))
                uploader_cpu.append(cpu)
            else:
                say(f"uploader failed: {up.stderr[-2000:]}")
            s3.delete_object(Bucket="bench", Key="uploader/neo4j.dump")
            if aws:
                aws_seconds, cpu, copied = timed_process(
                    [aws, "s3", "cp", "--only-show-errors", "--endpoint-url", endpoint, str(dump_file),
                     "s3://bench/awscli/neo4j.dump"], env)
                if copied.returncode == 0:
                    aws_runs.append(aws_seconds)
                    aws_cpu.append(cpu)
                else:
                    say(f"aws s3 cp failed: {copied.stderr[-2000:]}")
                s3.delete_object(Bucket="bench", Key="awscli/neo4j.dump")

        say(f"download alone, same object, {ROUNDS} alternating rounds: the restore's verified download"
            + (" and aws s3 cp" if aws else ""))
        downloader, aws_downloads = [], []
        target = work / "downloaded.dump"
        for _ in range(ROUNDS):
            _, cpu, down = timed_process([sys.executable, "-c", DOWNLOADER.format(
                root=str(ROOT), endpoint=endpoint, size=dump_size, sha256=dump_sha, bucket="bench", key=key,
                target=str(target))], env)
            if down.returncode == 0:
                downloader.append(json.loads(down.stdout))
                downloader_cpu.append(cpu)
            else:
                say(f"download failed: {down.stderr[-2000:]}")
            target.unlink(missing_ok=True)
            if aws:
                aws_seconds, cpu, got = timed_process(
                    [aws, "s3", "cp", "--only-show-errors", "--endpoint-url", endpoint, f"s3://bench/{key}",
                     str(target)], env)
                if got.returncode == 0:
                    aws_downloads.append(aws_seconds)
                    aws_download_cpu.append(cpu)
                else:
                    say(f"aws s3 cp (download) failed: {got.stderr[-2000:]}")
                target.unlink(missing_ok=True)

        mib = lambda b: b / MiB  # noqa: E731
        # CPU seconds per GiB of the whole client process (start-up included, as aws s3 cp's), median of the rounds
        per_gib = lambda cpus: f"{sorted(cpus)[len(cpus) // 2] / (dump_size / 1024 ** 3):.2f} CPU s/GiB"  # noqa: E731
        print()
        print(f"store: {store / 1024 ** 3:.2f} GiB ({nodes:,} nodes, {nodes - 1:,} relationships); "
              f"dump: {mib(dump_size):.0f} MiB")
        print(f"backup.py end to end: {wall:.1f}s wall; {seconds:.1f}s from stopping Neo4j to having it back; "
              f"dump streamed to S3 in {streaming:.1f}s (incl. neo4j-admin's start) = "
              f"{mib(dump_size) / streaming:.1f} MiB/s")
        print(f"  peak memory: backup process {mib(made['peak_rss_bytes']):.0f} MiB (target < 200 MiB); "
              f"neo4j-admin JVMs {mib(made['children_peak_rss_bytes']):.0f} MiB (separate processes)")
        if uploader:
            best = min(uploader, key=lambda run: run["seconds"])
            rates = ", ".join(f"{mib(run['size']) / run['seconds']:.0f}" for run in uploader)
            print(f"upload only, backup.py's uploader: best {mib(best['size']) / best['seconds']:.1f} MiB/s "
                  f"(runs: {rates} MiB/s), peak memory {mib(max(run['peak_rss'] for run in uploader)):.0f} MiB, "
                  f"{per_gib(uploader_cpu)}")
        if aws_runs:
            rates = ", ".join(f"{mib(dump_size) / run:.0f}" for run in aws_runs)
            print(f"upload only, aws s3 cp ({how}): best {mib(dump_size) / min(aws_runs):.1f} MiB/s "
                  f"(runs: {rates} MiB/s; wall time includes its start-up), {per_gib(aws_cpu)}")
        else:
            print(f"aws s3 cp: {how}")
        print(f"restore.py end to end: {restore_wall:.1f}s wall ({restore_report['seconds']:.1f}s in restore.py; "
              f"backup: {seconds:.1f}s); its download {restore_report['download_seconds']:.1f}s = "
              f"{mib(dump_size) / max(restore_report['download_seconds'], 1e-6):.1f} MiB/s; peak memory of the "
              f"restore process {mib(restore_peak):.0f} MiB (target < 200 MiB)")
        if all(isinstance(value, float) for value in multi.values()):
            print(f"backup.py --database '*' (system and neo4j, one stop): {multi['*']:.1f}s wall, beside "
                  f"{multi['neo4j'] + multi['system']:.1f}s for two single runs (neo4j {multi['neo4j']:.1f}s + "
                  f"system {multi['system']:.1f}s); three standard databases need Enterprise")
        else:
            print(f"backup.py several databases: {multi}")
        print(f"restore to the latest backup, from the command to the database online (restore.py exits once it "
              f"has counted the restored database): {restore_wall:.1f}s; "
              f"restore --until (a point in time) needs an Enterprise differential chain: Community dumps refuse it, "
              f"not measured here")
        if downloader:
            best = min(downloader, key=lambda run: run["seconds"])
            rates = ", ".join(f"{mib(run['size']) / run['seconds']:.0f}" for run in downloader)
            print(f"download only, the restore's verified download: best {mib(best['size']) / best['seconds']:.1f} "
                  f"MiB/s (runs: {rates} MiB/s), peak memory {mib(max(r['peak_rss'] for r in downloader)):.0f} MiB, "
                  f"{per_gib(downloader_cpu)}")
        if aws_downloads:
            rates = ", ".join(f"{mib(dump_size) / run:.0f}" for run in aws_downloads)
            print(f"download only, aws s3 cp: best {mib(dump_size) / min(aws_downloads):.1f} MiB/s "
                  f"(runs: {rates} MiB/s), {per_gib(aws_download_cpu)}")
        return 0
    finally:
        if server is not None:
            server.close()
        moto.close()
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
