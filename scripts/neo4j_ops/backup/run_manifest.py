"""A backup run of the whole DBMS: which databases it covers, and its run manifest (pure: no I/O).

One run backs up every standard database the server lists at run time (SHOW DATABASES on `system`) and
`system` itself, each into its own chain and prefix `<stack>/<database>/<timestamp>/` (layout.py). When all
of them are done, the run manifest is written last:

    s3://<bucket>/<stack>/runs/<UTC timestamp>.json

It lists each database with its backup's prefix and status (complete | failed, with why), and the parts of
the catalogue that are not databases and so have no backup of their own (Operations Manual: "it is not
allowed to take a backup of a database alias, only physical databases can be backed up"): the composite
databases (name, constituents) and the aliases (SHOW ALIASES FOR DATABASE YIELD *: name, composite, database,
location, url, user, driver, properties), so a restore can recreate them after their targets. A remote
alias's password is never recorded: Neo4j does not return it (it keeps it encrypted in `system`); a restore
that recreates a remote alias reads it from the stack's secrets.
"""
from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .layout import is_timestamp

RUNS = "runs"  # <stack>/runs/<timestamp>.json: never a backup prefix (those are <stack>/<database>/<timestamp>/)
RUN_FORMAT = 1
ALL = "*"
SYSTEM = "system"
RUN_STATUSES = ("complete", "failed")
ALIAS_FIELDS = ("name", "composite", "database", "location", "url", "user", "driver", "properties")
# Databases a backup covers: SHOW DATABASES' type (5.x+); 4.4 has no type column (and no composites).
BACKED_UP_TYPES = ("standard", "system")
PASSWORD_NOTE = ("remote aliases' passwords are not recoverable from a backup (Neo4j never returns them): a restore "
                 "that recreates a remote alias reads its password from the stack's secrets")


class RunManifestError(ValueError):
    """A run manifest that cannot be trusted."""


def run_key(stack: str, stamp: str) -> str:
    return f"{stack}/{RUNS}/{stamp}.json"


def wanted_databases(text: str) -> list[str]:
    """backup.py --database: one name, several (comma-separated), glob patterns, or `*` (every database)."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    return list(dict.fromkeys(names))


def is_pattern(name: str) -> bool:
    return any(ch in name for ch in "*?[")


def backed_up(row: Mapping[str, Any]) -> bool:
    return row.get("type", "standard") in BACKED_UP_TYPES


def select_databases(rows: Iterable[Mapping[str, Any]], wanted: list[str]) -> tuple[list[str], list[str]]:
    """(the databases to back up, the names asked for that the server does not list), from SHOW DATABASES rows
    (one per allocation in a cluster). `*` is every standard database and `system`; a pattern matches among them;
    a plain name is taken as asked. `system` first (users, roles, privileges), then by name."""
    rows = list(rows)
    hosted = sorted({str(row["name"]) for row in rows if row.get("name") and backed_up(row)})
    listed = {str(row["name"]) for row in rows if row.get("name")}
    chosen: list[str] = []
    missing: list[str] = []
    for name in wanted:
        if is_pattern(name):
            chosen += [db for db in hosted if fnmatch.fnmatchcase(db, name)]
        elif name in hosted:
            chosen.append(name)
        else:
            missing.append(name if name not in listed else f"{name} (not a standard database)")
    chosen = list(dict.fromkeys(chosen))
    return sorted(chosen, key=lambda db: (db != SYSTEM, db)), missing


@dataclass(frozen=True)
class Composite:
    name: str
    constituents: tuple[str, ...]


@dataclass(frozen=True)
class Alias:
    name: str
    database: str | None  # the target (None: the reader may not see it)
    location: str  # local | remote
    composite: str | None = None  # the composite database it is a constituent of
    url: str | None = None  # remote: where the target is
    user: str | None = None  # remote: the user it connects as (its password is never recorded)
    driver: Mapping[str, Any] | None = None  # remote: driver settings (durations in seconds)
    properties: Mapping[str, Any] | None = None


def composites_of(rows: Iterable[Mapping[str, Any]]) -> list[Composite]:
    """The composite databases in SHOW DATABASES rows (one per name)."""
    found: dict[str, Composite] = {}
    for row in rows:
        if row.get("type") == "composite" and row.get("name"):
            found[str(row["name"])] = Composite(str(row["name"]), tuple(str(c) for c in row.get("constituents") or ()))
    return [found[name] for name in sorted(found)]


def alias_of(row: Mapping[str, Any]) -> Alias:
    """A SHOW ALIASES FOR DATABASE YIELD * row → the alias's definition (only ALIAS_FIELDS: never a password)."""
    return Alias(name=str(row["name"]), database=row.get("database"), location=str(row.get("location") or "local"),
                 composite=row.get("composite"), url=row.get("url"), user=row.get("user"),
                 driver=dict(row["driver"]) if row.get("driver") else None,
                 properties=dict(row["properties"]) if row.get("properties") else None)


@dataclass(frozen=True)
class RunDatabase:
    name: str
    status: str  # complete | failed
    prefix: str | None  # <stack>/<database>/<timestamp>/ (a failed one: where it was going, if it got that far)
    backup_type: str | None = None  # dump | full | differential
    check: str | None = None  # passed | failed | skipped
    error: str | None = None  # why it failed


@dataclass(frozen=True)
class RunManifest:
    stack: str
    timestamp: str
    started: str
    completed: str
    host: str
    neo4j_version: str
    edition: str
    databases: tuple[RunDatabase, ...]
    composites: tuple[Composite, ...] = ()
    aliases: tuple[Alias, ...] = ()
    aliases_read: bool = True  # False: SHOW ALIASES is not available here (Community) or was refused
    notes: tuple[str, ...] = field(default=(PASSWORD_NOTE,))
    format: int = RUN_FORMAT

    @property
    def failed(self) -> list[str]:
        return [db.name for db in self.databases if db.status != "complete"]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def _need(document: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str = "run manifest") -> Any:
    if key not in document:
        raise RunManifestError(f"{where}: no {key!r}")
    value = document[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RunManifestError(f"{where}: {key!r} is {type(value).__name__}")
    return value


def _optional(document: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = document.get(key)
    if value is not None and not isinstance(value, kind):
        raise RunManifestError(f"{where}: {key!r} is {type(value).__name__}")
    return value


def _no_password(value: Any, where: str) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if "password" in str(key).lower():
                raise RunManifestError(f"{where}: holds a password ({key!r}); a run manifest never does")
            _no_password(inner, where)
    elif isinstance(value, list):
        for inner in value:
            _no_password(inner, where)


def parse_run_manifest(data: bytes | str, *, expect_stack: str | None = None,
                       expect_timestamp: str | None = None) -> RunManifest:
    """Read and check a run manifest; raises RunManifestError saying what is wrong."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise RunManifestError(f"not JSON ({error})") from None
    if not isinstance(document, dict):
        raise RunManifestError("not a JSON object")
    if _need(document, "format", int) != RUN_FORMAT:
        raise RunManifestError(f"format {document['format']} is not {RUN_FORMAT}: written by a newer backup.py?")
    _no_password(document, "run manifest")
    databases = []
    for item in _need(document, "databases", list):
        if not isinstance(item, dict):
            raise RunManifestError("a database entry is not an object")
        name = _need(item, "name", str, "a database entry")
        where = f"database {name!r}"
        status = _need(item, "status", str, where)
        if status not in RUN_STATUSES:
            raise RunManifestError(f"{where}: status {status!r} is not one of {', '.join(RUN_STATUSES)}")
        prefix = _optional(item, "prefix", str, where)
        if status == "complete" and prefix is None:
            raise RunManifestError(f"{where}: complete, but no prefix")
        if prefix is not None and not prefix.startswith(f"{document.get('stack')}/{name}/"):
            raise RunManifestError(f"{where}: prefix {prefix!r} is not under {document.get('stack')}/{name}/")
        if status == "failed" and not _optional(item, "error", str, where):
            raise RunManifestError(f"{where}: failed, but no error says why")
        databases.append(RunDatabase(name, status, prefix, _optional(item, "backup_type", str, where),
                                     _optional(item, "check", str, where), _optional(item, "error", str, where)))
    if len({db.name for db in databases}) != len(databases):
        raise RunManifestError("a database is listed twice")
    composites = []
    for item in document.get("composites") or []:
        if not isinstance(item, dict):
            raise RunManifestError("a composite entry is not an object")
        constituents = _need(item, "constituents", list, "a composite")
        composites.append(Composite(_need(item, "name", str, "a composite"), tuple(str(c) for c in constituents)))
    aliases = []
    for item in document.get("aliases") or []:
        if not isinstance(item, dict) or set(item) - set(ALIAS_FIELDS):
            raise RunManifestError(f"an alias entry is not an object of {', '.join(ALIAS_FIELDS)}")
        name = _need(item, "name", str, "an alias")
        location = _need(item, "location", str, f"alias {name!r}")
        if location not in ("local", "remote"):
            raise RunManifestError(f"alias {name!r}: location {location!r} is not local or remote")
        if location == "remote" and not item.get("url"):
            raise RunManifestError(f"alias {name!r}: remote, but no url")
        aliases.append(Alias(name=name, database=item.get("database"), location=location,
                             composite=item.get("composite"), url=item.get("url"), user=item.get("user"),
                             driver=_optional(item, "driver", dict, f"alias {name!r}"),
                             properties=_optional(item, "properties", dict, f"alias {name!r}")))
    manifest = RunManifest(
        stack=_need(document, "stack", str), timestamp=_need(document, "timestamp", str),
        started=_need(document, "started", str), completed=_need(document, "completed", str),
        host=_need(document, "host", str), neo4j_version=_need(document, "neo4j_version", str),
        edition=_need(document, "edition", str), databases=tuple(databases), composites=tuple(composites),
        aliases=tuple(aliases), aliases_read=_need(document, "aliases_read", bool),
        notes=tuple(str(n) for n in document.get("notes") or ()))
    if not is_timestamp(manifest.timestamp):
        raise RunManifestError(f"timestamp {manifest.timestamp!r} is not like 20250131T020000Z")
    for label, expected, found in (("stack", expect_stack, manifest.stack),
                                   ("timestamp", expect_timestamp, manifest.timestamp)):
        if expected is not None and expected != found:
            raise RunManifestError(f"{label} is {found!r} but the run manifest sits under {expected!r}")
    return manifest
