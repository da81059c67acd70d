"""The neo4j.conf settings the program itself sets, and the stack key (or the program part) that sets each.

Derived from the conf templates themselves (templates/neo4j/<dialect>/neo4j.conf.j2 and the macros they
import), not kept by hand: every `key=value` line of a template, in every branch, is owned, whatever the
stack. A key with a `{{ … }}` segment (`dbms.ssl.policy.{{ policy.scope }}.enabled`) owns the family; the
lines whose whole key is an expression are resolved from the data that fills them: the jvm_flags macro's
key argument at its call site, the directories of components/neo4j_defaults.py on every platform. Whole
families are owned as well, whatever the templates render today: directories, listen and advertised
addresses, SSL policies (what the program places and sizes must not be moved by an escape hatch).

tests/unit/test_extra_config.py renders the conf of many stacks and fails when a rendered key is not
owned here; components/render.py refuses, as a last net, an extra key equal to one the template rendered.
"""
from __future__ import annotations

import re
from functools import cache

from components.neo4j_defaults import directories
from components.templating import TEMPLATE_DIR

CONF_TEMPLATES = {"4.4": "neo4j/4.4/neo4j.conf.j2", "5": "neo4j/5/neo4j.conf.j2", "2025": "neo4j/5/neo4j.conf.j2"}
_LINE = re.compile(r"^([A-Za-z0-9_.{} ]*(?:\{\{[^}]*\}\}[A-Za-z0-9_.]*)*)=", re.M)
_IMPORT = re.compile(r"""\{%-?\s*import\s+["']([^"']+)["']""")
_JVM_CALL = re.compile(r"""jvm_flags\(\s*["']([^"']+)["']""")
_EXPRESSION = re.compile(r"\{\{[^}]*\}\}")
_MACRO = re.compile(r"\{%-?\s*(?:macro\s+(\w+)|endmacro)")
# The macro that writes neo4j:extraConfig's lines (templates/neo4j/_macros.j2): the escape hatch, not an owned key.
EXTRA_CONFIG_MACRO = "extra_config"
# Families owned whatever the templates render (the issue's "cluster membership, listen addresses, TLS,
# memory, paths"): a setting of these moves what the program places, sizes or dials.
OWNED_FAMILIES = (
    re.compile(r"^(dbms|server)\.directories\."),
    re.compile(r"\.(listen_address|advertised_address)$"),
    re.compile(r"^dbms\.ssl\.policy\."),
    re.compile(r"^(dbms|server)\.memory\.(heap|pagecache\.size$)"),
    # The remote aliases' keystore: its path and key name are rendered, its password added at install (render.py).
    re.compile(r"^dbms\.security\.(keystore\.|key\.name$)"),
)

# Who sets an owned key, first match wins: the stack key to change instead, or the program part that fixes it.
_CONTROLLERS = (
    (r"\.directories\.|^server\.logs\.config$|^server\.logs\.user\.config$", "the program (the platform's own paths)"),
    (r"ssl\.policy|tls_level$|tls_reload_enabled$|^(dbms\.connector|server)\.https?\.enabled$", "neo4j:tls"),
    (r"\.memory\.heap\.", "neo4j:heapSize"),
    (r"\.memory\.pagecache\.size$", "neo4j:pageCacheSize"),
    (r"tx_state\.memory_allocation$", "neo4j:heapSize/neo4j:pageCacheSize (the memory plan)"),
    (r"\.jvm\.additional$", "neo4j:gcMaxPauseMillis (and the line's shipped JVM flags)"),
    (r"\.auth_enabled$", "neo4j:authEnabled"),
    (r"^dbms\.usage_report\.enabled$", "neo4j:usageReport"),
    (r"tx_log\.rotation\.retention_policy$", "neo4j:txLogRetention"),
    (r"tx_log\.rotation\.size$", "neo4j:txLogRotationSize"),
    (r"logs\.query\.threshold$", "neo4j:slowQueryThreshold"),
    (r"procedures\.(unrestricted|allowlist)$", "neo4j:plugins"),
    (r"listen_address$|advertised_address$", "the program (components/ports.py and the topology's hostnames)"),
    (r"^(dbms\.mode|causal_clustering\.|initial\.|dbms\.cluster\.|server\.cluster\.|dbms\.routing\.)",
     "neo4j:coreCount/neo4j:replicaCount (cluster membership)"),
    (r"metrics\.|logs\.query\.enabled$|backup\.enabled$|status_auth_enabled$|seed_from_uri_providers$",
     "neo4j:edition (what Enterprise runs: metrics, backup, query log, health checks)"),
    (r"strict_validation", "the program (strict validation stays on)"),
    (r"^dbms\.security\.(keystore\.|key\.name$)",
     "neo4j:aliasKeystore/neo4j:aliasKeystorePassword (scripts/databases.py --create-alias-keystore)"),
    (r"logs\.gc\.enabled$", "the program (GC logging stays on)"),
    (r"^fabric\.(database\.name|routing\.servers|graph\.)",
     "neo4j:composites/neo4j:fabricProxyCount (4.4's Fabric proxies)"),
)
CONTROLLERS = tuple((re.compile(pattern), controller) for pattern, controller in _CONTROLLERS)
PROGRAM = "the program (templates/neo4j/)"


def _source(name: str) -> str:
    return (TEMPLATE_DIR / name).read_text()


def template_keys(name: str) -> tuple[frozenset[str], frozenset[str], tuple[str, ...]]:
    """(exact keys, families with a placeholder segment, unresolved expressions) of a template and its imports."""
    sources = [_source(name)]
    sources += [_source(imported) for imported in _IMPORT.findall(sources[0])]
    exact: set[str] = set()
    families: set[str] = set()
    unresolved: list[str] = []
    jvm_keys = {key for source in sources for key in _JVM_CALL.findall(source)}
    for source in sources:
        macros = [(m.start(), m.group(1)) for m in _MACRO.finditer(source)]
        for match in _LINE.finditer(source):
            key = match.group(1).strip()
            if not key or key.startswith(("#", "{%")):
                continue
            expressions = _EXPRESSION.findall(key)
            within = next((name for start, name in reversed(macros) if start < match.start()), None)
            if not expressions:
                exact.add(key)
            elif _EXPRESSION.sub("", key):  # a literal key with an expression segment
                families.add(_EXPRESSION.sub("<x>", key))
            elif within == EXTRA_CONFIG_MACRO:  # the escape hatch itself
                continue
            elif within == "jvm_flags":  # {{ key }}: the argument of each call
                exact |= jvm_keys
            elif key == "{{ d.key }}":  # the directories components/neo4j_defaults.py gives every platform
                exact |= {k for platform in ("aws", "docker") for line in ("4.4", "5", "2025")
                          for k, _ in directories(platform, line)}
            else:
                unresolved.append(f"{within}: {key}" if within else key)
    return frozenset(exact), frozenset(families), tuple(sorted(set(unresolved)))


@cache
def owned_keys(line: str) -> tuple[frozenset[str], tuple[re.Pattern[str], ...]]:
    """(exact keys, patterns) the program sets in the line's conf."""
    exact, families, _ = template_keys(CONF_TEMPLATES[line])
    patterns = tuple(re.compile("^" + re.escape(family).replace(re.escape("<x>"), r"[^.]+") + "$")
                     for family in sorted(families))
    return exact, patterns + OWNED_FAMILIES


def owner(line: str, key: str) -> str | None:
    """Who sets `key` when the program owns it (a stack key such as neo4j:tls, or the program part), else None."""
    exact, patterns = owned_keys(line)
    if key not in exact and not any(pattern.search(key) for pattern in patterns):
        return None
    return controller(key)


def controller(key: str) -> str:
    return next((who for pattern, who in CONTROLLERS if pattern.search(key)), PROGRAM)
