"""Restores: pick a complete backup, download and verify it, then load it into production or, for the
restore drill, into a throw-away server on a free loopback port.

Nothing touches the production server before every file of the chosen backup (and of the chain it
builds on) is downloaded and matches the manifest's size and sha256.
"""
from __future__ import annotations

import secrets
import shutil
import socket
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..bolt import Auth
from ..facts import Counts
from ..shared.errors import BackupError, UsageError
from ..shared.versions import VersionLine, dump_file_name, line_of
from .admin import fresh_dir, own, write_new
from .freshness import drill_record, put_drill_record
from .layout import Backup, Manifest, choose, object_key, timestamp
from .options import Job
from .point_in_time import Until, choose_until
from .s3 import check_bucket, client, download_verified, human, list_backups
from .scratch import ScratchServer, scratch_conf, scratch_ports, scratch_ports_needed
from .server import LocalNeo4j


@dataclass
class RestoreOptions(Job):
    at: str | None = None  # None: the newest complete backup
    until: Until | None = None  # --until: the chain that reaches it, restored with --restore-until (5.x+)
    work_dir: Path = Path("/var/lib/neo4j/data/backup-staging")
    safety_dump: bool = True
    edition: str | None = None  # of the local Neo4j (default: asked over Bolt, else the backup's; so is version)
    scratch_command: list[str] | None = None
    scratch_heap: str = "512m"
    scratch_page_cache: str = "256m"
    keep_scratch: bool = False
    start_timeout: float = 300


def catalogue(opts: RestoreOptions) -> list[Backup]:
    s3 = client(opts.endpoint_url, opts.region)
    check_bucket(s3, opts.bucket)
    return list_backups(s3, opts.bucket, opts.stack, opts.database)


def _pick(opts: RestoreOptions, s3) -> Backup:
    backups = list_backups(s3, opts.bucket, opts.stack, opts.database)
    try:
        chosen, why = choose_until(backups, opts.until) if opts.until else choose(backups, opts.at)
    except LookupError as error:
        raise BackupError(f"nothing to restore from s3://{opts.bucket}/{opts.stack}/{opts.database}/: {error}") \
            from None
    except ValueError as error:
        raise UsageError(f"{error}" if opts.until else f"--at: {error}") from None
    m = chosen.manifest
    chain = f" on a chain of {len(m.parents)} earlier backup(s), each complete and not failed" if m.parents else ""
    opts.log(f"restoring backup {chosen.timestamp} ({why}): {m.backup_type}{chain}, {human(m.size)}, Neo4j "
             f"{m.neo4j_version} {m.edition}, {m.counts}; consistency check {m.check}"
             + (f" ({m.check_detail})" if m.check == "skipped" and m.check_detail else ""))
    return chosen


def download_need(m: Manifest) -> int:
    """Bytes a restore of `m` needs for its download (the tar of a 4.4 backup folder is also unpacked)."""
    need = sum(f.size for p in m.parents for f in p.files) + m.size
    return int(need * (2.2 if m.is_folder_archive else 1.05))


def check_room(where: Path, needs: list[tuple[str, int]]) -> None:
    """UsageError, naming the path and every need, unless `where`'s filesystem has room for all of them."""
    probe = where
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError as error:
        raise UsageError(f"cannot tell the free space of {where} ({error.strerror or error}); nothing was stopped or "
                         f"changed: pass a --work-dir this user can read") from None
    total = sum(size for _, size in needs)
    if free < total:
        parts = " + ".join(f"{what} {human(size)}" for what, size in needs)
        raise UsageError(f"{where} has {human(free)} free; this needs {human(total)} ({parts}). Nothing was "
                         f"stopped or changed: free space there or choose another --work-dir")


def _fetch(opts: RestoreOptions, s3, backup: Backup, into: Path, *, checked: bool = False) -> None:
    """Download every file the backup needs (its chain's first) into `into`, each verified."""
    m = backup.manifest
    wanted = [(p.timestamp, f) for p in m.parents for f in p.files] + [(m.timestamp, f) for f in m.files]
    into.mkdir(parents=True, exist_ok=True)
    if not checked:
        check_room(into, [("download", download_need(m))])
    for stamp, entry in wanted:
        key = object_key(m.stack, m.database, stamp, entry.name)
        seconds = download_verified(s3, opts.bucket, key, into / entry.name, entry, log=opts.log)
        opts.log(f"verified {entry.name} from backup {stamp}: {human(entry.size)}, sha256 {entry.sha256[:16]}… "
                 f"({seconds:.1f}s)")


def _source_dir(m: Manifest, files: Path) -> Path:
    """The directory to hand to neo4j-admin load/restore."""
    if m.backup_type == "dump":
        wanted = files / dump_file_name(m.database)
        if not wanted.exists():
            (files / m.files[0].name).rename(wanted)
        return files
    if m.is_folder_archive:
        target = files / "unpacked"
        with tarfile.open(files / m.files[0].name) as archive:
            archive.extractall(target, filter="data")
        return target
    return files


def _apply_args(line: VersionLine, m: Manifest, source: Path, until: Until | None = None) -> list[str]:
    if m.backup_type == "dump":
        return line.admin_load(m.database, source)
    return line.admin_restore(m.database, source, until.text if until else None)


def _check_counts(opts: RestoreOptions, m: Manifest, found: Counts) -> None:
    """The manifest's counts are the backup's: a restore --until holds what was committed before that point."""
    if opts.until is None:
        verify_counts(m, found, opts.log)
    else:
        opts.log(f"counts not compared with the manifest: restored until {opts.until}, the database holds {found}")


def verify_counts(m: Manifest, found: Counts, log: Callable[[str], None]) -> None:
    if found == m.counts:
        log(f"counts match the manifest: {found}")
        return
    if m.counts_exact:
        raise BackupError(f"the restored database holds {found}, the manifest of backup {m.timestamp} says "
                          f"{m.counts}: the restore is not the backup")
    log(f"counts differ from the manifest ({found} restored, {m.counts} recorded), which recorded them as "
        f"inexact (writes went on during the online backup): accepted")


def _prepare(opts: RestoreOptions, purpose: str, *, refuse_cluster: bool):
    """What a restore and a drill both start with: the bucket, the chosen backup, the local Neo4j's
    version line, and a clean working directory named after them."""
    s3 = client(opts.endpoint_url, opts.region)
    check_bucket(s3, opts.bucket)
    chosen = _pick(opts, s3)
    version, edition = _local_neo4j(opts, chosen.manifest, refuse_cluster=refuse_cluster)
    directory = opts.work_dir / f"neo4j-{purpose}-{opts.database}-{chosen.timestamp}"
    if purpose == "drill" and (directory.is_symlink() or directory.is_file()):
        directory.unlink()  # a link planted at the next drill's name goes, its target untouched
    elif purpose == "drill" and directory.exists():
        shutil.rmtree(directory)  # a scratch server's files only: a restore's safety dumps live elsewhere
    if purpose == "drill":  # made anew, root's, until everything root writes in it is there (drill)
        fresh_dir(directory, None, under=opts.work_dir)
    try:
        line = line_of(version)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if opts.until is not None and not line.restores_until:
        raise UsageError(f"--until: the local Neo4j is {version}, whose neo4j-admin restore has no --restore-until "
                         f"(5.0 and later); nothing was stopped: restore a backup before that time with --at instead")
    return s3, chosen, version, edition, line, directory


def safety_dump_dir(opts: RestoreOptions) -> Path:
    """A new directory for this run's safety dump: one per run, never reused and never deleted by this tool."""
    stamp = timestamp()
    base = opts.work_dir / f"neo4j-safety-{opts.database}-{stamp}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def restore(opts: RestoreOptions) -> dict:
    """Restore into the production server: stop, (safety dump), load/restore, start, verify counts."""
    if opts.control is None:
        raise UsageError("a restore needs --stop-command and --start-command")
    s3, chosen, version, edition, line, work = _prepare(opts, "restore", refuse_cluster=True)
    safety = safety_dump_dir(opts) if opts.safety_dump else None
    try:
        return _replace(opts, s3, chosen, edition, line, work, safety)
    finally:
        # Success or failure, nothing stays in the work directory but a safety dump that holds one.
        shutil.rmtree(work, ignore_errors=True)
        if safety is not None and safety.is_dir() and not any(safety.iterdir()):
            safety.rmdir()


def _replace(opts: RestoreOptions, s3, chosen: Backup, edition: str, line: VersionLine, work: Path,
             safety: Path | None) -> dict:
    m = chosen.manifest
    files = work / "download"
    if files.exists():
        shutil.rmtree(files)  # an earlier run's download only; its verification is redone
    needs = [("download", download_need(m))]
    if safety is not None:
        estimate = _current_store_size(opts)
        needs.append(("safety dump of the current database (at most its store and written logs)", estimate))
    check_room(opts.work_dir, needs)  # room for everything, before anything is downloaded or stopped
    t0 = time.monotonic()
    _fetch(opts, s3, chosen, files, checked=True)  # before touching the server
    source = _source_dir(m, files)
    downloaded = time.monotonic() - t0
    if safety is not None:
        safety.mkdir(parents=True)
    own(work, opts.owner)
    if safety is not None:
        own(safety, opts.owner)
    control = opts.control
    control.stop()
    failure: BaseException | None = None
    try:
        if safety is not None:
            opts.log(f"saving the current database to {safety} first (--no-safety-dump skips this)")
            try:
                opts.admin.run(line.admin_dump_to_path(opts.database, safety), log=opts.log)
            except BackupError as error:
                _remove_contents(safety)  # a partial dump is no safety
                free = shutil.disk_usage(safety).free
                if free < needs[-1][1] or "No space left" in str(error):
                    raise BackupError(f"saving the current database to {safety} failed, so nothing was "
                                      f"replaced: the disk is full there ({human(free)} free); the partial "
                                      f"dump was removed. Free space or choose another --work-dir:\n{error}") \
                        from None
                raise BackupError(f"saving the current database to {safety} failed, so nothing was replaced: "
                                  f"{error}\nIf that database is damaged or missing, run again with "
                                  f"--no-safety-dump") from None
        try:
            opts.admin.run(_apply_args(line, m, source, opts.until), log=opts.log)
        except BaseException as error:
            if safety is None:
                raise BackupError(f"{error}\nthe database may be half-written: restore again, or load a dump") \
                    from None
            opts.log("the restore failed: putting the saved database back")
            try:
                opts.admin.run(line.admin_load(opts.database, safety), log=opts.log)
            except BaseException as back:
                raise BackupError(f"{error}\nputting the saved database back failed too: {back}; it is in "
                                  f"{safety}") from None
            raise BackupError(f"{error}\nthe database was put back as it was before the restore (the saved "
                              f"copy stays in {safety})") from None
    except BaseException as error:
        failure = error
    try:
        found = control.start(opts.database)
    except UsageError as error:  # it answers, but refuses the login that worked before the stop
        prefix = f"{failure}\nand then " if failure else ""
        why = (f": the restored `system` holds the users and passwords of backup {chosen.timestamp}; log in with "
               f"the password the user had then" if opts.database == "system" and failure is None else "")
        raise BackupError(f"{prefix}Neo4j is running again but {error}{why}") from None
    except BaseException as error:
        prefix = f"{failure}\nand then " if failure else ""
        raise BackupError(f"{prefix}Neo4j did not come back: {error}; start it by hand: "
                          f"{' '.join(control.start_command)}") from None
    if failure is not None:
        raise failure
    _check_counts(opts, m, found)
    shutil.rmtree(files, ignore_errors=True)
    seconds = time.monotonic() - t0
    opts.log(f"restored backup {chosen.timestamp} into {opts.database!r} in {seconds:.1f}s"
             + (f"; the database as it was before is kept in {safety} (delete it when satisfied)" if safety else ""))
    return {"restored": chosen.timestamp, "type": m.backup_type, "size": m.size, "counts": found.__dict__,
            "manifest_counts": m.counts.__dict__, "seconds": round(seconds, 3),
            "download_seconds": round(downloaded, 3), "safety_dump": str(safety) if safety else None,
            "edition": edition, "until": opts.until.text if opts.until else None}


# Scratch ports are free when chosen, yet another process may bind one before the server does: a server that
# stops for that is started again on other ports, this many times in all.
SCRATCH_STARTS = 3


def _scratch_conf_dir(opts: RestoreOptions, line: VersionLine, edition: str, scratch: Path,
                      name: str) -> tuple[Path, dict[str, int]]:
    """A new conf folder `name` below `scratch` with the scratch server's neo4j.conf on ports free now."""
    ports = scratch_ports(scratch_ports_needed(line, edition))
    conf_dir = fresh_dir(scratch / name, None, under=scratch)
    write_new(conf_dir / "neo4j.conf", scratch_conf(
        line, edition, opts.database, scratch, ports, opts.scratch_heap, opts.scratch_page_cache), under=scratch)
    return conf_dir, ports


def _start_scratch(opts: RestoreOptions, line: VersionLine, edition: str, scratch: Path, conf_dir: Path,
                   ports: dict[str, int], password: str) -> tuple[ScratchServer, Counts]:
    """Start the scratch server on the restored store and wait for the database; it is stopped again when it does
    not come up. One whose listen address was taken meanwhile starts again on other ports."""
    attempt = 1
    while True:
        neo4j = LocalNeo4j(f"bolt://127.0.0.1:{ports['bolt']}", Auth("neo4j", password))
        opts.log(f"starting the scratch server on {neo4j.uri}: {' '.join(opts.scratch_command)}")
        server = ScratchServer(opts.scratch_command, opts.admin.home, conf_dir, scratch)
        process = server.start()
        try:
            return server, neo4j.wait_for_database(opts.database, opts.start_timeout, opts.log, process)
        except BackupError as error:
            exited = process.poll() is not None  # on its own, before the database came up
            server.stop()
            if exited and server.port_taken() and attempt < SCRATCH_STARTS:
                opts.log(f"the scratch server stopped: one of its ports ({', '.join(map(str, ports.values()))}) "
                         f"was taken before it bound it; starting it again on other ports")
                attempt += 1
                conf_dir, ports = _scratch_conf_dir(opts, line, edition, scratch, f"conf-{attempt}")
                continue
            raise BackupError(f"{error}\nthe scratch server's logs:\n{server.log_tail()}") from None
        except BaseException:
            server.stop()
            raise


def drill(opts: RestoreOptions) -> dict:
    """--verify-only: restore into a throw-away server on free loopback ports, compare counts, remove it."""
    if not opts.scratch_command:
        raise UsageError("--verify-only needs --scratch-command (default: neo4j console)")
    s3, chosen, version, edition, line, scratch = _prepare(opts, "drill", refuse_cluster=False)
    m = chosen.manifest
    t0 = time.monotonic()
    server = None
    try:
        _fetch(opts, s3, chosen, scratch / "download")
        downloaded = time.monotonic() - t0
        source = _source_dir(m, scratch / "download")
        for sub in ("data", "logs", "run"):
            fresh_dir(scratch / sub, None, under=scratch)
        conf_dir, ports = _scratch_conf_dir(opts, line, edition, scratch, "conf")
        write_new(scratch / "logs" / "console.log", "", under=scratch)  # ScratchServer appends, never follows a link
        own(scratch, opts.owner)
        t1 = time.monotonic()
        opts.admin.run(_apply_args(line, m, source, opts.until), conf=conf_dir, log=opts.log)
        # Never a leading '-' (token_urlsafe's alphabet has it): neo4j-admin would read the password as an
        # option ("Missing required parameter: '<password>'", seen once in 64 drills).
        password = "d" + secrets.token_urlsafe(18)
        opts.admin.run(line.admin_set_initial_password(password), conf=conf_dir, secret=password)
        shutil.rmtree(scratch / "download", ignore_errors=True)
        loaded = time.monotonic() - t1
        t2 = time.monotonic()
        server, found = _start_scratch(opts, line, edition, scratch, conf_dir, ports, password)
        started = time.monotonic() - t2
        _check_counts(opts, m, found)
    finally:
        if server is not None:
            server.stop()
        if opts.keep_scratch:
            opts.log(f"scratch server files kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    seconds = time.monotonic() - t0
    opts.log(f"restore drill passed: backup {chosen.timestamp} restores and holds {found} ({seconds:.1f}s: "
             f"download {downloaded:.1f}s, load {loaded:.1f}s, start {started:.1f}s)")
    # The record Neo4jRestoreDrillTooOld reads (through freshness.py): the bucket says when a drill last passed.
    record = put_drill_record(s3, opts.bucket, opts.stack, opts.database, timestamp(), drill_record(
        stack=opts.stack, database=opts.database, verified=chosen.timestamp, finished=datetime.now(UTC),
        seconds=seconds, counts=found.__dict__, host=socket.gethostname()))
    opts.log(f"recorded the passed drill in s3://{opts.bucket}/{record}")
    return {"verified": chosen.timestamp, "type": m.backup_type, "size": m.size, "counts": found.__dict__,
            "seconds": round(seconds, 3), "download_seconds": round(downloaded, 3), "load_seconds": round(loaded, 3),
            "start_seconds": round(started, 3), "until": opts.until.text if opts.until else None}


def _remove_contents(directory: Path) -> None:
    for item in directory.iterdir() if directory.is_dir() else ():
        if item.is_dir() and not item.is_symlink():
            shutil.rmtree(item, ignore_errors=True)
        else:
            item.unlink(missing_ok=True)


def _current_store_size(opts: RestoreOptions) -> int:
    """What the safety dump of the current database holds at most; UsageError (nothing stopped yet) when that
    cannot be worked out: a guess of 0 would stop Neo4j and then fail on a full disk."""
    from .staging import store_dirs, store_size

    dirs = store_dirs(opts.admin, opts.database) if opts.admin is not None else None
    size = store_size(opts.admin, opts.database) if dirs is not None else None
    if size is None:
        where = f"nothing under {dirs[0]}" if dirs else "no --neo4j-home or --neo4j-conf says where the store is"
        raise UsageError(f"cannot work out the size of database {opts.database!r} for its safety dump ({where}); "
                         f"nothing was stopped: pass --neo4j-home (or --neo4j-conf) of this server, or "
                         f"--no-safety-dump if there is no database to save")
    return size


def _local_neo4j(opts: RestoreOptions, m: Manifest, refuse_cluster: bool) -> tuple[str, str]:
    """Version and edition of the local Neo4j: options, else asked over Bolt, else the backup's.

    A restore (refuse_cluster) of a server that answers but refuses the login stops here, before anything is
    stopped: the same login waits for the database after the restore, so it could only fail once Neo4j was
    stopped and the database replaced."""
    if not opts.neo4j.port_open():
        if opts.version:
            return opts.version, opts.edition or m.edition
        opts.log(f"nothing answers at {opts.neo4j.uri}; assuming the backup's Neo4j {m.neo4j_version} {m.edition} "
                 f"(--neo4j-version overrides)")
        return m.neo4j_version, opts.edition or m.edition
    try:
        facts = opts.neo4j.facts(opts.database)
    except UsageError as error:  # the login was refused
        if refuse_cluster:
            raise UsageError(f"{error}; nothing was stopped") from None
        if opts.version:
            return opts.version, opts.edition or m.edition
        opts.log(f"cannot ask Neo4j at {opts.neo4j.uri} ({error}); assuming the backup's Neo4j "
                 f"{m.neo4j_version} {m.edition} (--neo4j-version overrides)")
        return m.neo4j_version, opts.edition or m.edition
    except BackupError as error:
        if opts.version:
            return opts.version, opts.edition or m.edition
        opts.log(f"cannot ask Neo4j at {opts.neo4j.uri} ({error}); assuming the backup's Neo4j "
                 f"{m.neo4j_version} {m.edition} (--neo4j-version overrides)")
        return m.neo4j_version, opts.edition or m.edition
    if refuse_cluster and facts.members > 1:
        raise UsageError(f"this server is one of {facts.members} cluster members: restore.py replaces the database "
                         f"of a standalone server. For a cluster, add --cluster (with --uri neo4j://…; --dry-run "
                         f"shows the plan)")
    return opts.version or facts.version, opts.edition or facts.edition
