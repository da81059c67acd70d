"""The plan's summary for a reviewer: the servers, memory per role, resources per component, the backup
copies (AWS) and the secrets the program will read."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from components.render import RenderedCluster, fabric_graphs
from components.settings import Settings
from components.topology import ClusterTopology
from components.units import neo4j_size
from scripts.neo4j_ops.backup.source import FROM_TAKES_A_LIST
from scripts.neo4j_ops.plan.plugin_lines import plugin_lines

# Resources the summary names one by one, so a reviewer sees the machines, not just counts.
NAMED_KINDS = {
    "networks": {"aws:ec2/vpc:Vpc", "docker:index/network:Network"},
    "instances": {"aws:ec2/instance:Instance"},
    "containers": {"docker:index/container:Container"},
    "volumes": {"docker:index/volume:Volume"},
    "buckets": {"aws:s3/bucket:Bucket"},
}


def summary(settings: Settings, topology: ClusterTopology, rendered: RenderedCluster, document: dict,
            out_dir: Path) -> str:
    lines = [
        f"Stack {settings.stack}: Neo4j {settings.version} {settings.edition} on {settings.platform}"
        + (f" ({settings.region})" if settings.platform == "aws" else ""),
        f"Servers: {len(topology.primaries)} primaries + {len(topology.secondaries)} secondaries; "
        f"fault tolerance {topology.fault_tolerance} (writes continue with {topology.fault_tolerance} "
        f"primar{'y' if topology.fault_tolerance == 1 else 'ies'} down)",
        f"TLS: {settings.tls} (neo4j:tls)",
        *database_lines(settings, topology),
        *plugin_lines(settings, rendered),
        "",
    ]
    # Zones are AWS's: containers on one Docker engine have none, so a Docker stack's table has no zone column.
    shown = topology.neo4j_hosts  # 4.4's Fabric proxies (role fabric) after the members
    columns = [("server", [s.name for s in shown]), ("role", [s.role for s in shown])]
    if settings.platform == "aws":
        columns.append(("zone", [s.zone for s in shown]))
    columns.append(("address", [s.hostname for s in shown]))
    lines += table_lines(columns)
    lines += ["", "Memory plan per role:"]
    seen = set()
    plans = rendered.neo4j_hosts
    for server in shown:
        if server.role in seen:
            continue
        seen.add(server.role)
        memory = plans[server.name].memory
        machine = (settings.core_instance_type if server.role == "primary" else settings.replica_instance_type) \
            if settings.platform == "aws" else "container"
        lines.append(f"  {server.role:<11}{machine} {neo4j_size(memory.ram)}: heap {neo4j_size(memory.heap)}, "
                     f"page cache {neo4j_size(memory.page_cache)}, OS {neo4j_size(memory.os_reserve)} "
                     f"({memory.source})")
    lines += ["", "Resources per component:"]
    by_parent = Counter(r["parent"] or "(stack)" for r in document["resources"])
    if not by_parent:
        lines.append("  none")
    width = max((len(parent) for parent in by_parent), default=0) + 2
    for parent, count in sorted(by_parent.items()):
        lines.append(f"  {parent:<{width}}{count:>4}")
    for label, types in NAMED_KINDS.items():
        names = [r["name"] for r in document["resources"] if r["type"] in types]
        if names:
            lines.append(f"  {label} ({len(names)}): {', '.join(names)}")
    if settings.platform == "aws":
        from components.aws import backup_copies

        copies = backup_copies(settings)
        lines += ["", "Backup copies (3-2-1: three copies, two kinds of storage, one off-site):",
                  f"  {copies.line()}"]
        if copies.problems:
            lines.append(f"  WARNING: stack {settings.stack} breaks the 3-2-1 rule of the operations guide")
        lines += [f"  {line}" for line in object_lock_lines(document)]
        lines += [f"  {line}" for line in encryption_lines(document)]
        lines += ["", recovery_point_line(settings)]
        lines += ["", *backup_job_lines(settings, topology, rendered)]
        lines += ["", *secret_reader_lines(document, [s.name for s in topology.secondaries])]
        lines += ["", *package_source_lines(settings)]
    kinds = Counter(path.split("/")[-1] for path in document["artifacts"])
    lines += ["", f"Artifacts ({len(document['artifacts'])} files) in {out_dir}/:"]
    width = max((len(name) for name in kinds), default=0) + 2
    lines += [f"  {name:<{width}}x{count}" for name, count in sorted(kinds.items())]
    return "\n".join(lines)


def package_source_lines(settings: Settings) -> list[str]:
    """Where the machines' boot installs Neo4j from (neo4j:aptRepositoryUrl, neo4j:aptSigningKey)."""
    key = ("given inline (neo4j:aptSigningKey): the boot fetches no key" if settings.apt_signing_key_text
           else f"from {settings.apt_signing_key_url}")
    return [f"Neo4j packages (servers{' and Fabric proxies' if settings.fabric_proxy_count else ''}): "
            f"{settings.apt_repository_url} (neo4j:aptRepositoryUrl), signing key {key}"]


def database_lines(settings: Settings, topology: ClusterTopology | None = None) -> list[str]:
    """The standard databases `make databases` keeps (neo4j:database and neo4j:databases), each with its topology;
    the composites, on 4.4 the Fabric database of the proxies with its graphs (neo4j.conf, not `make databases`)."""
    shown = []
    for database in settings.database_topologies:
        where = ("every core and read replica" if settings.version_line == "4.4"
                 else f"{database.primaries} primar{'y' if database.primaries == 1 else 'ies'}, "
                      f"{database.secondaries} secondar{'y' if database.secondaries == 1 else 'ies'}")
        extras = [x for x in ("default" if database.default else "",
                              f"seeded from {database.seed_uri}" if database.seed_uri else "",
                              "CREATE waits until online" if database.wait else "") if x]
        shown.append(f"  {database.name}: {where}" + (f" ({'; '.join(extras)})" if extras else ""))
    proxies = topology.fabric_proxies if topology else ()
    if proxies:
        shown.append(f"  {settings.composites[0].name}: Fabric database of {', '.join(p.name for p in proxies)} "
                     f"(dbms.mode=SINGLE, fabric.* in their neo4j.conf)")
        shown += [f"    graph {g['id']} {g['name']} -> {g['database']} at {g['uri'].split(',')[0]}"
                  + (" (and the other cores)" if "," in g["uri"] else "") for g in fabric_graphs(settings, topology)]
    for composite in () if proxies else settings.composites:
        shown.append(f"  {composite.name}: composite")
        for alias in composite.aliases:
            target = (f"{alias.database} at {alias.uri} as {alias.user}, password from neo4j:aliasPasswords"
                      + ("" if alias.ssl_enforced else ", TLS NOT enforced (sslEnforced: false)")
                      if alias.remote else f"{alias.database} (local)")
            shown.append(f"    {composite.name}.{alias.name} -> {target}")
    return ["Databases (neo4j:database, neo4j:databases, neo4j:composites; `make databases` creates them after a "
            "deploy, never drops):", *shown]


def table_lines(columns: list[tuple[str, list[str]]]) -> list[str]:
    """A left-aligned table, each column as wide as its longest cell plus two spaces, so no two columns run
    together whatever the names; the last column is not padded."""
    widths = [max(len(cell) for cell in [title, *cells]) + 2 for title, cells in columns[:-1]]
    rows = [[title for title, _ in columns], *zip(*(cells for _, cells in columns), strict=True)]
    return ["  " + "".join(f"{cell:<{w}}" for cell, w in zip(row[:-1], widths, strict=True)) + row[-1]
            for row in rows]


def _every(seconds: float) -> str:
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if unit == 'day' and count > 1 else ''}"
    return f"{seconds:g} s"


def recovery_point_line(settings: Settings) -> str:
    """The stack's recovery point objective: the longest wait between two backups of its schedules (systemd's
    calendar grammar, components/calendar.py), e.g. differentials every 15 min between weekly full backups."""
    from components.calendar import longest_gap, parse_calendar

    if not settings.backs_up_in_chains:
        every = _every(longest_gap(parse_calendar(settings.backup_schedule)))
        why = "Community dumps offline" if settings.edition != "enterprise" else "4.4 has no --restore-until"
        return f"Recovery point objective: {every} (one backup every {every}, neo4j:backupSchedule; {why})"
    full = _every(longest_gap(parse_calendar(settings.backup_full_schedule)))
    if not settings.backup_diff_schedule:
        return f"Recovery point objective: {full} (full backups every {full}; differentials off)"
    diff = _every(longest_gap(parse_calendar(settings.backup_diff_schedule)))
    return f"Recovery point objective: {diff} (differentials every {diff}, full every {full})"


def backup_job_lines(settings: Settings, topology: ClusterTopology, rendered: RenderedCluster) -> list[str]:
    """Where the backup job runs, what its neo4j-admin may use there, and which servers it reads from."""
    host = topology.backup_server
    admin = rendered.servers[host.name].admin
    lines = [f"Backups: job on {host.name} ({host.role}), neo4j-admin heap {neo4j_size(admin.heap)}, page cache "
             f"{neo4j_size(admin.off_heap)}, check off-heap {neo4j_size(admin.off_heap)}, {admin.threads} "
             f"thread{'s' if admin.threads != 1 else ''}",
             f"  within the {neo4j_size(admin.left)} {host.name}'s memory plan leaves outside Neo4j's heap and page "
             f"cache (Neo4j's own untouched)"]
    if settings.edition != "enterprise":
        lines.append(f"  sources: {host.name} itself, an offline dump (Community stops Neo4j for it)")
        return lines
    order = [s.name for s in topology.secondaries] + [s.name for s in topology.primaries]
    several = ("in order, as one --from" if settings.version_line in FROM_TAKES_A_LIST
               else "the first only: 4.4 takes one --from")
    lines.append(f"  sources: {', '.join(order)} ({several}; at each run from SHOW DATABASES: secondaries, then "
                 f"primaries that do not lead the database)")
    return lines


def object_lock_lines(document: dict) -> list[str]:
    """Each backup bucket's Object Lock (mode and days every version is kept), or that it has none."""
    locks = {r["name"]: r["inputs"].get("rule", {}).get("defaultRetention", {}) for r in document["resources"]
             if r["type"] == "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"}
    lines = []
    for r in document["resources"]:
        if r["type"] != "aws:s3/bucket:Bucket":
            continue
        lock = locks.get(r["name"]) if r["inputs"].get("objectLockEnabled") else None
        lines.append(f"Object Lock {r['name']}: " + (f"{lock.get('mode')} {int(lock.get('days', 0))} days"
                                                      if lock else "NONE (versions can be deleted)"))
    return lines


def encryption_lines(document: dict) -> list[str]:
    """Each backup bucket's default encryption, each KMS key (rotation, deletion window, who may use it: the key
    policy's principals, machines by name), and where the off-site replica lives when it is another account's."""
    lines = []
    for name, inputs in sorted(_of_type(document, SSE).items()):
        (rule,) = inputs.get("rules", [{}])
        default = rule.get("applyServerSideEncryptionByDefault", {})
        key = default.get("kmsMasterKeyId")
        lines.append(f"Encryption {name}: " + (f"SSE-KMS key {_short(key)}"
                                               + (", bucket key" if rule.get("bucketKeyEnabled") else "")
                                               if default.get("sseAlgorithm") == "aws:kms" and key
                                               else f"{default.get('sseAlgorithm')} (no key of the stack's)"))
    policies = {inputs["keyId"]: json.loads(inputs["policy"]) for inputs in _of_type(document, KEY_POLICY).values()}
    for name, inputs in sorted(_of_type(document, KMS_KEY).items()):
        policy = next((p for key, p in policies.items() if key.rsplit(":", 1)[-1] == name), {})  # by the key's ARN
        users = sorted({_short(principal) for statement in policy.get("Statement", [])
                        if statement.get("Sid") != "KeyAdministration"
                        for principal in _list(statement.get("Principal", {}).get("AWS"))})
        rotation = "rotation on" if inputs.get("enableKeyRotation") else "ROTATION OFF"
        lines.append(f"Key {name}{' (' + inputs['region'] + ')' if inputs.get('region') else ''}: {rotation}, "
                     f"deletion window {int(inputs.get('deletionWindowInDays', 0))} days; used by "
                     f"{', '.join(users) if policy else 'NO KEY POLICY'}")
    for inputs in _of_type(document, REPLICATION).values():
        for rule in inputs.get("rules", []):
            account = rule.get("destination", {}).get("account")
            if account:
                lines.append(f"Off-site replica in account {account}: {rule['destination']['bucket']}, replicas "
                             f"owned there; apply build/<stack>/offsite-account/*.json in that account")
    return lines


SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
KMS_KEY = "aws:kms/key:Key"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"


def _of_type(document: dict, resource_type: str) -> dict[str, dict]:
    return {r["name"]: r["inputs"] for r in document["resources"] if r["type"] == resource_type}


def _list(value) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def _short(arn: str) -> str:
    """A readable name for an ARN: the mocks' (and a role's) last part, cluster- and -role dropped."""
    tail = arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    return tail.removeprefix("cluster-").removesuffix("-role") if tail != "root" else arn


ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ADMIN_PASSWORD_SECRET = "admin-password"


def secret_readers(document: dict) -> dict[str, list[str]]:
    """Machine → the secrets its role's policy lets it read (ReadOwnSecrets), as the plan would deploy them. Under
    the recording mocks a secret's ARN ends in its resource name (cluster-admin-password)."""
    readers: dict[str, list[str]] = {}
    for r in document["resources"]:
        if r["type"] != ROLE_POLICY or not r["name"].endswith("-access"):
            continue
        machine = r["name"].removesuffix("-access").split("-", 1)[1]
        statements = json.loads(r["inputs"]["policy"]).get("Statement", [])
        arns = [arn for s in statements if s.get("Sid") == "ReadOwnSecrets"
                for arn in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
        readers[machine] = sorted(arn.rsplit(":", 1)[-1].split("-", 1)[1] for arn in arns)
    return readers


def secret_reader_lines(document: dict, secondaries: list[str]) -> list[str]:
    """Who may read the admin password (issue 26: a compromised secondary must not be a cluster admin), and
    every machine's secrets."""
    readers = secret_readers(document)
    admins = [machine for machine, secrets in readers.items() if ADMIN_PASSWORD_SECRET in secrets]
    lines = ["Secrets each machine's role may read:",
             *(f"  {machine:<12}{', '.join(secrets) or '(none)'}" for machine, secrets in readers.items())]
    leaking = [machine for machine in admins if machine in secondaries]
    lines.append(f"  admin password: {', '.join(admins) or 'no machine'}"
                 + (f"; WARNING: secondaries {', '.join(leaking)} read it" if leaking else "; no secondary"))
    return lines


def secrets_note(settings: Settings, stack_file: Path) -> str:
    """Which secrets the program will require, and which the stack file does not hold yet (the plan itself
    runs with placeholders, so a missing one would otherwise surface only at the first `pulumi preview`)."""
    from components.passwords import missing_secrets, required_secrets

    missing = missing_secrets(settings)
    lines = [f"Secrets the program reads: {', '.join(required_secrets(settings))}"]
    if not missing:
        lines.append(f"  all set (encrypted) in {stack_file.name}")
    for key, why in missing.items():
        lines.append(f"  MISSING {key}: {why}; set it before the first preview: "
                     f"pulumi config set --secret {key} … --stack {settings.stack}")
    return "\n".join(lines)
