"""restore.py --cluster --all: every standard database of a backup run (its run manifest, run_manifest.py) restored
under its own name, then the catalogue the run recorded (composite databases, aliases) recreated, in order: the
targets first, then the composites, then the aliases.

5.24+ and 2025 only: each database is replaced by the recreate procedure (cluster_plan._plan_recreate: name,
privileges and topology kept); a database the cluster no longer has is created under its own name, seeded from its
backup ("CREATE DATABASE foo TOPOLOGY … OPTIONS { existingData: 'use', seedURI: … }", 5.x clustering/databases.adoc).
`system` is not part of --all: it is restored offline (restore.py --cluster --database system), which puts back the
catalogue too.

Composites and aliases have no backup of their own (Operations Manual 5.x online-backup.adoc: "it is not allowed to
take a backup of a database alias, only physical databases can be backed up"): they are recreated from the run
manifest's definitions with the manual's statements (5.x database-administration/syntax.adoc):

    CREATE COMPOSITE DATABASE name [IF NOT EXISTS]
    CREATE ALIAS name [IF NOT EXISTS] FOR DATABASE targetName [PROPERTIES "{" key: value[, ...] "}"]
    CREATE ALIAS name [IF NOT EXISTS] FOR DATABASE targetName AT 'url' USER username PASSWORD 'password'
      [DRIVER "{" setting: value[, ...] "}"] [PROPERTIES "{" key: value[, ...] "}"]

IF NOT EXISTS keeps what the cluster still has. A remote alias's password is in no backup (Neo4j never returns it):
the stack has no secret for it yet, so it is read from the environment variable NEO4J_ALIAS_PASSWORD_<NAME> (the
alias's name upper-cased, every other character than A-Z and 0-9 an underscore) when the statement runs, and sent as
the Bolt parameter $password: never on a command line, in the plan, a log or SSM.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..queries import Named, Run, quote_name
from ..shared.errors import BackupError, UsageError
from ..shared.versions import Version, VersionLine
from .cluster_plan import ClusterState, Plan, Step, Topology, cypher_string, plan_cluster_restore, seed_location
from .layout import Manifest
from .run_manifest import Alias, Composite, RunManifest

Log = Callable[[str], None]
PASSWORD_ENV = "NEO4J_ALIAS_PASSWORD_"
# 5.x manage-aliases-standard-databases.adoc, the driver settings a remote alias takes that are durations; the run
# manifest records them in seconds.
DURATIONS = ("connection_timeout", "connection_max_lifetime", "connection_pool_acquisition_timeout",
             "connection_pool_idle_test")


# The stack secret neo4j:aliasPasswords ({"<composite>.<alias>": "…"}), as `make databases` and the deploy workflow
# export it: the passwords of the aliases the stack defines; NEO4J_ALIAS_PASSWORD_<NAME> still names one alone.
PASSWORDS_ENV = "NEO4J_ALIAS_PASSWORDS"


def password_env(alias: str) -> str:
    """`library.romance` -> NEO4J_ALIAS_PASSWORD_LIBRARY_ROMANCE."""
    return PASSWORD_ENV + re.sub(r"[^A-Z0-9]", "_", alias.upper())


def stack_alias_passwords(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """NEO4J_ALIAS_PASSWORDS as a dict (empty when unset); UsageError when it is not a JSON object of strings."""
    text = environ.get(PASSWORDS_ENV) or ""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise UsageError(f"{PASSWORDS_ENV}: not a JSON object of <composite>.<alias> → password (the stack secret "
                         f"neo4j:aliasPasswords)")
    return value


def secret_value(env: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """The password filed under NEO4J_ALIAS_PASSWORD_<NAME> `env`: that variable, else the alias of that name in
    the stack secret (NEO4J_ALIAS_PASSWORDS)."""
    if environ.get(env):
        return environ[env]
    return next((v for k, v in stack_alias_passwords(environ).items() if password_env(k) == env and v), None)


def literal(value: Any) -> str:
    """A value of a manifest's PROPERTIES or DRIVER map as a Cypher literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return cypher_string(value)
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{quote_name(str(k))}: {literal(v)}" for k, v in value.items()) + "}"
    raise UsageError(f"cannot write {value!r} ({type(value).__name__}) as Cypher")


def alias_name(alias: Alias) -> str:
    """The alias's name as Cypher: `composite`.`alias` for a constituent (5.x manage-aliases-composite-databases.adoc:
    "CREATE ALIAS `library`.`romance` FOR DATABASE `romance-books` …"), else `name`."""
    if alias.composite and alias.name.startswith(alias.composite + "."):
        return f"{quote_name(alias.composite)}.{quote_name(alias.name[len(alias.composite) + 1:])}"
    return quote_name(alias.name)


def create_composite(composite: Composite) -> Step:
    # 5.x create-composite-databases.adoc: "The `CREATE COMPOSITE DATABASE` command is optionally idempotent".
    return Step("cypher", f"create composite database {composite.name!r} (constituents: "
                f"{', '.join(composite.constituents) or 'none'}), kept if it exists",
                f"CREATE COMPOSITE DATABASE {quote_name(composite.name)} IF NOT EXISTS", phase="after")


def create_alias(alias: Alias) -> Step:
    if alias.database is None:
        raise UsageError(f"alias {alias.name!r}: the run manifest has no target (the backup's user could not see it): "
                         f"recreate it by hand")
    cypher = f"CREATE ALIAS {alias_name(alias)} IF NOT EXISTS FOR DATABASE {quote_name(alias.database)}"
    env = ""
    if alias.location == "remote":
        env = password_env(alias.name)
        cypher += f" AT {cypher_string(alias.url or '')} USER {quote_name(alias.user or '')} PASSWORD $password"
        if alias.driver:
            cypher += " DRIVER {" + ", ".join(
                f"{k}: duration({{seconds: {literal(v)}}})" if k in DURATIONS and isinstance(v, (int, float))
                else f"{k}: {literal(v)}" for k, v in alias.driver.items()) + "}"
    if alias.properties:
        cypher += f" PROPERTIES {literal(dict(alias.properties))}"
    where = f"remote, at {alias.url}, its password from ${env}" if env else "local"
    return Step("cypher", f"create alias {alias.name!r} for {alias.database!r} ({where}), kept if it exists", cypher,
                phase="after", secret_env=env)


def catalogue_steps(run: RunManifest) -> list[Step]:
    """The composites, then the aliases: local ones outside a composite, the constituents, then the remote ones."""
    steps = [create_composite(c) for c in run.composites]
    order = sorted(run.aliases, key=lambda a: (a.location == "remote", a.composite is not None, a.name))
    return steps + [create_alias(a) for a in order]


@dataclass(frozen=True)
class AllPlan:
    run: str  # the run manifest's timestamp
    databases: tuple[Plan, ...]
    catalogue: tuple[Step, ...]
    skipped: tuple[str, ...] = ()  # databases of the run not restored, each with why
    notes: tuple[str, ...] = ()

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s.secret_env for s in self.catalogue if s.secret_env)

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run, "databases": [p.to_json() for p in self.databases],
                "catalogue": [s.to_json() for s in self.catalogue], "skipped": list(self.skipped),
                "notes": list(self.notes)}


def _plan_create(line: VersionLine, m: Manifest, bucket: str, name: str, topology: Topology) -> Plan:
    """A database of the run the cluster no longer has: created under its own name, seeded from its backup."""
    uri, copies = seed_location(m, bucket)
    q = quote_name(name)
    steps = [Step("copy_chain", f"copy the {len(copies)} files of the differential chain into one folder",
                  copies=copies)] if copies else []
    steps += [Step("cypher", f"create {name!r} seeded from the backup on {topology} (the cluster no longer has it)",
                   f"CREATE DATABASE {q} {topology.clause()} OPTIONS {{existingData: 'use', seedURI: "
                   f"{cypher_string(uri)}}}", phase="swap"),
              Step("wait_online", f"wait until {name!r} is online on {topology.members} members",
                   f"SHOW DATABASE {q} YIELD name, address, role, requestedStatus, currentStatus, statusMessage",
                   phase="after"),
              Step("counts", f"count nodes and relationships of {name!r}: the manifest says {m.counts}",
                   database=name, phase="after")]
    if copies:
        steps.append(Step("delete_chain", "delete the staged copy of the chain", copies=copies, phase="after"))
    return Plan(line.name, name, m.timestamp, name, None, "recreate", uri, topology, tuple(steps),
                f"nothing under {name!r} until it is online", (), m.counts, m.counts_exact)


def plan_all(line: VersionLine, version: Version, run: RunManifest, manifests: Mapping[str, Manifest], bucket: str,
             state: ClusterState, *, topology: Topology | None = None) -> AllPlan:
    """Every complete standard database of `run` (each one's manifest in `manifests`), then its catalogue. Pure."""
    if not line.seeds_from_uri or line.recreate_procedure(version) is None:
        raise UsageError(f"--all restores each database under its own name with the recreate procedure (5.24+, "
                         f"2025): Neo4j {version} has none. Restore each database with --database")
    plans: list[Plan] = []
    skipped: list[str] = []
    for db in run.databases:
        if db.name.lower() == "system":
            skipped.append("system: restored offline on every server (restore.py --cluster --database system), "
                           "not by --all")
            continue
        if db.status != "complete":
            skipped.append(f"{db.name}: its backup in run {run.timestamp} failed ({db.error})")
            continue
        m = manifests[db.name]
        if state.exists(db.name):
            plans.append(plan_cluster_restore(line, m, bucket, ClusterState(db.name, None, state.rows),
                                              version=version, topology=topology))
        else:
            default = next((state.topology_of(r["name"]) for r in state.rows if r.get("default") is True), None)
            plans.append(_plan_create(line, m, bucket, db.name, topology or default or Topology(1, 0)))
    catalogue = catalogue_steps(run)
    notes = ["each database keeps its name and privileges; users and roles are the cluster's own (system is not "
             "restored by --all)"]
    if any(s.secret_env for s in catalogue):
        notes.append("remote aliases' passwords are in no backup and the stack has no secret for them: each is read "
                     "from its environment variable (" + ", ".join(s.secret_env for s in catalogue if s.secret_env)
                     + ") when its statement runs, sent as the parameter $password, never shown")
    if not run.aliases_read:
        notes.append(f"run {run.timestamp} could not read the aliases (SHOW ALIASES refused): none are recreated")
    return AllPlan(run.timestamp, tuple(plans), tuple(catalogue), tuple(skipped), tuple(notes))


def missing_secrets(plan: AllPlan, environ: Mapping[str, str] = os.environ) -> list[str]:
    return [env for env in plan.secrets if not secret_value(env, environ)]


def describe_all(plan: AllPlan) -> str:
    from .cluster_text import describe_plan

    lines = [f"restore every database of backup run {plan.run} under its own name, then its catalogue "
             f"({len(plan.databases)} databases, {len(plan.catalogue)} composites and aliases)"]
    for n, p in enumerate(plan.databases, 1):
        lines += [f"[{n}/{len(plan.databases)}] " + describe_plan(p).replace("\n", "\n    ")]
    lines.append("then the catalogue, in order (on system):")
    for n, step in enumerate(plan.catalogue, 1):
        lines += [f"{n:>2}. {step.description}", f"      {step.cypher}"]
    lines += [f"not restored: {s}" for s in plan.skipped]
    lines += [f"note: {n}" for n in plan.notes]
    return "\n".join(lines)


@dataclass
class AllOutcome:
    restored: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)


def execute_all(plan: AllPlan, run: Run, log: Log, run_one: Callable[[Plan], Any],
                environ: Mapping[str, str] = os.environ) -> AllOutcome:
    """Each database by `run_one` (cluster_execute.execute), in order, then the catalogue's statements. Every secret
    is checked before anything changes; the first failure stops the run, saying what is done and what is left."""
    missing = missing_secrets(plan, environ)
    if missing:
        raise UsageError(f"set {', '.join(missing)} (or the aliases in {PASSWORDS_ENV}, the stack secret "
                         f"neo4j:aliasPasswords; the remote aliases' passwords: they are in no backup) before "
                         f"restoring; nothing was changed")
    outcome = AllOutcome()
    for p in plan.databases:
        log(f"restoring {p.name!r} from backup {p.backup}")
        try:
            run_one(p)
        except (BackupError, UsageError) as error:
            left = [q.name for q in plan.databases[len(outcome.restored) + 1:]]
            raise BackupError(f"{p.name!r}: {error}\nrestored before it: {', '.join(outcome.restored) or 'none'}; not "
                              f"started: {', '.join(left) or 'none'}; the catalogue was not recreated (run again "
                              f"with the same --at: each database is replaced again)") from None
        outcome.restored.append(p.name)
    for step in plan.catalogue:
        log(f"{step.description}\n    {step.cypher}")
        params = {"password": secret_value(step.secret_env, environ)} if step.secret_env else None
        try:
            run(Named.built(step.cypher, "system"), params)
        except Exception as error:  # noqa: BLE001 - say what is done, what is left
            left = [s.cypher for s in plan.catalogue[plan.catalogue.index(step):]]
            raise BackupError(f"{step.description} failed: {error}\nevery database was restored; created: "
                              f"{', '.join(outcome.created) or 'nothing'}; left to run on system: "
                              f"{'; '.join(left)}") from None
        outcome.created.append(step.cypher.split(" IF NOT EXISTS")[0])
    return outcome


def choose_run(s3, bucket: str, stack: str, at: str | None) -> RunManifest:
    """The newest run manifest under <stack>/runs/ (at or before `at`, a timestamp) that parses."""
    from .layout import is_timestamp
    from .run_manifest import RunManifestError, parse_run_manifest, run_key

    prefix = run_key(stack, "")[: -len(".json")]
    stamps = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        stamps += [o["Key"][len(prefix):-len(".json")] for o in page.get("Contents", []) if o["Key"].endswith(".json")]
    stamps = sorted((s for s in stamps if is_timestamp(s) and (at is None or s <= at)), reverse=True)
    problems = []
    for stamp in stamps:
        body = s3.get_object(Bucket=bucket, Key=run_key(stack, stamp))["Body"].read()
        try:
            return parse_run_manifest(body, expect_stack=stack, expect_timestamp=stamp)
        except RunManifestError as error:
            problems.append(f"{stamp}: {error}")
    raise UsageError(f"no run manifest under s3://{bucket}/{prefix}" + (f" at or before {at}" if at else "")
                     + (f" that can be read ({'; '.join(problems)})" if problems else "")
                     + ": backup.py --database '*' writes one per run")


def run_manifests(s3, bucket: str, run: RunManifest) -> dict[str, Manifest]:
    """Each complete standard database's backup manifest, read from its prefix."""
    from .layout import ManifestError, parse_manifest

    found = {}
    for db in run.databases:
        if db.status != "complete" or db.name.lower() == "system" or db.prefix is None:
            continue
        body = s3.get_object(Bucket=bucket, Key=db.prefix + "manifest.json")["Body"].read()
        try:
            found[db.name] = parse_manifest(body, expect_stack=run.stack, expect_database=db.name)
        except ManifestError as error:
            raise BackupError(f"run {run.timestamp}: the manifest of {db.name!r} at {db.prefix} cannot be trusted: "
                              f"{error}") from None
    return found


def run_all(opts, *, transport=None, s3=None) -> dict[str, Any]:
    """restore.py --cluster --all (opts: cluster_restore.ClusterRestoreOptions; --at picks the run)."""
    from ..bolt import NeoTransport, statement_runner
    from ..facts import ServerSpec, gather
    from ..shared.versions import line_of
    from .cluster_execute import execute, read_state, s3_copier
    from .s3 import check_bucket, client

    log = opts.log
    if s3 is None:
        s3 = client(opts.endpoint_url, opts.region)
        check_bucket(s3, opts.bucket)
    run_manifest = choose_run(s3, opts.bucket, opts.stack, opts.at)
    manifests = run_manifests(s3, opts.bucket, run_manifest)
    own = transport is None
    transport = transport or NeoTransport(timeout=30)
    try:
        facts = gather(ServerSpec("cluster", opts.uri), transport, opts.auth, 30)
        if facts.error is not None:
            raise BackupError(f"cannot ask the cluster at {opts.uri}: {facts.error.message}")
        try:
            line = line_of(opts.version or facts.version or "")
            version = Version.parse(opts.version or facts.version or "")
        except ValueError as error:
            raise UsageError(str(error)) from None
        run = statement_runner(transport.client(opts.uri, opts.auth), timeout=60)
        topology = (Topology(opts.primaries or 1, opts.secondaries or 0)
                    if opts.primaries is not None or opts.secondaries is not None else None)
        plan = plan_all(line, version, run_manifest, manifests, opts.bucket, read_state(run, "neo4j"),
                        topology=topology)
        missing = missing_secrets(plan)
        if opts.dry_run:
            text = describe_all(plan) + (f"\nnot set here: {', '.join(missing)}" if missing else "")
            return {"all": plan.to_json(), "dry_run": True, "summary": "dry run, nothing changed\n" + text}
        done = execute_all(plan, run, log, lambda p: execute(p, run, log, copier=s3_copier(s3, opts.bucket, log),
                                                             timeout=opts.timeout, poll=opts.poll))
        return {"all": plan.to_json(), "restored": done.restored, "created": done.created,
                "summary": f"restored run {plan.run}: {', '.join(done.restored)} under their own names; recreated "
                           f"{len(done.created)} composites and aliases"
                           + "".join(f"\nnot restored: {s}" for s in plan.skipped)}
    finally:
        if own:
            transport.close()
