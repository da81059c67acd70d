"""Stack config (namespace `neo4j:`) → validated, frozen `Settings`.

Every key is declared once in `KEYS` with its default, what it accepts and what it changes;
the README's config table is generated from the same list (a test keeps them equal).
Validation collects every problem and raises one `ConfigError` listing them all.
"""
from __future__ import annotations

import difflib
import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from components import databases as dbs
from components.calendar import longest_gap, parse_calendar
from components.instance_types import INSTANCE_TYPES
from components.reserved_names import ADMIN_USER, JOB_USER_NAMES
from components.units import neo4j_size, parse_size
from scripts.neo4j_ops.shared.versions import deployable_line

NAMESPACE = "neo4j"

PLATFORMS = ("aws", "docker")
EDITIONS = ("enterprise", "community")
TLS_LEVELS = ("disabled", "optional", "required")
CORE_COUNTS = "1 (single server), or an odd number from 3 to 11"
BUILTIN_ROLES = ("PUBLIC", "reader", "editor", "publisher", "architect", "admin")
S3_STORAGE_CLASSES = ("STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE")
# Days S3 bills an object of the class for, however soon it is deleted. The S3 User Guide, "Using Amazon S3
# storage classes": "If you delete an object before the end of the 30-day minimum storage duration period, you are
# charged for 30 days" (Standard-IA, One Zone-IA); Glacier Flexible Retrieval "has a minimum storage duration period
# of 90 days"; Deep Archive "of 180 days"; its comparison table gives Glacier Instant Retrieval 90 days and
# Intelligent-Tiering "None".
S3_MINIMUM_STORAGE_DAYS = {"STANDARD_IA": 30, "ONEZONE_IA": 30, "INTELLIGENT_TIERING": 0, "GLACIER_IR": 90,
                           "GLACIER": 90, "DEEP_ARCHIVE": 180}
# S3 refuses lifecycle transitions to the IA classes before an object is 30 days old.
S3_IA_TRANSITION_MINIMUM = {"STANDARD_IA": 30, "ONEZONE_IA": 30}
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_VERSION = re.compile(r"^(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)$")
_DURATION = re.compile(r"^\d+(ms|s|m|h)$")
_RETENTION = re.compile(r"^(\d+ (files|hours|days|size|txs|entries)( \d+[kKmMgG]?)?|true|false|keep_all|keep_none)$")
# 4.4 takes one limit and no size cap: dbms.tx_log.rotation.retention_policy must match
# `^(true|keep_all|false|keep_none|(\d+[KkMmGg]?( (files|size|txs|entries|hours|days))))$` (Neo4j 4.4.46 refuses
# to start otherwise), so its default is the days of ours without the cap.
_RETENTION_44 = re.compile(r"^(\d+ (files|hours|days|size|txs|entries)|true|false|keep_all|keep_none)$")
TX_LOG_RETENTION_44_DEFAULT = "2 days"


class ConfigError(Exception):
    """Bad stack config: `problems` holds one line per problem, each naming the key."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class UserSpec:
    name: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class RoleSpec:
    name: str
    privileges: tuple[str, ...]  # e.g. "MATCH {*} ON GRAPH neo4j"; scripts/security adds GRANT … TO <role>


# backup.py --full-every-days's default, which 4.4's timer uses (tests/unit/test_backup_lifecycle.py holds them
# together): how often a 4.4 chain of incremental backups starts again with a full one.
FULL_EVERY_DAYS = 7


@dataclass(frozen=True)
class Settings:
    stack: str
    platform: str
    version: str
    version_line: str  # "4.4" | "5" | "2025": picks the neo4j.conf dialect
    edition: str
    accept_license: bool
    core_count: int
    replica_count: int
    core_instance_type: str
    replica_instance_type: str
    haproxy_instance_type: str
    monitoring_instance_type: str
    container_memory: int  # bytes, per Neo4j container on the docker platform
    data_volume_size_gb: int
    data_volumes_deletable: bool
    region: str
    availability_zones: tuple[str, ...]
    vpc_cidr: str
    client_cidrs: tuple[str, ...]
    admin_cidrs: tuple[str, ...]
    allow_world_access: bool
    tls: str
    database: str
    users: tuple[UserSpec, ...]
    roles: tuple[RoleSpec, ...]
    backup_schedule: str  # Community and 4.4: the daily backup
    backup_full_schedule: str  # Enterprise 5.26 and 2025: the full backup that starts a chain
    backup_diff_schedule: str  # Enterprise 5.26 and 2025: differentials onto it; "" = none
    backup_retention_days: int
    backup_transition_days: int
    backup_transition_storage_class: str
    backup_local_retention_days: int
    monitoring: bool
    haproxy: bool
    heap_size: int | None  # bytes; None = sized from the machine's memory
    page_cache_size: int | None
    tx_log_retention: str
    tx_log_rotation_size: str
    slow_query_threshold: str
    gc_max_pause_millis: int
    auth_enabled: bool
    usage_report: bool  # dbms.usage_report.enabled on 5.26 and 2025 (4.4's manual lists no such setting)
    secret_recovery_window_days: int
    allow_no_authentication: bool
    nat_gateway_per_zone: bool
    egress: str  # endpoints | open (components/aws/egress.py)
    haproxy_public: bool
    ami_id: str  # "" = the newest Ubuntu 24.04 image of each instance type's architecture
    # neo4j:aptRepositoryUrl: Neo4j's Debian repository or a mirror of it (no trailing slash)
    apt_repository_url: str
    apt_repository_allow_http: bool
    # neo4j:aptSigningKey: "" (the repository's neotechnology.gpg.key), an https URL, or the armored key itself
    apt_signing_key: str
    backup_replica_region: str  # "" = no cross-region replica
    backup_replica_account_id: str  # "" = the replica bucket is this account's (made by the stack)
    backup_replica_bucket: str  # the other account's replica bucket (with backup_replica_account_id)
    backup_replica_key_arn: str  # the other account's KMS key in backup_replica_region (likewise)
    backup_noncurrent_days: int
    # Servers `make rollout` is applying held-back changes to right now; set by scripts/rollout.py per step.
    rollout_release: tuple[str, ...]
    backup_s3_endpoint: str  # "" = AWS S3; else an S3-compatible store's https URL (MinIO, Ceph, ...)
    restore_drill_max_age_days: int  # Neo4jRestoreDrillTooOld fires past this age
    upgrade_max_backup_age_hours: int  # `make upgrade` needs a verified backup of every database this recent
    # `make drill` (scripts/neo4j_ops/drill/): exits 1 over these; Neo4jFailoverDrillTooOld past the age
    drill_max_write_outage_seconds: int
    drill_max_lost_writes: int
    drill_max_recovery_seconds: int
    failover_drill_max_age_days: int
    plugins: tuple[str, ...]  # neo4j:plugins: keys of components/plugins.py's shipped_plugins, in the stack's order
    # neo4j:extraConfig and its role variants: (setting, conf text) pairs, checked against the line's catalogue
    extra_config: tuple[tuple[str, str], ...]
    primary_extra_config: tuple[tuple[str, str], ...]
    secondary_extra_config: tuple[tuple[str, str], ...]
    # Names of secret keys that the stack sets. The values never enter Settings: the adapters
    # read them from Pulumi config as secrets.
    secrets_set: frozenset[str] = field(default_factory=frozenset)
    # neo4j:databases: further standard databases, each with its own topology (components/databases.py)
    databases: tuple[dbs.DatabaseSpec, ...] = ()
    # neo4j:composites: composite databases and their local and remote aliases (5.x/2025 Enterprise)
    composites: tuple[dbs.CompositeSpec, ...] = ()
    # neo4j:fabricProxyCount: 4.4's Fabric proxy servers (dbms.mode=SINGLE) that serve the composite; 0 elsewhere
    fabric_proxy_count: int = 0

    @property
    def database_topologies(self) -> tuple[dbs.DatabaseTopology, ...]:
        """Every standard database the stack manages, the default one first, each with its own topology."""
        return dbs.resolve(self.databases, self.database, self.core_count, self.replica_count)

    @property
    def clustered(self) -> bool:
        return self.core_count > 1 or self.replica_count > 0

    @property
    def backs_up_in_chains(self) -> bool:
        """Enterprise 5.26 and 2025: a full backup and differentials on schedules of their own. Community dumps
        offline (Neo4j stops), and 4.4 has no --restore-until: both keep one daily backup."""
        return self.edition == "enterprise" and self.version_line != "4.4"

    @property
    def backup_chain_days(self) -> int:
        """The longest a backup chain grows, in whole days: a differential is useless without the full backup that
        starts its chain, so whatever keeps backups (the bucket's Object Lock and expiry) keeps each one this much
        longer than the retention. Chains: the longest gap between two runs of neo4j:backupFullSchedule. 4.4's
        chains: backup.py's --full-every-days (its default, which the timer uses); Community dumps stand alone."""
        if self.backs_up_in_chains:
            return math.ceil(longest_gap(parse_calendar(self.backup_full_schedule)) / 86400)
        return FULL_EVERY_DAYS

    @property
    def apt_signing_key_url(self) -> str:
        """Where the boot fetches the repository's key; "" when the stack gives its text (apt_signing_key_text)."""
        if self.apt_signing_key_text:
            return ""
        return self.apt_signing_key or f"{self.apt_repository_url}/{NEO4J_APT_KEY_FILE}"

    @property
    def apt_signing_key_text(self) -> str:
        """The armored key the stack gives inline (neo4j:aptSigningKey), "" when the boot fetches it."""
        return self.apt_signing_key if self.apt_signing_key.startswith(ARMORED_KEY_BEGIN) else ""

    @property
    def server_count(self) -> int:
        return self.core_count + self.replica_count


# --- value parsers: each returns the parsed value or raises ValueError("what is allowed") ----------


def _decode(value: Any) -> Any:
    # Pulumi hands structured config to the program as JSON text; YAML files give it parsed.
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise ValueError("valid JSON (a list or an object)") from None
    return value


def _one_of(*allowed: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if str(value) not in allowed:
            raise ValueError("one of " + ", ".join(allowed))
        return str(value)
    return parse


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise ValueError("true or false")


def _integer(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        try:
            number = int(str(value))
        except ValueError:
            raise ValueError(f"a whole number from {low} to {high}") from None
        if not low <= number <= high:
            raise ValueError(f"a whole number from {low} to {high}")
        return number
    return parse


def _text(pattern: re.Pattern[str], allowed: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, (str, int)) or not pattern.match(str(value)):
            raise ValueError(allowed)
        return str(value)
    return parse


def _size(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return parse_size(str(value))
    except ValueError:
        raise ValueError("a size such as 512m, 8g or 16GiB") from None


def _instance_type(value: Any) -> str:
    if str(value) not in INSTANCE_TYPES:
        close = difflib.get_close_matches(str(value), INSTANCE_TYPES, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(f"an EC2 instance type this project knows the memory of{hint}; "
                         f"see components/instance_types.py")
    return str(value)


def _cidr(value: Any) -> str:
    try:
        return str(ipaddress.IPv4Network(str(value), strict=True))
    except ValueError:
        raise ValueError("an IPv4 CIDR with its host bits zero, such as 10.42.0.0/16") from None


def _cidr_list(value: Any) -> tuple[str, ...]:
    value = _decode(value)
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        raise ValueError("a list of IPv4 or IPv6 CIDRs such as [\"203.0.113.0/24\", \"2001:db8::/32\"]")
    bad = []
    for item in value:
        try:
            ipaddress.ip_network(str(item), strict=True)
        except ValueError:
            bad.append(str(item))
    if bad:
        raise ValueError(f"IPv4 or IPv6 CIDRs with their host bits zero, such as 203.0.113.0/24 or 2001:db8::/32 "
                         f"({', '.join(bad)} is not)")
    return tuple(str(ipaddress.ip_network(str(item))) for item in value)


def _zones(value: Any) -> tuple[str, ...]:
    value = _decode(value)
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not value or not all(
            isinstance(z, str) and re.match(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$", z) for z in value):
        raise ValueError("a non-empty list of zone names such as [\"eu-west-1a\", \"eu-west-1b\"]")
    if len(set(value)) != len(value):
        raise ValueError("zone names without repeats")
    return tuple(value)


def _named_entries(list_field: str, example: str, make: Callable[[str, tuple[str, ...]], Any]):
    """Parser of a list of {"name": …, <list_field>: [...]} objects (users and their roles, roles and
    their privileges)."""
    allowed = f"a list of {example}"

    def parse(value: Any) -> tuple:
        value = _decode(value)
        if not isinstance(value, list):
            raise ValueError(allowed)
        entries = []
        for item in value:
            if not (isinstance(item, dict) and _NAME.match(str(item.get("name", "")))
                    and isinstance(item.get(list_field, []), list)):
                raise ValueError(allowed + " (names: letters, digits, _)")
            entries.append(make(item["name"], tuple(str(x) for x in item.get(list_field, []))))
        return tuple(entries)
    return parse


_users = _named_entries("roles", '{"name": "analyst", "roles": ["reader"]}', UserSpec)
_roles = _named_entries("privileges", '{"name": "data_scientist", "privileges": ["MATCH {*} ON GRAPH neo4j"]}',
                        RoleSpec)


_DATABASE_FIELDS = {"name", "primaries", "secondaries", "seedUri", "wait"}
_DATABASES_ALLOWED = ('a list of {name, primaries?, secondaries?, seedUri?, wait?} such as '
                      '[{"name": "sales", "primaries": 3, "secondaries": 1}]')


def _databases(value: Any) -> tuple[dbs.DatabaseSpec, ...]:
    """neo4j:databases: the shape of each entry (the naming rules and topology limits are _databases_fit's)."""
    value = _decode(value)
    if not isinstance(value, list):
        raise ValueError(_DATABASES_ALLOWED)
    specs = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or set(item) - _DATABASE_FIELDS:
            extra = sorted(set(item) - _DATABASE_FIELDS) if isinstance(item, dict) else []
            raise ValueError(_DATABASES_ALLOWED + (f" (unknown field {', '.join(extra)})" if extra else ""))
        counts = []
        for field_name in ("primaries", "secondaries"):
            count = item.get(field_name)
            if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
                raise ValueError(f"{field_name} of {item['name']}: a whole number")
            counts.append(count)
        seed = item.get("seedUri", "") or ""
        if seed and not (isinstance(seed, str) and dbs.SEED_URI.match(seed)):
            raise ValueError(f"seedUri of {item['name']}: a URI of a backup: {', '.join(dbs.SEED_SCHEMES)}")
        wait = item.get("wait", False)
        if not isinstance(wait, bool):
            raise ValueError(f"wait of {item['name']}: true or false")
        specs.append(dbs.DatabaseSpec(item["name"], counts[0], counts[1], seed, wait))
    return tuple(specs)


_COMPOSITES_ALLOWED = ('a list of {name, aliases: [{name, database} or {name, database, uri, user, sslEnforced?}]} '
                       'such as [{"name": "library", "aliases": [{"name": "sales", "database": "sales"}]}]')
_ALIAS_FIELDS = {"name", "database", "uri", "user", "sslEnforced"}


def _composites(value: Any) -> tuple[dbs.CompositeSpec, ...]:
    """neo4j:composites: the shape of each entry (names, targets and URIs are checked by _composites_fit)."""
    value = _decode(value)
    if not isinstance(value, list):
        raise ValueError(_COMPOSITES_ALLOWED)
    composites = []
    for item in value:
        if not (isinstance(item, dict) and isinstance(item.get("name"), str) and set(item) <= {"name", "aliases"}
                and isinstance(item.get("aliases", []), list)):
            raise ValueError(_COMPOSITES_ALLOWED)
        aliases = []
        for alias in item.get("aliases", []):
            if not (isinstance(alias, dict) and isinstance(alias.get("name"), str)
                    and isinstance(alias.get("database"), str) and set(alias) <= _ALIAS_FIELDS
                    and all(isinstance(alias.get(f, ""), str) for f in ("uri", "user"))
                    and isinstance(alias.get("sslEnforced", True), bool)):
                raise ValueError(_COMPOSITES_ALLOWED + f" (alias {alias!r} of {item['name']})")
            aliases.append(dbs.AliasSpec(alias["name"], alias["database"], alias.get("uri", ""), alias.get("user", ""),
                                         alias.get("sslEnforced", True)))
        composites.append(dbs.CompositeSpec(item["name"], tuple(aliases)))
    return tuple(composites)


def _server_names(value: Any) -> tuple[str, ...]:
    names = json.loads(value) if isinstance(value, str) and value.startswith("[") else value
    if isinstance(names, str):
        names = [names] if names else []
    if not isinstance(names, list) or not all(isinstance(n, str) and _SERVER_NAME.match(n) for n in names):
        raise ValueError("a list of server names such as core-2, replica-1, haproxy-1")
    return tuple(names)


def _plugin_keys(value: Any) -> tuple[str, ...]:
    """neo4j:plugins: the shape (a list of names, each once); which names a line ships is _plugins_of_the_line's."""
    value = _decode(value)
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(k, str) and k for k in value):
        raise ValueError('a list of plugin names such as ["apoc", "graph-data-science"]')
    if len(set(value)) != len(value):
        raise ValueError("plugin names without repeats")
    return tuple(value)


def _extra_config_map(value: Any) -> tuple[tuple[str, str], ...]:
    from components.neo4j_settings.extra_config import parse_map

    return parse_map(value)


def _on_calendar(value: Any) -> str:
    """A timer's OnCalendar=, checked with systemd's calendar grammar (components/calendar.py)."""
    parse_calendar(value)
    return value.strip()


def _on_calendar_or_off(value: Any) -> str:
    """An OnCalendar= as _on_calendar, or off: "" (no such timer)."""
    if isinstance(value, str) and value.strip().lower() == "off":
        return ""
    try:
        return _on_calendar(value)
    except ValueError as allowed:
        raise ValueError(f"off, or {allowed}") from None


# --- the keys ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    name: str  # config key without the namespace, camelCase as in Pulumi.<stack>.yaml
    attr: str  # Settings field it fills
    default: Any
    parse: Callable[[Any], Any]
    allowed: str  # shown in the README table
    doc: str
    secret: bool = False
    optional: bool = False  # a secret whose absence changes what is built (neo4j:gdsLicense), not a missing one


_SERVER_NAME = re.compile(r"^((core|replica)-[1-9][0-9]*|haproxy-[12])$")  # haproxy-N: the pair (AWS)
# An https URL: host (name, IPv4 or [IPv6]), optional port, optional path; no credentials, query or spaces.
_S3_ENDPOINT = re.compile(r"^(https://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)"
                          r"(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?)?$")

# Neo4j's Debian repository (Operations Manual, installation/linux/debian.adoc) and the key it signs with, served
# at its root: what setup-neo4j.sh adds when the stack names no mirror.
NEO4J_APT_REPOSITORY = "https://debian.neo4j.com"
NEO4J_APT_KEY_FILE = "neotechnology.gpg.key"
# A repository or key URL: http(s), host (name, IPv4 or [IPv6]), optional port, optional path; no credentials,
# query, quotes or spaces (it goes into sources.list and the boot script as it is).
_APT_URL = re.compile(r"^(?P<scheme>https?)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)"
                      r"(:[0-9]{1,5})?(/[A-Za-z0-9._~/+-]*)?$")
# An ASCII-armored OpenPGP public key (RFC 4880, section 6.2): the header line, armor headers, a blank line, base64
# lines, the checksum, the tail line. Nothing else, so it travels in a quoted here-document of the boot script.
_ARMORED_KEY = re.compile(r"\A-----BEGIN PGP PUBLIC KEY BLOCK-----\n(?:[A-Za-z][A-Za-z0-9-]*: [^\n]*\n)*\n"
                          r"(?:[A-Za-z0-9+/=]+\n)+-----END PGP PUBLIC KEY BLOCK-----\n?\Z")
ARMORED_KEY_BEGIN = "-----BEGIN PGP PUBLIC KEY BLOCK-----"


def _apt_repository_url(value: Any) -> str:
    if not isinstance(value, str) or not _APT_URL.match(value.strip()):
        raise ValueError("an https URL of Neo4j's Debian repository or a mirror of it, such as "
                         "https://artifacts.example.com/debian-neo4j (no query or credentials)")
    return value.strip().rstrip("/")


def _apt_signing_key(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("empty, an https URL of the key, or the ASCII-armored public key")
    text = value.strip()
    if not text:
        return ""
    if text.startswith(ARMORED_KEY_BEGIN):
        text = "\n".join(line.strip() for line in text.replace("\r\n", "\n").split("\n")) + "\n"
        if not _ARMORED_KEY.match(text):
            raise ValueError("an ASCII-armored public key (-----BEGIN PGP PUBLIC KEY BLOCK----- ... -----END PGP "
                             "PUBLIC KEY BLOCK-----, as `gpg --armor --export` writes it)")
        return text
    if not _APT_URL.match(text):
        raise ValueError("empty, an https URL of the key, or the ASCII-armored public key "
                         "(-----BEGIN PGP PUBLIC KEY BLOCK-----...)")
    return text


KEYS: tuple[Key, ...] = (
    Key("platform", "platform", "aws", _one_of(*PLATFORMS), "aws, docker",
        "Where the cluster runs: EC2 in a VPC, or containers on the local Docker engine."),
    Key("version", "version", "5.26.30", _text(_VERSION, "x.y.z"), "4.4.z, 5.26.z, 2025.mm.z and later",
        "Neo4j release; its line picks the neo4j.conf dialect."),
    Key("edition", "edition", "enterprise", _one_of(*EDITIONS), "enterprise, community",
        "Neo4j edition. Clustering, metrics and online backup need enterprise."),
    Key("acceptLicense", "accept_license", False, _boolean, "true, false",
        "You accept the Neo4j Enterprise licence (or hold a commercial one). Required for enterprise."),
    Key("coreCount", "core_count", 3, _integer(1, 11), CORE_COUNTS,
        "Primary (core) servers; they vote, so an odd count. Tolerates (n-1)/2 failures."),
    Key("replicaCount", "replica_count", 0, _integer(0, 50), "0 to 50",
        "Secondary servers (read replicas) that scale reads."),
    Key("coreInstanceType", "core_instance_type", "r6i.xlarge", _instance_type, "a type in instance_types.py",
        "EC2 type of the primaries; its memory sizes heap and page cache."),
    Key("replicaInstanceType", "replica_instance_type", "r6i.xlarge", _instance_type, "a type in instance_types.py",
        "EC2 type of the secondaries."),
    Key("haproxyInstanceType", "haproxy_instance_type", "t3.small", _instance_type, "a type in instance_types.py",
        "EC2 type of the two HAProxy nodes (haproxy-1, haproxy-2)."),
    Key("monitoringInstanceType", "monitoring_instance_type", "t3.medium", _instance_type,
        "a type in instance_types.py", "EC2 type of the Prometheus + Grafana node."),
    Key("containerMemory", "container_memory", "2g", _size, "a size, 1g or more",
        "Memory limit of each Neo4j container (docker platform); sizes heap and page cache there."),
    Key("dataVolumeSizeGb", "data_volume_size_gb", 100, _integer(10, 16384), "10 to 16384",
        "Encrypted gp3 data volume per server, in GB. Growing it resizes the volumes in place; the filesystem "
        "grows within 5 minutes, while Neo4j runs (grow-data-volume.timer on each server). EBS cannot shrink "
        "a volume."),
    Key("dataVolumesDeletable", "data_volumes_deletable", False, _boolean, "true, false",
        "You mean `pulumi destroy` (or removing a server) to delete the data volumes (the Neo4j servers' and "
        "Prometheus's). Default: the volumes are protected and kept when their instance or the stack goes."),
    Key("region", "region", "us-east-1",
        _text(re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$"), "an AWS region such as eu-west-1"),
        "an AWS region", "AWS region."),
    Key("availabilityZones", "availability_zones", None, _zones, "zone names of the region",
        "Zones the servers are spread over, round-robin. Default: <region>a, <region>b, <region>c."),
    Key("vpcCidr", "vpc_cidr", "10.42.0.0/16", _cidr, "an IPv4 CIDR, /16 to /24",
        "Address range of the VPC."),
    Key("clientCidrs", "client_cidrs", [], _cidr_list, "a list of IPv4 or IPv6 CIDRs; /0 only with allowWorldAccess",
        "Who may reach Bolt (through HAProxy and directly). Empty: only inside the VPC."),
    Key("adminCidrs", "admin_cidrs", [], _cidr_list, "a list of IPv4 or IPv6 CIDRs; /0 only with allowWorldAccess",
        "Who may reach Grafana (Prometheus listens on the monitoring node's loopback, behind Grafana; the HAProxy "
        "stats page on each HAProxy node's; reach either through a Session Manager port forward)."),
    Key("allowWorldAccess", "allow_world_access", False, _boolean, "true, false",
        "You mean to open clientCidrs/adminCidrs to the whole internet (0.0.0.0/0 or ::/0); without it such a "
        "range is refused."),
    Key("tls", "tls", "required", _one_of(*TLS_LEVELS), "disabled, optional, required",
        "Bolt/HTTPS TLS: off, offered, or required (required also encrypts cluster and backup traffic). Required "
        "by default, as the operations guide asks of Bolt; a stack that offers less says so in its file."),
    # Only text here: the naming rules are the version line's (_default_database_named_by_the_rules).
    Key("database", "database", "neo4j", _text(re.compile(r"^.+\Z", re.S), "a database name"),
        "a database name by Neo4j's naming rules of the line; not system",
        "Default database: health checks, backups and checks use it."),
    Key("databases", "databases", [], _databases, "list of {name, primaries?, secondaries?, seedUri?, wait?}",
        "Further standard databases (5.x/2025 Enterprise: each with its own topology, default the stack's counts; "
        "seedUri: created from that backup; wait: CREATE waits until it is online), created by `make databases` "
        "(scripts/databases.py), never dropped. Names follow Neo4j's naming rules of the line."),
    Key("composites", "composites", [], _composites, "list of {name, aliases}",
        "Composite databases (5.x/2025 Enterprise; 4.4 Enterprise: one, through neo4j:fabricProxyCount), each with "
        "local aliases {name, database} to a database of the stack and remote aliases {name, database, uri, user, "
        "sslEnforced?} whose password is the secret neo4j:aliasPasswords; a secured URI scheme (neo4j+s) unless "
        "sslEnforced: false. Created by `make databases` after the standard databases, the composite before its "
        "aliases; never dropped."),
    Key("fabricProxyCount", "fabric_proxy_count", 0, _integer(0, 5), "0 to 5; 4.4 only",
        "Neo4j 4.4: Fabric proxy servers (fabric-1, …; dbms.mode=SINGLE, outside the causal cluster) serving the one "
        "composite of neo4j:composites as the Fabric database, each local alias a fabric.graph (remote aliases are "
        "refused on 4.4: Fabric connects with the caller's credentials). Composites on 4.4 need 1 or more. AWS: an "
        "EC2 machine each (replicaInstanceType), reached on Bolt from clientCidrs; Docker: a container each."),
    Key("aliasPasswords", "", None, str, "secret object",
        "Passwords of the remote aliases of neo4j:composites, by <composite>.<alias>.", secret=True),
    Key("aliasKeystore", "", None, str, "secret",
        "The PKCS12 keystore (base64) holding the AES key remote aliases' passwords are encrypted with in the system "
        "database; made once by `scripts/databases.py --create-alias-keystore`, never replaced.", secret=True),
    Key("aliasKeystorePassword", "", None, str, "secret", "The password of neo4j:aliasKeystore.", secret=True),
    Key("users", "users", [], _users, 'list of {name, roles}; not neo4j, cert_renewal, topology_join, backup_job',
        "Users to create; passwords come from the secret neo4j:userPasswords (an object name → password)."),
    Key("roles", "roles", [], _roles, 'list of {name, privileges}; not a built-in role nor cert_renewal, '
        'topology_join, backup_job',
        "Custom roles and their privileges (GRANT <privilege> TO <role>)."),
    Key("backupSchedule", "backup_schedule", "*-*-* 02:00:00 UTC", _on_calendar,
        "a systemd calendar event in UTC that recurs", "Community and 4.4: when the daily backup runs (a "
        "Community dump stops Neo4j; 4.4 has no point-in-time restore). Enterprise 5.26 and 2025 use "
        "backupFullSchedule and backupDiffSchedule instead."),
    Key("backupFullSchedule", "backup_full_schedule", "Sun *-*-* 02:00:00 UTC", _on_calendar,
        "a systemd calendar event in UTC that recurs", "Enterprise 5.26 and 2025: when a full backup starts "
        "a new chain of each database (neo4j-backup-full.timer)."),
    Key("backupDiffSchedule", "backup_diff_schedule", "*-*-* *:00/15:00 UTC", _on_calendar_or_off,
        "off, or a systemd calendar event in UTC that recurs", "Enterprise 5.26 and 2025: when a "
        "differential backup extends the newest complete chain (neo4j-backup-diff.timer); its interval is "
        "the recovery point objective `make plan` prints, and `restore.py --until` reaches any moment it "
        "covers. Default every 15 minutes (prod); Pulumi.dev.yaml takes hourly; off: full backups only."),
    Key("backupRetentionDays", "backup_retention_days", 30, _integer(1, 3650), "1 to 3650",
        "Days a backup is kept in S3 before the lifecycle rule expires it."),
    Key("backupTransitionDays", "backup_transition_days", 0, _integer(0, 3650),
        "0, or a day that leaves the class's minimum storage duration before the expiry",
        "Days before a backup moves to the colder storage class (0: never). The class's minimum storage duration "
        "(IA 30 days, GLACIER_IR and GLACIER 90, DEEP_ARCHIVE 180) must fit before the expiry, else S3 bills "
        "deleted backups: hence 0 with the default 30-day retention; e.g. retention 120 with GLACIER_IR at 30."),
    Key("backupTransitionStorageClass", "backup_transition_storage_class", "GLACIER_IR",
        _one_of(*S3_STORAGE_CLASSES), ", ".join(S3_STORAGE_CLASSES),
        "Colder S3 storage class for older backups (used when backupTransitionDays is not 0)."),
    Key("backupLocalRetentionDays", "backup_local_retention_days", 3, _integer(1, 365), "1 to 365",
        "Days backups stay in the backup server's staging directory (the newest is always kept)."),
    Key("monitoring", "monitoring", True, _boolean, "true, false", "Deploy the Prometheus + Grafana node."),
    Key("haproxy", "haproxy", True, _boolean, "true, false",
        "Deploy HAProxy in front of the cluster: a pair behind a load balancer on AWS, one container on Docker."),
    Key("heapSize", "heap_size", None, _size, "a size such as 8g", "Heap override (initial = max)."),
    Key("pageCacheSize", "page_cache_size", None, _size, "a size such as 16g", "Page cache override."),
    Key("txLogRetention", "tx_log_retention", "2 days 2G",
        _text(_RETENTION, "a retention policy such as \"2 days 2G\""),
        "\"<n> days|hours|files|size|txs [<size cap>]\"",
        "How long transaction logs are kept; the default also caps them at 2G, as Neo4j's shipped conf does."),
    Key("txLogRotationSize", "tx_log_rotation_size", "256M", _text(re.compile(r"^\d+[kKmMgG]$"), "a size such as 256M"),
        "a size such as 256M", "Transaction log file size at which it rotates."),
    Key("slowQueryThreshold", "slow_query_threshold", "1s", _text(_DURATION, "a duration such as 1s or 500ms"),
        "a duration such as 1s", "Queries slower than this are written to query.log."),
    Key("gcMaxPauseMillis", "gc_max_pause_millis", 200, _integer(10, 10000), "10 to 10000",
        "G1 pause-time goal (-XX:MaxGCPauseMillis)."),
    Key("authEnabled", "auth_enabled", True, _boolean, "true, false; false only with allowNoAuthentication",
        "Require authentication (dbms.security.auth_enabled)."),
    Key("usageReport", "usage_report", False, _boolean, "true, false",
        "Let 5.26 and 2025 servers send Neo4j's usage data report (dbms.usage_report.enabled, Neo4j's default "
        "true; https://neo4j.com/docs/usage_data lists what it sends). Off unless you opt in: a production "
        "server reports nothing to a third party on its own."),
    Key("allowNoAuthentication", "allow_no_authentication", False, _boolean, "true, false",
        "You mean to run Neo4j without authentication (authEnabled: false): anyone who reaches Bolt or HTTP is "
        "an administrator; without it authEnabled: false is refused."),
    Key("adminPassword", "", None, str, "secret", "Password of the neo4j admin user.", secret=True),
    Key("grafanaAdminPassword", "", None, str, "secret", "Password of Grafana's admin user.", secret=True),
    Key("userPasswords", "", None, str, "secret object", "Passwords of neo4j:users, by user name.", secret=True),
    Key("secretRecoveryWindowDays", "secret_recovery_window_days", 30, _integer(7, 30), "7 to 30",
        "Days a deleted Secrets Manager secret (passwords, TLS keys) can still be restored (AWS allows 7 to 30); "
        "meanwhile its name is taken: restore it, or delete it for good, before re-creating a destroyed stack."),
    Key("natGatewayPerZone", "nat_gateway_per_zone", True, _boolean, "true, false",
        "One NAT gateway per zone, so a zone outage cuts no other zone's outbound traffic; false: one (cheaper, dev)."),
    Key("egress", "egress", "endpoints", _one_of("endpoints", "open"), "endpoints, open",
        "What the machines may reach outside the VPC. endpoints: the AWS APIs they call only through interface "
        "VPC endpoints in every zone (Secrets Manager, SSM, ssmmessages, ec2messages, CloudWatch Logs, EC2) and S3 "
        "through its gateway endpoint, plus the package mirrors their boot installs from (HTTP 80; HTTPS 443 for "
        "the Neo4j servers' and the monitoring node's repositories and PyPI, and for every machine the Snap Store, "
        "where Ubuntu 24.04 gets the AWS CLI). Costs 6 endpoints x zones x AWS's hourly endpoint price (about "
        "USD 0.01 an endpoint-zone hour in us-east-1: ~USD 130 a month for 3 zones) plus a per-GB charge. open: "
        "every group reaches 0.0.0.0/0 on 80 and 443 and the AWS APIs through the NAT gateway (no endpoint cost); "
        "say so explicitly, as dev does."),
    Key("haproxyPublic", "haproxy_public", False, _boolean, "true, false",
        "The HAProxy pair's load balancer internet-facing in the public subnets; false: internal, reached from the "
        "VPC and peered networks."),
    Key("amiId", "ami_id", "", _text(re.compile(r"^(ami-[0-9a-f]{8,17})?$"), "an AMI id such as ami-0123456789abcdef0"),
        "an AMI id, or empty", "Image of every instance (must match every instance type's architecture). "
        "Empty: the newest Ubuntu 24.04 LTS (noble) of each type's architecture, from Canonical's account. The boot "
        "scripts also run on Ubuntu 22.04 and Debian 12 images (README, Images)."),
    Key("aptRepositoryUrl", "apt_repository_url", NEO4J_APT_REPOSITORY, _apt_repository_url,
        "an https URL; http only with aptRepositoryAllowHttp",
        "Neo4j's Debian repository, or a mirror of it (Artifactory, Nexus, aptly; air-gapped and proxied installs): "
        "the servers' and Fabric proxies' boot adds `deb [signed-by=...] <url> stable <line's component>` and "
        "installs Neo4j from it; the security groups' package rule names its host and port."),
    Key("aptRepositoryAllowHttp", "apt_repository_allow_http", False, _boolean, "true, false",
        "You mean to install Neo4j from a repository over plain http (aptRepositoryUrl http://...): apt still checks "
        "the signatures, but anyone on the path sees what is installed and can hold back updates; without it an "
        "http URL is refused. The key never travels over http (aptSigningKey: its text or an https URL)."),
    Key("aptSigningKey", "apt_signing_key", "", _apt_signing_key,
        "empty, an https URL, or the ASCII-armored public key",
        "The key the repository's Release file is signed with (apt checks every package against it). Empty: "
        "`<aptRepositoryUrl>/neotechnology.gpg.key`, where Neo4j's repository and a mirror of its whole site serve "
        "Neo4j's key; a URL: fetched at boot (a mirror that signs with its own key); the key's text (a YAML block, "
        "`gpg --armor --export`): written by the boot, which then fetches nothing but the repository (air-gapped)."),
    Key("backupReplicaRegion", "backup_replica_region", "",
        _text(re.compile(r"^([a-z]{2}(-[a-z]+)+-\d)?$"), "an AWS region such as eu-central-1, or empty"),
        "an AWS region, or empty", "Replicate backups to a bucket in this second region. Empty: no replica."),
    Key("backupReplicaAccountId", "backup_replica_account_id", "",
        _text(re.compile(r"^(\d{12})?\Z"), "a 12-digit AWS account id, or empty"),
        "a 12-digit AWS account id, or empty",
        "Another AWS account that owns the off-site replica (with backupReplicaBucket and backupReplicaKeyArn): this "
        "account creates no replica bucket, the replicas become that account's, and the plan writes that account's "
        "bucket policy, key policy and bucket settings to build/<stack>/offsite-account/. Empty: the stack makes "
        "the replica bucket itself."),
    Key("backupReplicaBucket", "backup_replica_bucket", "",
        _text(re.compile(r"^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])?\Z"), "an S3 bucket name, or empty"),
        "an S3 bucket name, or empty",
        "The other account's replica bucket in backupReplicaRegion (Object Lock enabled when it is created)."),
    Key("backupReplicaKeyArn", "backup_replica_key_arn", "",
        _text(re.compile(r"^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[a-zA-Z0-9-]+)?\Z"),
              "a KMS key ARN such as arn:aws:kms:eu-central-1:210987654321:key/…, or empty"),
        "a KMS key ARN, or empty", "The other account's KMS key (in backupReplicaRegion) the replicas are encrypted "
        "with."),
    Key("backupNoncurrentDays", "backup_noncurrent_days", 7, _integer(1, 3650), "1 to 3650",
        "Days the old version of an overwritten or deleted backup object is kept before it expires."),
    Key("backupS3Endpoint", "backup_s3_endpoint", "",
        _text(_S3_ENDPOINT, "an https URL such as https://minio.example.com:9000, or empty for AWS S3"),
        "an https URL, or empty", "S3-compatible store (MinIO, Ceph, ...) for every backup and restore path, "
        "neo4j-admin included (AWS_ENDPOINT_URL_S3). Empty: AWS S3."),
    Key("restoreDrillMaxAgeDays", "restore_drill_max_age_days", 8, _integer(8, 365), "8 to 365",
        "Days since the last successful restore drill after which Neo4jRestoreDrillTooOld fires (the drill runs "
        "weekly, so 8 is the least that does not fire between two good drills)."),
    Key("upgradeMaxBackupAgeHours", "upgrade_max_backup_age_hours", 24, _integer(1, 720), "1 to 720",
        "`make upgrade` starts only when every database (system too) has a backup whose consistency check passed, "
        "completed within this many hours (read from the bucket's manifests); else it stops before any server."),
    Key("drillMaxWriteOutageSeconds", "drill_max_write_outage_seconds", 30, _integer(1, 600), "1 to 600",
        "`make drill` exits 1 when, after it stops the leader, writes through the entry point fail for longer than "
        "this many seconds before a new leader accepts them."),
    Key("drillMaxLostWrites", "drill_max_lost_writes", 0, _integer(0, 100000), "0 to 100000",
        "`make drill` exits 1 when more of its load's writes than this fail for good (each write is retried for 30 s, "
        "a driver's default, or drillMaxWriteOutageSeconds when longer, before it counts as lost)."),
    Key("drillMaxRecoverySeconds", "drill_max_recovery_seconds", 600, _integer(10, 7200), "10 to 7200",
        "`make drill` exits 1 when the stopped server is not back and caught up (answering, a member again, hosting "
        "its databases, holding every write the load made) within this many seconds of its start."),
    Key("failoverDrillMaxAgeDays", "failover_drill_max_age_days", 35, _integer(1, 365), "1 to 365",
        "Days since the last passed failover drill (`make drill`) after which Neo4jFailoverDrillTooOld fires "
        "(a monthly drill plus a few days)."),
    Key("plugins", "plugins", [], _plugin_keys, "per line, what its package ships in labs/ and products/: 4.4 "
        "apoc-core, graph-data-science, fleet-management (4.4.45+); 5.26 and 2025 apoc, graph-data-science, genai, "
        "fleet-management (5.26.12+, 2025.08 to 2026.02)",
        "Plugins installed at boot from the Neo4j package's own labs/ and products/ directories (no download), with "
        "dbms.security.procedures.unrestricted and allowlist narrowed to their namespaces. APOC and the others go on "
        "every server; graph-data-science on the one server of a standalone stack, else on one secondary dedicated "
        "to it (the GDS manual's cluster rule; a cluster without secondaries is refused)."),
    Key("gdsLicense", "", None, str, "secret (optional)",
        "The Graph Data Science Enterprise licence key (the file's text). Given, it is installed on the servers that "
        "run graph-data-science alone (Secrets Manager secret read by their roles only; a file in the Docker "
        "containers) and gds.enterprise.license_file names it; without it GDS runs its Community features.",
        secret=True, optional=True),
    Key("extraConfig", "extra_config", {}, _extra_config_map, "a map of neo4j.conf settings of the stack's line",
        "Any further neo4j.conf setting of the line, written into every server's neo4j.conf (AWS and Docker alike), "
        "e.g. {db.transaction.timeout: 30s} (4.4: dbms.transaction.timeout). Checked before anything renders: the "
        "name against the line's settings in the Operations Manual (did-you-mean), the value by the setting's type, "
        "Enterprise-only settings refused on community, and a setting the program sets itself (cluster membership, "
        "addresses, TLS, memory, directories, auth, logs it sizes) refused naming the key that controls it."),
    Key("primaryExtraConfig", "primary_extra_config", {}, _extra_config_map,
        "a map of neo4j.conf settings of the stack's line",
        "As extraConfig, for the primaries (cores) only; where both set a setting, this value wins there."),
    Key("secondaryExtraConfig", "secondary_extra_config", {}, _extra_config_map,
        "a map of neo4j.conf settings of the stack's line",
        "As extraConfig, for the secondaries (read replicas) only; where both set a setting, this value wins there."),
    Key("rolloutRelease", "rollout_release", [], _server_names, "server names such as core-2, replica-1",
        "Set by `make rollout` for one step, never by hand: the servers that may take their held-back changes now."),
)
KEYS_BY_NAME = {key.name: key for key in KEYS}


def version_line(version: str) -> str:
    """The neo4j.conf dialect of a release: "4.4", "5" (5.26 LTS) or "2025" (calendar releases).

    The rule is the operator runtime's (scripts/neo4j_ops/shared/versions.py), so deploy and operate agree."""
    return deployable_line(version).name


def _is_secret_value(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def load_settings(stack: str, config: Mapping[str, Any], *, decrypted: bool = False) -> Settings:
    """Validate a stack's config (keys "neo4j:coreCount" or bare "coreCount") into Settings.

    Keys of other namespaces (aws:region, pulumi:…) are ignored, except aws:region as the
    region's fallback. `decrypted`: the config came from the Pulumi engine, which hands secrets
    over in clear; from a stack file a secret must be an encrypted `secure:` value.
    Raises ConfigError listing every problem.
    """
    problems: list[str] = []
    raw: dict[str, Any] = {}
    for full_key, value in config.items():
        namespace, _, name = full_key.rpartition(":")
        if namespace not in ("", NAMESPACE):
            if difflib.get_close_matches(namespace, [NAMESPACE], cutoff=0.7):
                problems.append(f"{full_key}: unknown namespace {namespace!r}; did you mean {NAMESPACE}:{name}?")
            continue
        if name not in KEYS_BY_NAME:
            close = difflib.get_close_matches(name, KEYS_BY_NAME, n=1, cutoff=0.6)
            hint = f"; did you mean {NAMESPACE}:{close[0]}?" if close else "; known keys are listed in README.md"
            problems.append(f"{NAMESPACE}:{name}: unknown key{hint}")
            continue
        raw[name] = value
    if "region" not in raw and "aws:region" in config:
        raw["region"] = config["aws:region"]

    values: dict[str, Any] = {}
    secrets_set = set()
    for key in KEYS:
        if key.secret:
            if raw.get(key.name) not in (None, ""):
                secrets_set.add(key.name)
            continue
        value = raw.get(key.name, key.default)
        if key.name in raw and _is_secret_value(value):
            problems.append(f"{NAMESPACE}:{key.name}: is stored as a secret but is not secret; "
                            f"set it with `pulumi config set {NAMESPACE}:{key.name} <value>`")
            continue
        if value is None and key.default in ("", []):
            value = key.default  # an empty entry (`neo4j:users:`) means what leaving it out means
        if value is None and key.default is None:
            values[key.attr] = None
            continue
        try:
            parsed = key.parse(value) if value is not None else None
        except ValueError as allowed:
            problems.append(f"{NAMESPACE}:{key.name}: got {_show(value)}; allowed: {allowed}")
            continue
        if parsed is None and key.default is not None:  # `neo4j:coreCount:` with nothing after it, or ""
            problems.append(f"{NAMESPACE}:{key.name}: got {'no value' if value is None else _show(value)}; "
                            f"allowed: {key.allowed}, or leave the key out for the default ({_show(key.default)})")
            continue
        values[key.attr] = parsed
    if not decrypted:
        for name in sorted(secrets_set):
            if not _is_secret_value(raw[name]):
                problems.append(f"{NAMESPACE}:{name}: stored in plain text; "
                                f"allowed: a secret, set with `pulumi config set --secret {NAMESPACE}:{name} …`")
    if "version" in values:
        try:
            values["version_line"] = version_line(values["version"])
        except ValueError as allowed:
            problems.append(f"{NAMESPACE}:version: got {_show(values['version'])}; allowed: {allowed}")
    if values.get("version_line") == "4.4" and "txLogRetention" not in raw and "tx_log_retention" in values:
        values["tx_log_retention"] = TX_LOG_RETENTION_44_DEFAULT
    if "availability_zones" in values and values["availability_zones"] is None and "region" in values:
        values["availability_zones"] = tuple(f"{values['region']}{z}" for z in "abc")

    problems.extend(_cross_checks(values))
    problems.extend(_composites_fit(values))
    if problems:
        raise ConfigError(problems)
    return Settings(stack=stack, secrets_set=frozenset(secrets_set), **values)


def _show(value: Any) -> str:
    if isinstance(value, str) and len(value) > 120:  # a key's text (neo4j:aptSigningKey): its start says enough
        return repr(value[:60]) + f"... ({len(value)} characters)"
    return json.dumps(value, default=str) if not isinstance(value, str) else repr(value)


_CHECKS: list[tuple[tuple[str, ...], Callable[[dict[str, Any]], list[str]]]] = []


def _check(*needs: str):
    """Register a check over several keys; it runs only when all of them parsed."""
    def register(function: Callable[[dict[str, Any]], list[str]]):
        _CHECKS.append((needs, function))
        return function
    return register


def _cross_checks(values: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for needs, check in _CHECKS:
        if all(name in values for name in needs):
            problems.extend(check(values))
    return problems


@_check("core_count")
def _odd_cores(v: dict[str, Any]) -> list[str]:
    cores = v["core_count"]
    if cores != 1 and cores % 2 == 0:
        return [f"{NAMESPACE}:coreCount: got {cores}; allowed: {CORE_COUNTS} "
                f"(an even count adds no fault tolerance and can split the vote)"]
    return []


@_check("version_line", "core_count", "replica_count")
def _cluster_of_44_needs_two_cores(v: dict[str, Any]) -> list[str]:
    # 4.4 Operations Manual (neo4j/docs-operations, branch 4.4 @ 139efb54, the commit tests/fixtures/neo4j-settings
    # vendors), clustering/deploy.adoc: causal_clustering.minimum_core_cluster_size_at_formation is
    # "The minimum number of Core instances in the cluster at formation. A cluster will not form without the
    # number of Cores defined by this setting"; configuration-settings.adoc: "an integer which is minimum `2`".
    # So on 4.4 read replicas need at least 2 cores (3 here, as the count is odd); 5.x and 2025 run one primary
    # with secondaries.
    cores, replicas = v["core_count"], v["replica_count"]
    if v["version_line"] == "4.4" and cores == 1 and replicas > 0:
        return [f"{NAMESPACE}:coreCount: got 1 with replicaCount={replicas} on {NAMESPACE}:version "
                f"{v['version']}; allowed on 4.4: 3 or more cores (4.4 forms a cluster from at least 2, "
                f"causal_clustering.minimum_core_cluster_size_at_formation), or replicaCount 0 for a single server, "
                f"or a 5.26.z/2025.mm.z version, which runs one primary with secondaries"]
    return []


@_check("version_line", "tx_log_retention")
def _retention_of_44_has_no_cap(v: dict[str, Any]) -> list[str]:
    if v["version_line"] == "4.4" and not _RETENTION_44.match(v["tx_log_retention"]):
        return [f"{NAMESPACE}:txLogRetention: got {_show(v['tx_log_retention'])} on {NAMESPACE}:version "
                f"{v['version']}; allowed on 4.4: one limit without a size cap, such as \"2 days\" or \"1000 files\" "
                f"(4.4's dbms.tx_log.rotation.retention_policy takes no second value)"]
    return []


@_check("edition", "core_count", "replica_count")
def _community_is_single(v: dict[str, Any]) -> list[str]:
    cores, replicas = v["core_count"], v["replica_count"]
    if v["edition"] == "community" and (cores > 1 or replicas > 0):
        return [f"{NAMESPACE}:edition: got 'community' with coreCount={cores}, replicaCount={replicas}; "
                f"allowed: enterprise for a cluster, or community with coreCount=1 and replicaCount=0"]
    return []


@_check("edition", "accept_license")
def _license(v: dict[str, Any]) -> list[str]:
    if v["edition"] == "enterprise" and not v["accept_license"]:
        return [f"{NAMESPACE}:acceptLicense: got false with edition 'enterprise'; allowed: true "
                f"(you accept the Neo4j licence), or set {NAMESPACE}:edition to community"]
    return []


def _world_access_is_explicit(name: str, attr: str) -> None:
    # A /0 (0.0.0.0/0 or ::/0) is every address there is: allowed only when the stack says so on purpose.
    @_check(attr, "allow_world_access")
    def check(v: dict[str, Any]) -> list[str]:
        world = [cidr for cidr in v[attr] if ipaddress.ip_network(cidr).prefixlen == 0]
        if world and not v["allow_world_access"]:
            return [f"{NAMESPACE}:{name}: got {', '.join(map(repr, world))}, the whole internet; allowed: narrower "
                    f"ranges (prefix length 1 or more), or set {NAMESPACE}:allowWorldAccess: true to open it to "
                    f"everyone on purpose"]
        return []


_world_access_is_explicit("clientCidrs", "client_cidrs")
_world_access_is_explicit("adminCidrs", "admin_cidrs")


@_check("apt_repository_url", "apt_repository_allow_http", "apt_signing_key")
def _apt_repository_over_https(v: dict[str, Any]) -> list[str]:
    # apt checks the Release file's signature with the key, so a repository over http cannot swap packages, but its
    # traffic is readable and can be replayed (older signed indexes): allowed only on purpose. The key decides what
    # apt trusts: never fetched over http.
    url, key = v["apt_repository_url"], v["apt_signing_key"]
    problems = []
    if url.startswith("http://") and not v["apt_repository_allow_http"]:
        problems.append(f"{NAMESPACE}:aptRepositoryUrl: got {url!r}, plain http; allowed: an https URL, or set "
                        f"{NAMESPACE}:aptRepositoryAllowHttp: true to install from it over http on purpose")
    if key.startswith("http://"):
        problems.append(f"{NAMESPACE}:aptSigningKey: got {key!r}, a key over plain http; allowed: an https URL, "
                        f"or the ASCII-armored key itself")
    elif not key and url.startswith("http://"):
        problems.append(f"{NAMESPACE}:aptSigningKey: got none with {NAMESPACE}:aptRepositoryUrl {url!r}, which would "
                        f"fetch the key over plain http; allowed: an https URL of the key, or the ASCII-armored key "
                        f"itself")
    return problems


@_check("auth_enabled", "allow_no_authentication")
def _no_authentication_is_explicit(v: dict[str, Any]) -> list[str]:
    # Without authentication every client is an administrator. Operations Manual, "Authentication and
    # authorization": dbms.security.auth_enabled (Default: true) "Enable auth requirement to access Neo4j. If you
    # need to disable authentication, make sure you block all network connections during the recovery phase so
    # users can connect to Neo4j only via localhost." Allowed only when the stack says so on purpose.
    if not v["auth_enabled"] and not v["allow_no_authentication"]:
        return [f"{NAMESPACE}:authEnabled: got false, which makes every client that reaches Bolt or HTTP an "
                f"administrator; allowed: true, or set {NAMESPACE}:allowNoAuthentication: true to run without "
                f"authentication on purpose"]
    return []


@_check("vpc_cidr")
def _vpc_size(v: dict[str, Any]) -> list[str]:
    prefix = int(v["vpc_cidr"].split("/")[1])
    if not 16 <= prefix <= 24:
        return [f"{NAMESPACE}:vpcCidr: got '{v['vpc_cidr']}'; allowed: a prefix from /16 to /24"]
    return []


@_check("backup_transition_days", "backup_retention_days")
def _transition_before_expiry(v: dict[str, Any]) -> list[str]:
    if v["backup_transition_days"] and v["backup_transition_days"] >= v["backup_retention_days"]:
        return [f"{NAMESPACE}:backupTransitionDays: got {v['backup_transition_days']}; allowed: fewer days than "
                f"{NAMESPACE}:backupRetentionDays ({v['backup_retention_days']}), or 0"]
    return []


@_check("backup_transition_days", "backup_transition_storage_class")
def _infrequent_access_minimum(v: dict[str, Any]) -> list[str]:
    days, storage_class = v["backup_transition_days"], v["backup_transition_storage_class"]
    if days and days < S3_IA_TRANSITION_MINIMUM.get(storage_class, 0):
        return [f"{NAMESPACE}:backupTransitionDays: got {days} with {storage_class}; allowed: 30 or more for "
                f"{storage_class} (an S3 rule), or another {NAMESPACE}:backupTransitionStorageClass such as GLACIER_IR"]
    return []


@_check("backup_transition_days", "backup_retention_days", "backup_transition_storage_class")
def _minimum_storage_before_expiry(v: dict[str, Any]) -> list[str]:
    # A backup lies in the colder class from the transition to the expiry; shorter than the class's minimum
    # storage duration, S3 bills the rest of the minimum for data already deleted.
    days, retention, storage_class = (v["backup_transition_days"], v["backup_retention_days"],
                                      v["backup_transition_storage_class"])
    minimum = S3_MINIMUM_STORAGE_DAYS[storage_class]
    if not days or days >= retention or retention - days >= minimum:
        return []  # no transition, or _transition_before_expiry reports it
    kept = retention - days
    fitting = [c for c in S3_STORAGE_CLASSES
               if S3_MINIMUM_STORAGE_DAYS[c] <= kept and days >= S3_IA_TRANSITION_MINIMUM.get(c, 0)]
    latest = retention - minimum
    options = [f"{NAMESPACE}:backupRetentionDays {days + minimum} or more"]
    if latest >= max(1, S3_IA_TRANSITION_MINIMUM.get(storage_class, 1)):
        options.append(f"{NAMESPACE}:backupTransitionDays {latest} or fewer")
    options.append(f"{NAMESPACE}:backupTransitionDays 0 (no transition)")
    if fitting:
        options.append(f"another {NAMESPACE}:backupTransitionStorageClass ({', '.join(fitting)})")
    return [f"{NAMESPACE}:backupTransitionStorageClass: got {storage_class!r} with {NAMESPACE}:backupTransitionDays="
            f"{days} and {NAMESPACE}:backupRetentionDays={retention}: backups would lie {kept} days in "
            f"{storage_class}, which S3 bills for at least {minimum} days; allowed: " + ", or ".join(options)]


@_check("edition", "version_line", "backup_schedule", "backup_full_schedule", "backup_diff_schedule")
def _schedules_of_the_line(v: dict[str, Any]) -> list[str]:
    # A schedule the stack's line does not run is refused rather than ignored: Enterprise 5.26 and 2025 run the
    # full and differential timers, Community (an offline dump) and 4.4 (no --restore-until) the daily one.
    chains = v["edition"] == "enterprise" and v["version_line"] != "4.4"
    keys = {key.attr: key for key in KEYS}
    unused = ("backup_schedule",) if chains else ("backup_full_schedule", "backup_diff_schedule")
    used = "backupFullSchedule and backupDiffSchedule" if chains else "backupSchedule"
    what = ("Enterprise 5.26 and 2025 back up on" if chains else
            "Community dumps offline and 4.4 has no point-in-time restore: they back up daily on")
    return [f"{NAMESPACE}:{keys[attr].name}: got {_show(v[attr])} with {NAMESPACE}:edition {v['edition']} and "
            f"{NAMESPACE}:version {v['version']}, which do not use it; allowed: leave it out ({what} {used})"
            for attr in unused if v[attr] != keys[attr].parse(keys[attr].default)]


@_check("backup_replica_region", "backup_replica_account_id", "backup_replica_bucket", "backup_replica_key_arn")
def _replica_account(v: dict[str, Any]) -> list[str]:
    account, bucket, key = v["backup_replica_account_id"], v["backup_replica_bucket"], v["backup_replica_key_arn"]
    if not (account or bucket or key):
        return []
    if not (account and bucket and key and v["backup_replica_region"]):
        named = next(name for name, value in (("backupReplicaAccountId", account), ("backupReplicaBucket", bucket),
                                              ("backupReplicaKeyArn", key)) if value)
        return [f"{NAMESPACE}:{named}: got account {account or '(none)'}, bucket {bucket or '(none)'}, "
                f"key {key or '(none)'}, region {v['backup_replica_region'] or '(none)'}; allowed: all four "
                f"(backupReplicaAccountId, backupReplicaBucket, backupReplicaKeyArn, backupReplicaRegion), or none of "
                f"the first three"]
    _, _, _, key_region, key_account, _ = key.split(":", 5)
    if (key_region, key_account) != (v["backup_replica_region"], account):
        return [f"{NAMESPACE}:backupReplicaKeyArn: got a key of account {key_account} in {key_region}; allowed: a key "
                f"of {NAMESPACE}:backupReplicaAccountId ({account}) in {NAMESPACE}:backupReplicaRegion "
                f"({v['backup_replica_region']})"]
    return []


@_check("backup_replica_region", "region")
def _replica_in_another_region(v: dict[str, Any]) -> list[str]:
    if v["backup_replica_region"] and v["backup_replica_region"] == v["region"]:
        return [f"{NAMESPACE}:backupReplicaRegion: got '{v['region']}', the stack's own region; allowed: another "
                f"region (the off-site copy), or empty for none"]
    return []


@_check("platform", "region", "availability_zones")
def _zones_in_region(v: dict[str, Any]) -> list[str]:
    region = v["region"]
    strays = [z for z in v["availability_zones"] if not z.startswith(region)]
    if v["platform"] == "aws" and strays:
        return [f"{NAMESPACE}:availabilityZones: got {', '.join(strays)}; allowed: zones of {NAMESPACE}:region "
                f"({region}a, {region}b, …)"]
    return []


@_check("platform", "haproxy", "availability_zones")
def _haproxy_pair_zones(v: dict[str, Any]) -> list[str]:
    # The HAProxy pair (components/topology.py) puts its two nodes in two zones, so that losing one leaves the other.
    if v["platform"] == "aws" and v["haproxy"] and len(v["availability_zones"] or ()) == 1:
        return [f"{NAMESPACE}:availabilityZones: got only {v['availability_zones'][0]}; the HAProxy pair needs two "
                f"zones (losing a zone must leave an entry point); allowed: two or more zones, or "
                f"{NAMESPACE}:haproxy false"]
    return []


@_check("platform", "core_instance_type", "replica_instance_type", "replica_count", "container_memory",
        "heap_size", "page_cache_size")
def _memory_fits(v: dict[str, Any]) -> list[str]:
    from components.sizing import machine_memory, plan_memory  # sizing reads settings' types

    problems = []
    if v["platform"] == "docker" and v["container_memory"] < 1024 ** 3:
        return [f"{NAMESPACE}:containerMemory: got {_gib(v['container_memory'])}; allowed: 1g or more"]
    roles = [("core", v["core_instance_type"])]
    if v["replica_count"]:
        roles.append(("replica", v["replica_instance_type"]))
    overridden = v["heap_size"] is not None or v["page_cache_size"] is not None
    for role, instance_type in roles:
        ram = machine_memory(v["platform"], instance_type, v["container_memory"])
        plan = plan_memory(ram, heap_override=v["heap_size"], page_cache_override=v["page_cache_size"])
        where = f"the {role} instance type {instance_type}" if v["platform"] == "aws" else "each container"
        # Overrides must leave the OS its reserve. neo4j-admin's own recommendation (no override) is taken as
        # it prints it: rounded to 100 MiB, it may pass the unrounded reserve by a few MiB (56 on 8 GiB).
        allowed = ram - plan.os_reserve if overridden else ram
        if plan.heap + plan.page_cache > allowed or plan.page_cache <= 0:
            problems.append(
                f"{NAMESPACE}:heapSize/{NAMESPACE}:pageCacheSize: got heap {neo4j_size(plan.heap)} + page cache "
                f"{neo4j_size(plan.page_cache)} = {neo4j_size(plan.heap + plan.page_cache)} on {where} "
                f"({neo4j_size(ram)} of RAM); allowed: at most {neo4j_size(ram - plan.os_reserve)} together "
                f"(the RAM less the {neo4j_size(plan.os_reserve)} the OS keeps)")
    return problems


@_check("platform", "core_instance_type", "heap_size", "page_cache_size")
def _backup_job_fits(v: dict[str, Any]) -> list[str]:
    # The backup job runs neo4j-admin (backup, aggregate, check) on core-1 (AWS) beside its running Neo4j:
    # each process is bounded from what core-1's memory plan leaves (components/sizing.py admin_budget).
    from components.sizing import ADMIN_MINIMUM_LEFT, admin_budget, machine_cpus, machine_memory, plan_memory

    if v["platform"] != "aws":
        return []  # no scheduled backup job on Docker
    ram = machine_memory("aws", v["core_instance_type"], 0)
    plan = plan_memory(ram, heap_override=v["heap_size"], page_cache_override=v["page_cache_size"])
    budget = admin_budget(plan, machine_cpus("aws", v["core_instance_type"]))
    overridden = v["heap_size"] is not None or v["page_cache_size"] is not None
    if budget.fits or (overridden and plan.heap + plan.page_cache > ram - plan.os_reserve):
        return []  # fits, or _memory_fits already refuses the plan itself
    return [f"{NAMESPACE}:coreInstanceType/{NAMESPACE}:heapSize/{NAMESPACE}:pageCacheSize: core-1, the backup job's "
            f"host ({v['core_instance_type']}, {neo4j_size(ram)}), keeps {neo4j_size(budget.left)} outside Neo4j's "
            f"heap and page cache; allowed: at least {neo4j_size(ADMIN_MINIMUM_LEFT)} there, half of it for "
            f"neo4j-admin's backup, aggregation and check (a larger instance type, or a smaller heap or page cache)"]


@_check("extra_config", "primary_extra_config", "secondary_extra_config", "version", "version_line", "edition",
        "replica_count")
def _extra_config_checked(v: dict[str, Any]) -> list[str]:
    from components.neo4j_settings.extra_config import problems

    found = []
    if v["secondary_extra_config"] and v["replica_count"] == 0:
        found.append(f"{NAMESPACE}:secondaryExtraConfig: got settings with {NAMESPACE}:replicaCount 0; allowed: "
                     f"none, or {NAMESPACE}:replicaCount 1 or more")
    for name, attr in (("extraConfig", "extra_config"), ("primaryExtraConfig", "primary_extra_config"),
                       ("secondaryExtraConfig", "secondary_extra_config")):
        found += problems(f"{NAMESPACE}:{name}", v[attr], line=v["version_line"], version=v["version"],
                          edition=v["edition"])
    return found


@_check("database", "version_line")
def _default_database_named_by_the_rules(v: dict[str, Any]) -> list[str]:
    # The default database is a standard database like those of neo4j:databases: the same rules of the line, and
    # `system` (Neo4j's own database) is refused with every name beginning with it.
    refusal = dbs.name_refusal(f"{NAMESPACE}:database", v["database"], v["version_line"])
    return [refusal] if refusal else []


@_check("databases", "version_line", "edition", "database", "core_count", "replica_count")
def _databases_fit(v: dict[str, Any]) -> list[str]:
    return dbs.problems(v["databases"], key=f"{NAMESPACE}:databases", line=v["version_line"], edition=v["edition"],
                        default_database=v["database"], core_count=v["core_count"],
                        replica_count=v["replica_count"])


@_check("plugins", "version", "version_line", "core_count", "replica_count")
def _plugins_of_the_line(v: dict[str, Any]) -> list[str]:
    from components.plugins import GDS, GDS_CLUSTER_RULE, shipped_plugins

    shipped = shipped_plugins(v["version"], v["version_line"])
    unknown = [key for key in v["plugins"] if key not in shipped]
    if unknown:
        return [f"{NAMESPACE}:plugins: got {', '.join(map(repr, unknown))} on {NAMESPACE}:version {v['version']}; "
                f"allowed: {', '.join(shipped)} (what Neo4j {v['version']} ships in labs/ and products/)"]
    cores, replicas = v["core_count"], v["replica_count"]
    if GDS in v["plugins"] and (cores > 1 or replicas > 0) and replicas == 0:
        secondary = "Read Replica" if v["version_line"] == "4.4" else "Secondary"
        return [f"{NAMESPACE}:plugins: got {GDS} on a cluster of {cores} primaries and replicaCount 0; allowed: "
                f"{NAMESPACE}:replicaCount 1 or more (GDS runs on a {secondary} dedicated to it, never on a primary: "
                f"\"{GDS_CLUSTER_RULE[v['version_line']]}\", GDS manual, GDS with Neo4j cluster), or leave {GDS} out"]
    return []


def _composites_fit(v: dict[str, Any]) -> list[str]:
    if not all(k in v for k in ("composites", "version_line", "edition", "database", "databases",
                                "fabric_proxy_count")):
        return []
    standard = {v["database"]} | {d.name for d in v["databases"]}
    return dbs.composite_problems(v["composites"], key=f"{NAMESPACE}:composites", line=v["version_line"],
                                  edition=v["edition"], standard=standard, fabric_proxies=v["fabric_proxy_count"],
                                  proxies_key=f"{NAMESPACE}:fabricProxyCount")


@_check("roles", "users", "edition")
def _users_and_roles(v: dict[str, Any]) -> list[str]:
    problems = []
    defined = {role.name for role in v["roles"]}
    clash = defined & set(BUILTIN_ROLES)
    if clash:
        problems.append(f"{NAMESPACE}:roles: got built-in role name(s) {', '.join(sorted(clash))}; "
                        f"allowed: new names (built-ins: {', '.join(BUILTIN_ROLES)})")
    # The stack's own users and their roles (components/reserved_names.py says what configuring one would break).
    jobs = defined & set(JOB_USER_NAMES)
    if jobs:
        problems.append(f"{NAMESPACE}:roles: got the role name(s) {', '.join(sorted(jobs))} of the stack's job "
                        f"users; allowed: other names (reserved: {', '.join(JOB_USER_NAMES)})")
    reserved = (ADMIN_USER, *JOB_USER_NAMES)
    taken = sorted({u.name for u in v["users"]} & set(reserved))
    if taken:
        problems.append(f"{NAMESPACE}:users: got the user name(s) {', '.join(taken)} the stack creates itself "
                        f"(the admin: password neo4j:adminPassword; the job users: their own secrets); "
                        f"allowed: other names (reserved: {', '.join(reserved)})")
    for user in v["users"]:
        unknown = [r for r in user.roles if r not in defined and r not in BUILTIN_ROLES]
        if unknown:
            problems.append(f"{NAMESPACE}:users: user {user.name!r} has unknown role(s) {', '.join(unknown)}; "
                            f"allowed: {', '.join(BUILTIN_ROLES)} or a role in {NAMESPACE}:roles")
    names = [u.name for u in v["users"]]
    if len(set(names)) != len(names):
        problems.append(f"{NAMESPACE}:users: got a user name twice; allowed: unique names")
    if v["edition"] == "community" and (v["roles"] or any(u.roles for u in v["users"])):
        problems.append(f"{NAMESPACE}:roles: roles need edition enterprise (role-based access control); "
                        f"allowed with community: users without roles")
    return problems


def _gib(size: int) -> str:
    return f"{size / 1024 ** 3:.1f}GiB"


def config_reference() -> str:
    """The README's config table: one row per key, from KEYS (a test keeps the README equal to it)."""
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|")

    rows = ["| key | default | allowed | what it changes |", "|---|---|---|---|"]
    for key in KEYS:
        default = "(secret)" if key.secret else ("(none)" if key.default in (None, []) else
                                                  json.dumps(key.default) if not isinstance(key.default, str)
                                                  else key.default)
        rows.append(f"| `{NAMESPACE}:{key.name}` | {cell(default)} | {cell(key.allowed)} | {cell(key.doc)} |")
    return "\n".join(rows)
