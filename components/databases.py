"""The stack's standard databases (`neo4j:databases`): what each entry is, Neo4j's naming rules per version line, and
the topology each database gets. Pure: settings.py parses and validates with it, scripts/neo4j_ops/databases/ plans
the statements from it, scaling reads each database's own topology from it.

Naming rules, as the Operations Manual (neo4j/docs-operations) states them:
  4.4   manage-databases/configuration.adoc: "Length must be between 3 and 63 characters." "The first character of a
        name must be an ASCII alphabetic character." "Subsequent characters must be ASCII alphabetic or numeric
        characters, dots or dashes; `[a..z][0..9].-`" "Names are case-insensitive and normalized to lowercase."
        "Names that begin with an underscore and with the prefix `system` are reserved for internal use."
  5     database-administration/standard-databases/naming-databases.adoc: the same, and "Names cannot end with dots
        or dashes."
  2025  (branch dev) the same as 5, but "The first character of a name must be an ASCII alphabetic or numeric
        character. Support for database names starting with a numeric character is available from Neo4j 2025.01."
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

SYSTEM = "system"
# Seed URI schemes: 5.x seed-from-uri.adoc, CloudSeedProvider ("s3:", "gs:", "azb:") and URLConnectionSeedProvider
# ("file:", "ftp:", "http:", "https:"). A backup of this stack lives in S3: s3:// is the one this project writes.
SEED_SCHEMES = ("s3://", "https://", "file://")
SEED_URI = re.compile(r"^(s3|https|file)://[A-Za-z0-9._~/:@%+=-]+$")


@dataclass(frozen=True)
class DatabaseSpec:
    """One entry of neo4j:databases as written: the counts None mean the stack's coreCount / replicaCount."""
    name: str
    primaries: int | None = None
    secondaries: int | None = None
    seed_uri: str = ""  # create it from this backup (5.x/2025 OPTIONS {seedURI: …}); "" = empty
    wait: bool = False  # CREATE … WAIT: the command returns once the database is online (or 300 s passed)


@dataclass(frozen=True)
class DatabaseTopology:
    """A database and the topology it gets: the entry's counts, else the stack's."""
    name: str
    primaries: int
    secondaries: int
    seed_uri: str = ""
    wait: bool = False
    default: bool = False  # the stack's neo4j:database (Neo4j creates it; never CREATE, at most ALTER)
    listed: bool = True  # an entry of neo4j:databases names it (the default database may be left out)


def naming_problem(name: str, line: str) -> str | None:
    """Why Neo4j of `line` ("4.4", "5", "2025") refuses `name` as a database name (None: it takes it). The rules
    are the manual's (module docstring); a name with capitals is refused here rather than silently lowercased, so
    the stack file says the name SHOW DATABASES will show."""
    if not 3 <= len(name) <= 63:
        return "3 to 63 characters"
    first = "[a-z0-9]" if line == "2025" else "[a-z]"
    if not re.fullmatch(first, name[0]):
        return ("a first character that is a lowercase ASCII letter or digit" if line == "2025"
                else "a first character that is a lowercase ASCII letter")
    if not re.fullmatch(r"[a-z0-9.-]*", name[1:]):
        return "lowercase ASCII letters, digits, dots or dashes after the first character"
    if line != "4.4" and name[-1] in ".-":
        return "a name that does not end with a dot or a dash"
    if name.startswith(SYSTEM):
        return "a name that does not begin with 'system' (reserved for internal use)"
    return None


def name_refusal(key: str, name: str, line: str, what: str = "database name") -> str | None:
    """One line naming `key` when Neo4j of `line` refuses `name` (naming_problem), else None. neo4j:database,
    neo4j:databases and neo4j:composites name their databases by the same rules."""
    why = naming_problem(name, line)
    return f"{key}: got the {what} {name!r}; allowed on Neo4j {line}: {why}" if why else None


def resolve(specs: Iterable[DatabaseSpec], default_database: str, core_count: int,
            replica_count: int) -> tuple[DatabaseTopology, ...]:
    """Every standard database the stack manages, the default database first (with the stack's counts unless an
    entry gives it others), then the entries in their order."""
    specs = tuple(specs)
    by_name = {s.name: s for s in specs}

    def topology(spec: DatabaseSpec, default: bool) -> DatabaseTopology:
        return DatabaseTopology(spec.name, core_count if spec.primaries is None else spec.primaries,
                                replica_count if spec.secondaries is None else spec.secondaries,
                                spec.seed_uri, spec.wait, default, spec.name in by_name)

    first = topology(by_name.get(default_database, DatabaseSpec(default_database)), True)
    return (first, *(topology(s, False) for s in specs if s.name != default_database))


def topology_of(databases: Iterable[DatabaseTopology], name: str) -> DatabaseTopology | None:
    return next((d for d in databases if d.name == name), None)


def problems(specs: tuple[DatabaseSpec, ...], *, key: str, line: str, edition: str, default_database: str,
             core_count: int, replica_count: int) -> list[str]:
    """Every reason the entries cannot be applied, one line each naming `key` and what is allowed."""
    found: list[str] = []
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            found.append(f"{key}: got the database {spec.name!r} twice; allowed: each name once")
        seen.add(spec.name)
        refusal = name_refusal(key, spec.name, line)
        if refusal:
            found.append(refusal)
        if spec.primaries is not None and not 1 <= spec.primaries <= core_count:
            found.append(f"{key}: {spec.name} asks for {spec.primaries} primaries; allowed: 1 to the stack's "
                         f"coreCount ({core_count})")
        if spec.secondaries is not None and not 0 <= spec.secondaries <= replica_count:
            found.append(f"{key}: {spec.name} asks for {spec.secondaries} secondaries; allowed: 0 to the stack's "
                         f"replicaCount ({replica_count})")
        own = spec.primaries not in (None, core_count) or spec.secondaries not in (None, replica_count)
        if line == "4.4" and own:
            # 4.4 clustering/introduction.adoc: every database is hosted by every core and every read replica.
            found.append(f"{key}: {spec.name} has a topology of its own; allowed on Neo4j 4.4: none (every core "
                         f"and read replica hosts every database), leave primaries and secondaries out")
        if spec.seed_uri and line == "4.4":
            found.append(f"{key}: {spec.name} has a seedUri; allowed on Neo4j 4.4: none (CREATE DATABASE takes no "
                         f"seed; restore it with restore.py)")
        if spec.seed_uri and spec.name == default_database:
            found.append(f"{key}: {spec.name} is the default database (neo4j:database), which Neo4j creates "
                         f"itself; allowed: a seedUri on other databases only")
    standard = {default_database} | {s.name for s in specs}
    if edition == "community" and len(standard) > 1:
        # 5.x database-administration/index.adoc (4.4 manage-databases/introduction.adoc says "user database"):
        # "Installations of Community Edition can have exactly *one* standard database."
        found.append(f"{key}: got {', '.join(sorted(standard - {default_database}))} besides the default database "
                     f"{default_database}; allowed with community: the default database only (Community Edition "
                     f"has exactly one standard database)")
    return found


# --- composite databases and their aliases (5.x and 2025 Enterprise) ----------------------------------------------
# A remote alias's URI: a Bolt or neo4j scheme; "+s" / "+ssc" are the secured ones. remote-database-alias-
# configuration.adoc: "By default, remote aliases require a secured URI scheme such as `neo4j+s`. This can be
# disabled by setting the driver setting `ssl_enforced` to `false`."
REMOTE_URI = re.compile(r"^(neo4j|bolt)(\+s|\+ssc)?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
SECURED_SCHEMES = ("neo4j+s", "neo4j+ssc", "bolt+s", "bolt+ssc")
# Alias names: a plain Cypher identifier (naming-aliases.adoc: "A name is a valid identifier"; "Non-alphabetic
# characters, including numbers, symbols, dots, and whitespace characters, can be used in names, but must be quoted
# using backticks": this project takes the unquoted kind, so that `composite`.`alias` is never ambiguous).
ALIAS_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True)
class AliasSpec:
    """An alias in a composite database: local (`uri` "") to a database of this stack, or remote (a URI, the remote
    database and user; the password is the stack secret neo4j:aliasPasswords["<composite>.<alias>"])."""
    name: str
    database: str
    uri: str = ""
    user: str = ""
    ssl_enforced: bool = True

    @property
    def remote(self) -> bool:
        return bool(self.uri)


@dataclass(frozen=True)
class CompositeSpec:
    name: str
    aliases: tuple[AliasSpec, ...] = ()


def full_alias_name(composite: str, alias: str) -> str:
    """How SHOW ALIASES names an alias in a composite database (manage-aliases-composite-databases.adoc:
    "library.romance", composite "library"), and the key of its password in neo4j:aliasPasswords."""
    return f"{composite}.{alias}"


def composite_problems(composites: tuple[CompositeSpec, ...], *, key: str, line: str, edition: str,
                       standard: set[str], fabric_proxies: int = 0, proxies_key: str = "fabricProxyCount") -> list[str]:
    """Every reason the composite entries cannot be applied, one line each naming `key` and what is allowed. (A remote
    alias's password is the secret neo4j:aliasPasswords, which a stack file holds encrypted: `make plan` lists it
    while missing, and `make databases` refuses an alias without one before it sends anything.) `fabric_proxies`:
    neo4j:fabricProxyCount (`proxies_key`), the Fabric proxy servers that carry a composite on 4.4."""
    found: list[str] = []
    if line != "4.4" and fabric_proxies:
        return [f"{proxies_key}: got {fabric_proxies} on Neo4j {line}; allowed: 0 (Fabric proxies are 4.4's; on 5.x "
                f"and 2025 a composite database lives in the cluster itself)"]
    if line == "4.4" and fabric_proxies and not composites:
        return [f"{proxies_key}: got {fabric_proxies} Fabric proxies and no {key}; allowed: 0, or a composite "
                f"for them to serve"]
    if not composites:
        return found
    if line == "4.4":
        found = fabric_problems(composites, key=key, edition=edition, fabric_proxies=fabric_proxies,
                                proxies_key=proxies_key)
        if found:
            return found
    elif edition != "enterprise":
        # composite-databases/concepts.adoc: ":page-role: enterprise-edition"
        return [f"{key}: composite databases are Enterprise Edition's; allowed with community: none"]
    seen: set[str] = set()
    for composite in composites:
        if composite.name in seen or composite.name in standard:
            found.append(f"{key}: got the database {composite.name!r} twice (composites and standard databases "
                         f"share one namespace); allowed: each name once")
        seen.add(composite.name)
        refusal = name_refusal(key, composite.name, line, "composite database name")
        if refusal:
            found.append(refusal)
        names: set[str] = set()
        for alias in composite.aliases:
            label = full_alias_name(composite.name, alias.name)
            if alias.name in names:
                found.append(f"{key}: got the alias {label!r} twice; allowed: each alias name once per composite")
            names.add(alias.name)
            if not ALIAS_NAME.match(alias.name) or alias.name.lower().startswith(SYSTEM):
                # naming-aliases.adoc: "Names that begin with an underscore or with the prefix `system` are
                # reserved for internal use."
                found.append(f"{key}: got the alias name {label!r}; allowed: a letter, then letters, digits or _, "
                             f"not beginning with 'system'")
            if not alias.remote:
                if alias.database not in standard:
                    found.append(f"{key}: the local alias {label} targets {alias.database!r}, which the stack does "
                                 f"not define; allowed: {', '.join(sorted(standard))} (neo4j:database, "
                                 f"neo4j:databases)")
                continue
            if not REMOTE_URI.match(alias.uri):
                found.append(f"{key}: the remote alias {label} has uri {alias.uri!r}; allowed: neo4j+s://host:port "
                             f"(or bolt+s, +ssc; neo4j:// or bolt:// only with sslEnforced: false)")
            elif alias.ssl_enforced and alias.uri.split("://", 1)[0] not in SECURED_SCHEMES:
                found.append(f"{key}: the remote alias {label} has the unsecured uri {alias.uri!r}; allowed: a "
                             f"secured scheme ({', '.join(SECURED_SCHEMES)}), or sslEnforced: false to opt out")
            if not ALIAS_NAME.match(alias.user or ""):
                found.append(f"{key}: the remote alias {label} has no user (or one not a plain name); allowed: the "
                             f"remote DBMS's user, letters, digits, _")
            if naming_problem(alias.database, line):
                found.append(f"{key}: the remote alias {label} targets {alias.database!r}; allowed on Neo4j {line}: "
                             f"{naming_problem(alias.database, line)}")
    return found


# --- 4.4: a composite is the Fabric database of Fabric proxy servers ------------------------------------------------
# The 4.4 Operations Manual (neo4j/docs-operations, branch 4.4 @ 139efb54), modules/ROOT/pages/fabric/:
#   considerations.adoc:8  "The DBMS hosting the Fabric virtual database cannot be part of a Causal Cluster: it can
#                          only be a DBMS with `dbms.mode=SINGLE`."
#   configuration.adoc:190 "Neo4j Fabric currently supports one Fabric database in a standalone Neo4j DBMS."
#   configuration.adoc:161 "Connections between the Fabric database and the Neo4j DBMSs hosting the data are created
#                          using the same credentials that are supplied in the client connection to the Fabric
#                          database."
#   configuration.adoc:1   "[role=enterprise-edition]"
# So on 4.4 a composite needs neo4j:fabricProxyCount proxies (topology.py, role fabric), there is at most one, and a
# remote alias (its own user, its password from neo4j:aliasPasswords) has no Fabric form: Fabric would connect as the
# caller, never as the alias's user.
FABRIC_SINGLE_DBMS = ("The DBMS hosting the Fabric virtual database cannot be part of a Causal Cluster: it can only "
                      "be a DBMS with `dbms.mode=SINGLE`.")
FABRIC_ONE_DATABASE = "Neo4j Fabric currently supports one Fabric database in a standalone Neo4j DBMS."
FABRIC_CREDENTIALS = ("Connections between the Fabric database and the Neo4j DBMSs hosting the data are created using "
                      "the same credentials that are supplied in the client connection to the Fabric database.")


def fabric_problems(composites: tuple[CompositeSpec, ...], *, key: str, edition: str, fabric_proxies: int,
                    proxies_key: str) -> list[str]:
    """Why 4.4 cannot serve the composites through Fabric proxies (the manual's sentences above)."""
    if not fabric_proxies:
        return [f"{key}: a composite on Neo4j 4.4 is a Fabric database, which needs a DBMS of its own outside the "
                f"causal cluster (dbms.mode=SINGLE); allowed on 4.4: set {proxies_key} to 1 or more, or no composites"]
    if edition != "enterprise":
        return [f"{key}: Fabric on 4.4 is Enterprise Edition's; allowed with community: none"]
    if len(composites) > 1:
        return [f"{key}: got {len(composites)} composites on Neo4j 4.4; allowed: one (\"{FABRIC_ONE_DATABASE}\")"]
    remote = [full_alias_name(c.name, a.name) for c in composites for a in c.aliases if a.remote]
    if remote:
        return [f"{key}: the remote alias {', '.join(remote)} has a user of its own, which Fabric on 4.4 cannot use; "
                f"allowed on 4.4: local aliases only (Fabric connects with the caller's credentials)"]
    if not composites[0].aliases:
        return [f"{key}: the composite {composites[0].name} has no alias; allowed on 4.4: one or more local aliases "
                f"(each a fabric.graph)"]
    return []


# --- the keystore remote aliases need (5.x and 2025) ----------------------------------------------------------------
# remote-database-alias-configuration.adoc: "the credentials of a user of **DBMS B** are reversibly encrypted and stored
# in the system database of **DBMS A**. Since the algorithm used is AES/GCM, an AES encryption key needs to be
# provided. It should have length 256, and be stored in a password-protected keystore, of format pkcs12", made with
# "keytool -genseckey -keyalg aes -keysize 256 -storetype pkcs12 -keystore [keystore-name] -alias [key-name]
# -storepass [keystore-password]"; "In a cluster, _Alice_ needs to share the same keystore file over all instances."
# So it is made once (scripts/databases.py --create-alias-keystore) and kept as two stack secrets: the keystore
# (base64) and its password; a later run refuses to replace it, since a new key leaves the stored passwords unreadable.
KEYSTORE_SECRET = "aliasKeystore"
KEYSTORE_PASSWORD_SECRET = "aliasKeystorePassword"
KEY_NAME = "aliases"  # dbms.security.key.name (default "aesKey")


def keytool_command(keystore: str, password: str) -> list[str]:
    """The manual's keytool command for the keystore remote aliases need."""
    return ["keytool", "-genseckey", "-keyalg", "aes", "-keysize", "256", "-storetype", "pkcs12",
            "-keystore", keystore, "-alias", KEY_NAME, "-storepass", password]


def needs_keystore(composites: Iterable[CompositeSpec]) -> bool:
    return any(alias.remote for composite in composites for alias in composite.aliases)
