"""backup.py --database '*' (or several names): the whole DBMS in one run, one chain per database, one run manifest.

  1. the databases, read from the server at run time (SHOW DATABASES on `system`: every standard database, and
     `system`), never from the stack's configuration: a database created yesterday is in tonight's run;
  2. each one's backup, the per-database procedure of make_backup.py (its own prefix, chain, check and manifest).
     Enterprise: one online backup after another. Community: every database's dump within ONE stop of the server,
     then one start, then each dump's check and manifest while the server runs again;
  3. the composite databases and the aliases (SHOW ALIASES FOR DATABASE YIELD *, Enterprise), which are not
     databases and have no backup of their own, recorded as definitions;
  4. the run manifest, s3://<bucket>/<stack>/runs/<timestamp>.json (run_manifest.py), written last.

A database whose backup fails does not stop the others: the run manifest says which failed and why, and the run
exits 1 naming them.
"""
from __future__ import annotations

import dataclasses
import socket

from ..bolt import BoltError
from ..facts import ServerFacts
from ..queries import Named
from ..shared.errors import BackupError, InterruptedRunError, UsageError, describe
from .backup_run import BackupOptions, BackupRun
from .dump import DumpSteps, dump_steps
from .layout import backup_prefix
from .layout import timestamp as make_timestamp
from .make_backup import ask_facts, backup_source, conclude, prepare
from .online import online
from .run_manifest import Alias, RunDatabase, RunManifest, alias_of, composites_of, run_key, select_databases
from .s3 import check_bucket, client

SHOW_ALIASES_ALL = Named("show_aliases_all", "SHOW ALIASES FOR DATABASE YIELD *", "system")  # Enterprise
_STOP = (KeyboardInterrupt, InterruptedRunError)  # end the whole run (after the server is started again)


def run_dbms_backup(opts: BackupOptions, wanted: list[str]) -> dict:
    log = opts.log
    s3 = client(opts.endpoint_url, opts.region, opts.concurrency)
    check_bucket(s3, opts.bucket)
    started = opts.now()
    stamp = make_timestamp(started)
    facts = ask_facts(opts, None)
    names, missing = select_databases(facts.databases, wanted)
    if not names and not missing:
        raise UsageError(f"--database {','.join(wanted)} matches no database the server lists "
                         f"({', '.join(sorted({str(r.get('name')) for r in facts.databases})) or 'none'})")
    log(f"backing up {len(names)} database(s) read from the server: {', '.join(names)}")
    outcome: dict[str, RunDatabase] = {name: RunDatabase(name, "failed", None, error=f"not listed by the server "
                                                         f"at {opts.neo4j.uri}") for name in missing}
    aliases, aliases_read = _aliases(opts, facts)
    method = opts.method if opts.method != "auto" else ("online" if facts.enterprise else "dump")
    if method == "dump":
        outcome.update(_dumps(opts, facts, names))
    else:
        for name in names:
            outcome[name] = _online_one(dataclasses.replace(opts, database=name))
    manifest = RunManifest(
        stack=opts.stack, timestamp=stamp, started=started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        completed=opts.now().strftime("%Y-%m-%dT%H:%M:%SZ"), host=socket.gethostname(),
        neo4j_version=opts.version or facts.version or "unknown", edition=facts.edition or "unknown",
        databases=tuple(outcome[name] for name in [*names, *missing]),
        composites=tuple(composites_of(facts.databases)), aliases=tuple(aliases), aliases_read=aliases_read)
    key = run_key(opts.stack, stamp)
    from botocore.exceptions import BotoCoreError, ClientError
    try:
        s3.put_object(Bucket=opts.bucket, Key=key, Body=manifest.to_json().encode(), ContentType="application/json")
    except (ClientError, BotoCoreError) as error:
        raise BackupError(f"writing the run manifest s3://{opts.bucket}/{key} failed: {describe(error)}") from None
    failed = manifest.failed
    log(f"run {stamp}: {len(names) + len(missing) - len(failed)} of {len(names) + len(missing)} database(s) backed "
        f"up; run manifest s3://{opts.bucket}/{key} written last"
        + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return {"run": stamp, "run_manifest": f"s3://{opts.bucket}/{key}",
            "databases": [dataclasses.asdict(db) for db in manifest.databases],
            "composites": [c.name for c in manifest.composites], "aliases": [a.name for a in manifest.aliases],
            "failed": failed}


def describe_run(result: dict) -> str:
    lines = [f"backup run {result['run']}: {result['run_manifest']}"]
    for db in result["databases"]:
        detail = (f"{db['prefix']} ({db['backup_type']}, check {db['check']})" if db["status"] == "complete"
                  else db["error"])
        lines.append(f"  {db['name']:<24}{db['status']:<10}{detail}")
    if result["composites"] or result["aliases"]:
        lines.append(f"  recorded: composite databases {', '.join(result['composites']) or 'none'}; aliases "
                     f"{', '.join(result['aliases']) or 'none'}")
    if result["failed"]:
        lines.append(f"FAILED: the backup of {', '.join(result['failed'])} failed (see above)")
    return "\n".join(lines)


def _complete(run: BackupRun, result: dict) -> RunDatabase:
    return RunDatabase(run.opts.database, "complete", backup_prefix(run.opts.stack, run.opts.database, run.stamp),
                       result.get("type"), result.get("check"))


def _failed(opts: BackupOptions, error: BaseException, run: BackupRun | None = None) -> RunDatabase:
    opts.log(f"the backup of {opts.database!r} failed: {describe(error)}")
    prefix = backup_prefix(opts.stack, opts.database, run.stamp) if run is not None else None
    return RunDatabase(opts.database, "failed", prefix, error=describe(error))


def _online_one(opts: BackupOptions) -> RunDatabase:
    run = None
    try:
        run, _ = prepare(opts)
        opts.source = backup_source(opts, run.facts, run.line)
        result = online(run)
        result["source"] = opts.source
        return _complete(run, conclude(run, result))
    except _STOP:
        raise
    except Exception as error:  # noqa: BLE001 - one database's failure does not stop the others
        return _failed(opts, error, run)


def _dumps(opts: BackupOptions, facts: ServerFacts, names: list[str]) -> dict[str, RunDatabase]:
    """Community: counts and checks of every database while the server runs, every dump within ONE stop."""
    outcome: dict[str, RunDatabase] = {}
    ready: list[tuple[BackupRun, DumpSteps]] = []
    for name in names:
        each = dataclasses.replace(opts, database=name)
        run = None
        try:
            run, _ = prepare(each, dataclasses.replace(facts, counts=opts.neo4j.counts(name)))
            ready.append((run, dump_steps(run)))
        except _STOP:
            raise
        except Exception as error:  # noqa: BLE001
            outcome[name] = _failed(each, error, run)
    if not ready:
        return outcome
    control = opts.control
    if control is None:  # dump_steps refused it already; kept for type checkers
        raise UsageError("a dump needs --stop-command and --start-command")
    log = opts.log
    log(f"stopping Neo4j once for the dumps of {', '.join(run.opts.database for run, _ in ready)}")
    control.stop()
    uploaded: dict[str, object] = {}
    stopped_by: BaseException | None = None
    for run, steps in ready:
        try:
            uploaded[run.opts.database] = steps.work()
        except _STOP as error:
            stopped_by = error
            break
        except Exception as error:  # noqa: BLE001
            outcome[run.opts.database] = _failed(run.opts, error, run)
    first = next((run.opts.database for run, _ in ready if run.opts.database != "system"), ready[0][0].opts.database)
    try:
        after = {first: control.start(first)}
        for run, _ in ready:
            name = run.opts.database
            if name not in after:
                after[name] = opts.neo4j.wait_for_database(name, control.timeout, log)
    except BaseException as error:
        raise BackupError(f"Neo4j did not come back after the dumps: {describe(error)}; start it by hand: "
                          f"{' '.join(control.start_command)}") from None
    if stopped_by is not None:
        raise stopped_by
    log(f"Neo4j is back: {', '.join(f'{name}: {counts}' for name, counts in after.items())}")
    for run, steps in ready:
        name = run.opts.database
        if name not in uploaded:
            continue
        try:
            outcome[name] = _complete(run, conclude(run, steps.complete(uploaded[name], after[name])))
        except _STOP:
            raise
        except Exception as error:  # noqa: BLE001
            outcome[name] = _failed(run.opts, error, run)
    return outcome


def _aliases(opts: BackupOptions, facts: ServerFacts) -> tuple[list[Alias], bool]:
    """The aliases' definitions (Enterprise; Community has no SHOW ALIASES): (aliases, whether they were read)."""
    if not facts.enterprise:
        return [], False
    try:
        rows = opts.neo4j.query(SHOW_ALIASES_ALL.name, SHOW_ALIASES_ALL.cypher, SHOW_ALIASES_ALL.database)
    except BoltError as error:
        opts.log(f"warning: SHOW ALIASES FOR DATABASE was refused ({error.message}): the run manifest records no "
                 f"aliases")
        return [], False
    return sorted((alias_of(row) for row in rows if row.get("name")), key=lambda a: a.name), True

