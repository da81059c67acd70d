"""restore.py --cluster: restore a cluster's database from a backup in S3, planned first, then executed.

5.x and 2025 (`VersionLine.seeds_from_uri`): the old database keeps serving until the restored copy is
online on every member it is allocated to. The plan:

  1. CREATE DATABASE `<db>-restore-<backup timestamp>` TOPOLOGY n PRIMARIES m SECONDARIES
       OPTIONS {existingData: 'use', seedURI: 's3://<bucket>/<stack>/<db>/<timestamp>/<artifact>'}
     (a differential backup: its chain is first copied into one folder, `…/seed-<timestamp>/`, as
     CloudSeedProvider looks for the chain in the folder of the differential artifact)
  2. wait until SHOW DATABASE lists it online on n + m members (fail fast on "Unable to start database")
  3. count its nodes and relationships and compare them with the backup's manifest
  4. switch clients to it:
       the name clients use is a local alias      ALTER ALIAS `<db>` SET DATABASE TARGET `<new>`: no window;
                                                   then STOP DATABASE `<old target>` (kept, not dropped), and if
                                                   it was the default database, dbms.setDefaultDatabase (below)
       the name is the default database itself    the manual's "Change the default database": STOP DATABASE
                                                   `<db>`, CALL dbms.setDefaultDatabase('<new>'): clients of
                                                   the default database wait between the two statements
                                                   (< 1 s); clients naming `<db>` must move to an alias (the
                                                   report prints how), which makes the next restore window-free
       --no-swap                                   nothing: both stay, the report says how to switch
  5. the old database is never dropped here; the report prints the DROP DATABASE for the operator.

If anything before the switch fails, only the new database is dropped (DROP DATABASE … IF EXISTS) and the
old one has served throughout; if the switch itself fails, it is undone (START DATABASE `<db>`) first.

4.4 has no seed from URI: one database keeps its name by the Operations Manual's "Restore a database on each Core
instance" (4.4 clustering/seed.adoc; cluster_plan._plan_44_keep_name): read the privileges naming it, download and
verify the backup on each core, DROP DATABASE … DUMP DATA WAIT, `neo4j-admin restore --force` on each core, CREATE
DATABASE … WAIT, online on every member, the privileges granted again, the counts; no member is stopped or unbound,
every other database serves throughout. remote.run_drop_create_44 runs it (Bolt and Session Manager steps in order);
the database is unavailable from the drop to the create, so --offline-ok. The older procedure (stop every core,
unbind, restore on each, start them; a safety dump on the first core) stays as `offline_44`.

`system` (--database system, every line) is restored offline on every server, the manual's disaster recovery
with the backup as the copy (cluster_plan.plan_system_restore): stop every server, a safety dump of system on the
first, then on each server download, `neo4j-admin dbms unbind-system-db` (4.4: `neo4j-admin unbind`) and restore
with overwrite; start every server; check that system is online everywhere and holds the manifest's users. The same
executor (remote.run_offline_44) and the same failure handling as the 4.4 procedure, with --offline-ok.

Modules: cluster_plan (pure: the state and the plan), cluster_execute (running a 5.x/2025 plan, reading the
cluster's state, rolling back), cluster_text (the plan and the outcome in words), remote (4.4's per-server steps
over Systems Manager); this one is the command's procedure: options, verifying the backup, choosing the path.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..shared.errors import BackupError, UsageError
from .cluster_execute import Log, execute, read_state, s3_copier
from .cluster_plan import (
    SHOW_PRIVILEGES_AS_COMMANDS,
    ClusterState,
    Topology,
    checks_only,
    plan_cluster_restore,
    privileges_naming,
)
from .cluster_text import describe_outcome, describe_plan
from .remote import SsmShell, run_drop_create_44, run_offline_44


@dataclass
class ClusterRestoreOptions:
    bucket: str
    stack: str
    database: str
    uri: str  # Bolt URI of the cluster (neo4j://… routes administration commands to the system leader)
    auth: Any  # bolt.Auth | None
    at: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    version: str | None = None  # default: asked over Bolt
    dry_run: bool = False
    swap: bool = True
    beside: bool = False  # 5.x+: seed `<db>-restore-<timestamp>` and switch clients (the old way), not recreate
    primaries: int | None = None
    secondaries: int | None = None
    offline_ok: bool = False
    verify_restored: bool = False  # 4.4: after the per-core steps, run the plan's checks
    orchestrate: bool = False  # 4.4: run the per-server steps over SSM (remote.py), one server at a time
    offline_44: bool = False  # 4.4: the older procedure (stop and unbind every member), not DROP/restore/CREATE
    sha_check: bool = True
    work_dir: Path = Path("/var/lib/neo4j/data/backup-staging")
    neo4j_admin: str = "neo4j-admin"
    stop_command: str = "systemctl stop neo4j"
    start_command: str = "systemctl start neo4j"
    timeout: float = 900
    poll: float = 2.0  # seconds between two SHOW DATABASE while waiting for the seed
    log: Log = print


def verify_backup(opts: ClusterRestoreOptions, s3, chosen) -> str:
    """Refuse a backup whose consistency check failed (the manifest's `check`: passed | failed | skipped; layout's
    `choose` already passes over them); verify every file's sha256 by a download (sizes were checked against the
    bucket when it was listed). A backup that was never checked (skipped, or made before backups were checked)
    is only restored after that download. Returns what was verified, in words."""
    from .restore_backup import RestoreOptions, _fetch, check_room, download_need

    m = chosen.manifest
    check = getattr(m, "check", None) or "skipped"
    if check == "failed":
        raise BackupError(f"backup {m.timestamp}'s manifest says its consistency check failed: choose another "
                          f"with --at (restore.py --list shows them)")
    if not opts.sha_check:
        if check != "passed":
            raise UsageError(f"backup {m.timestamp} was not consistency-checked (check: {check}): its files' sha256 "
                             f"are verified before it seeds anything; drop --skip-sha-check")
        return "its consistency check passed and the object sizes match the manifest (--skip-sha-check)"
    if opts.dry_run:
        return "would download every file and compare its sha256 with the manifest before changing anything"
    import shutil

    directory = opts.work_dir / f"neo4j-cluster-verify-{opts.database}-{m.timestamp}"
    check_room(opts.work_dir, [("download", download_need(m))])
    job = RestoreOptions(bucket=opts.bucket, stack=opts.stack, database=opts.database, neo4j=None, admin=None,
                         endpoint_url=opts.endpoint_url, region=opts.region, log=opts.log)
    try:
        _fetch(job, s3, chosen, directory, checked=True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return f"every file's size and sha256 match the manifest (consistency check: {check})"


def _drop_create(opts: ClusterRestoreOptions, plan, run, shell, verified: str) -> dict[str, Any]:
    """4.4, one database under its own name: DROP, restore on each core, CREATE (cluster_plan._plan_44_keep_name),
    run by remote.run_drop_create_44. The database is unavailable from the drop to the create: --offline-ok."""
    if not opts.offline_ok:
        raise UsageError(f"Neo4j 4.4 restores {opts.database!r} by DROP DATABASE, neo4j-admin restore on each core and "
                         f"CREATE DATABASE: it is unavailable in between (no other database is). Add --offline-ok to "
                         f"accept that, --dry-run to see the plan")
    if shell is None:
        if not opts.orchestrate:
            return {"cluster": plan.to_json(), "dry_run": False, "verified": verified,
                    "summary": "run these in order (nothing was changed from here)\n" + describe_plan(plan)}
        import boto3

        shell = SsmShell(boto3.client("ssm", region_name=opts.region), boto3.client("ec2", region_name=opts.region),
                         opts.stack)
    ran = run_drop_create_44(plan, shell, run, opts.log, online_timeout=opts.timeout, poll=opts.poll)
    outcome = ran["outcome"]
    return {"cluster": plan.to_json(), "outcome": outcome.to_json(), "verified": verified, "servers": ran["done"],
            "privileges": ran["privileges"],
            "summary": f"4.4 cluster restore of backup {plan.backup}: {plan.name!r} kept its name, restored on "
                       f"{', '.join(ran['restored'])}, online on {plan.topology.members} members and holds "
                       f"{outcome.counts}, as its manifest says; {len(ran['privileges'])} privileges naming it granted "
                       f"again ({outcome.seconds:.0f}s)\n" + "\n".join(f"note: {n}" for n in plan.notes)}


def replay_cluster_restore(opts: ClusterRestoreOptions, scenario: Path) -> dict[str, Any]:
    """restore.py --cluster --dry-run --replay SCENARIO.json: the plan against a recorded cluster, offline. A stand-in
    for trying plans, not a restore: the scenario's endpoints answer Bolt (recorded.RecordedTransport) and its
    `backups` (manifests, as backup.py writes them) stand in for the bucket. The fixtures under
    tests/fixtures/enterprise/cluster-restore/ are DERIVED from the Operations Manual (derive.py says how)."""
    import json

    from ..recorded import RecordedTransport, load_scenario
    from .layout import Backup, ManifestError, parse_manifest

    if not opts.dry_run:
        raise UsageError("--replay answers from a recorded scenario: it only goes with --dry-run")
    try:
        recorded = load_scenario(scenario)
        manifests = [parse_manifest(json.dumps(m)) for m in recorded.get("backups", [])]
    except (OSError, ValueError, ManifestError) as error:
        raise UsageError(f"--replay {scenario}: {error}") from None
    backups = [Backup(m.timestamp, tuple(f.name for f in m.files) + ("manifest.json",), m) for m in manifests
               if m.stack == opts.stack and m.database == opts.database]
    opts.bucket = opts.bucket or recorded.get("bucket", "")
    transport = RecordedTransport(recorded)
    known = [e["uri"] for e in recorded.get("endpoints", {}).values()]
    if known and opts.uri not in known:
        opts.log(f"--replay: {opts.uri} is not in the scenario; asking its first endpoint, {known[0]}")
        opts.uri = known[0]
    result = run_cluster_restore(opts, transport=transport, backups=backups)
    result["replayed"] = str(scenario)
    result["summary"] = f"replayed {scenario.name} (a recorded scenario, not a live cluster)\n" + result["summary"]
    return result


def run_cluster_restore(opts: ClusterRestoreOptions, *, transport=None, shell=None,
                        backups: list | None = None) -> dict[str, Any]:
    from ..bolt import NeoTransport, statement_runner
    from ..facts import gather
    from ..queries import Named
    from ..shared.versions import Version, line_of
    from .layout import choose
    from .restore_backup import RestoreOptions, _pick
    from .s3 import check_bucket, client

    log = opts.log
    if backups is None:
        s3 = client(opts.endpoint_url, opts.region)
        check_bucket(s3, opts.bucket)
        chosen = _pick(RestoreOptions(bucket=opts.bucket, stack=opts.stack, database=opts.database, neo4j=None,
                                      admin=None, at=opts.at, log=log), s3)
    else:  # --replay: the scenario's manifests stand in for the bucket
        s3 = None
        try:
            chosen, why = choose(backups, opts.at)
        except (LookupError, ValueError) as error:
            raise UsageError(f"--replay: no backup of {opts.database!r} in the scenario to restore: {error}") from None
        log(f"restoring backup {chosen.timestamp} ({why}), from the scenario's manifests")
    own_transport = transport is None
    transport = transport or NeoTransport(timeout=30)
    try:
        from ..facts import ServerSpec

        facts = gather(ServerSpec("cluster", opts.uri), transport, opts.auth, 30)
        if facts.error is not None:
            raise BackupError(f"cannot ask the cluster at {opts.uri}: {facts.error.message}")
        if facts.edition and facts.edition != "enterprise":
            raise UsageError(f"Neo4j at {opts.uri} is {facts.edition}: --cluster needs Enterprise (CREATE DATABASE "
                             f"and seed from URI are Enterprise-only). Restore a standalone server without --cluster")
        try:
            line = line_of(opts.version or facts.version or "")
            version = Version.parse(opts.version or facts.version or "")
        except ValueError as error:
            raise UsageError(str(error)) from None
        run = statement_runner(transport.client(opts.uri, opts.auth), timeout=60)
        if line.seeds_from_uri:
            state = read_state(run, opts.database)
        else:
            state = ClusterState(opts.database, None, tuple(facts.databases))
        topology = None
        if opts.primaries is not None or opts.secondaries is not None:
            current = state.topology_of(state.serving or opts.database) if state.serving else None
            topology = Topology(opts.primaries if opts.primaries is not None else (current.primaries if current else 1),
                                opts.secondaries if opts.secondaries is not None
                                else (current.secondaries if current else 0))
        def hosts(*roles: str) -> tuple[str, ...]:  # 4.4: leader | follower | read_replica; 5.x: primary | secondary
            return tuple(sorted({str(r.get("address", "")).rsplit(":", 1)[0] for r in state.rows_of(opts.database)
                                 if str(r.get("role", "")).lower() in roles}))
        cores, replicas = hosts("leader", "follower", "primary"), hosts("read_replica", "secondary")
        plan = plan_cluster_restore(line, chosen.manifest, opts.bucket, state, version=version, beside=opts.beside,
                                    topology=topology, swap=opts.swap,
                                    cores=cores, replicas=replicas, region=opts.region, work_dir=opts.work_dir,
                                    neo4j_admin=opts.neo4j_admin,
                                    stop_command=opts.stop_command, start_command=opts.start_command,
                                    offline=opts.offline_44)
        verified = verify_backup(opts, s3, chosen)
        log(f"backup {chosen.timestamp}: {verified}")
        if opts.dry_run:
            summary = "dry run, nothing changed\n" + describe_plan(plan)
            if plan.swap == "drop-create":  # what step "grant" would send today (a read)
                grants = privileges_naming([str(r.get("command", "")) for r in run(
                    Named.built(SHOW_PRIVILEGES_AS_COMMANDS, "system", write=False), None)], plan.name)
                summary += f"\nprivileges naming {plan.name!r} now ({len(grants)}), granted again after the create:" \
                    + "".join(f"\n  {g}" for g in grants)
            return {"cluster": plan.to_json(), "dry_run": True, "verified": verified, "summary": summary}
        if plan.swap == "drop-create":
            return _drop_create(opts, plan, run, shell, verified)
        if plan.swap == "offline":
            if not opts.offline_ok:
                if plan.name.lower() == "system":
                    raise UsageError("system is restored offline: Neo4j stops on every server and every database is "
                                     "unavailable until they start again. Add --offline-ok to accept that, --dry-run "
                                     "to see the plan")
                raise UsageError(f"Neo4j {line} has no seed from URI: its cluster restore stops {opts.database!r} on "
                                 f"every core. Add --offline-ok to accept that, --dry-run to see the plan")
            if not opts.verify_restored and (opts.orchestrate or shell is not None):
                if shell is None:
                    import boto3

                    shell = SsmShell(boto3.client("ssm", region_name=opts.region),
                                     boto3.client("ec2", region_name=opts.region), opts.stack)
                checks = checks_only(plan)
                ran = run_offline_44(plan, shell, log, verify=lambda: execute(checks, run, log, timeout=opts.timeout,
                                                                              poll=opts.poll),
                                     resume=f"restore.py --cluster --database {opts.database} --at {plan.backup} "
                                            f"--offline-ok --yes")
                return {"cluster": plan.to_json(), "outcome": ran["outcome"].to_json(), "verified": verified,
                        "servers": ran["done"], "safety_dump": ran["safety_dump"],
                        "summary": f"{'4.4 ' if plan.line == '4.4' else ''}cluster restore of backup {plan.backup} "
                                   f"done on {', '.join(ran['restored'])}"
                                   f", one server at a time: {opts.database!r} is online on {plan.topology.members} "
                                   f"members and holds {ran['outcome'].counts}, as its manifest says (safety dump of "
                                   f"the old database: {ran['safety_dump']})"}
            if not opts.verify_restored:
                return {"cluster": plan.to_json(), "dry_run": False, "verified": verified,
                        "summary": "run these on the servers, in order (nothing was changed from here); then run "
                                   "again with --verify-restored\n" + describe_plan(plan)}
            checks = checks_only(plan)
            outcome = execute(checks, run, log, timeout=opts.timeout, poll=opts.poll)
            return {"cluster": plan.to_json(), "outcome": outcome.to_json(), "verified": verified,
                    "summary": f"4.4 cluster restore of backup {plan.backup} verified: {opts.database!r} is online on "
                               f"{plan.topology.members} members and holds {outcome.counts}, as its manifest says"}
        outcome = execute(plan, run, log, copier=s3_copier(s3, opts.bucket, log), timeout=opts.timeout,
                          poll=opts.poll)
        return {"cluster": plan.to_json(), "outcome": outcome.to_json(), "verified": verified,
                "summary": describe_outcome(outcome)}
    finally:
        if own_transport:
            transport.close()
