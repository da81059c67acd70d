"""Recorded Enterprise responses replayed against a real Community server (issue 20, item 6): a statement the real
server refuses cannot have a recorded success.

`recorded_successes(line)` lists, for every scenario of tests/fixtures/enterprise/ (and its cluster-restore/ and
scaling/) of that version line (from the file name: 4.4, 5.26, 2025), each statement some recorded response answers
with a success: the text, database and mode of queries.py's statement of that name (the line's variant where a line
needs another), or, for a statement built at run time, its own text, sent to `system` as a write. `verdict(code,
message)` is the rule that judges what the real server answered; the test (tests/integration/
test_recorded_replay_real_community.py) runs each statement and fails on every contradiction.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.neo4j_ops import queries as q
from scripts.neo4j_ops.bolt import BoltError
from scripts.neo4j_ops.facts import ServerSpec, count_graph, gather
from scripts.neo4j_ops.recorded import RecordedTransport, load_scenario, parse_key
from scripts.neo4j_ops.shared.versions import LINES, VersionLine
from tests.conftest import ENTERPRISE

CONSISTENT = "consistent"
ENTERPRISE_ONLY = "enterprise-only"  # Community lacks the feature: the recording stands for Enterprise
CONTRADICTION = "contradiction"
PLUGIN_ONLY = "plugin-only"  # the server lacks the plugin (apoc, gds): the recording stands for one that runs it

# Procedures only Enterprise registers (Community answers ProcedureNotFound): clustering, the default database.
# 4.4's dbms.listQueries/listTransactions exist in Community 4.4; 5.x removed them (SHOW TRANSACTIONS instead).
# A plugin's version function (queries.py PLUGIN_VERSIONS): the replay's Community server runs no plugin, and answers
# "Unknown function 'gds.version' (line 1, …)" (4.4.46, 5.26.30 and 2025.10.1 alike, SyntaxError); APOC's answer is
# real in tests/integration/test_plugins_real_neo4j.py.
PLUGIN_FUNCTIONS = re.compile(r"^Unknown function '(apoc|gds)\.version'")
# dbms.setConfigValue (the rollout's move of a leader's databases): "dbms.setConfigValue() label:enterprise-edition[]"
# (4.4 reference/procedures.adoc), "[role=label--enterprise-edition label--admin-only label--not-on-aura]" (5.x and
# dev procedures/built-in-procedures.adoc); Community 4.4.46, 5.26.30 and 2025.10.1 answer "There is no procedure
# with the name `dbms.setConfigValue` registered for this database instance".
ENTERPRISE_PROCEDURES = re.compile(
    r"^dbms\.(cluster\.|setDefaultDatabase$|recreateDatabase$|quarantineDatabase$|setConfigValue$)")


def verdict(code: str | None, message: str) -> str:
    """What a real Community server's refusal says about a recorded success of the same statement: ENTERPRISE_ONLY
    when Community lacks the feature (an "Unsupported administration command", whatever the code: 4.4 and 5.26 say
    it of SHOW ALIASES and SHOW SERVERS as NotSystemDatabaseError; a clause "not available in community edition",
    as 5.26 says of ALTER USER … SET STATUS; an Enterprise-only procedure not found), else
    CONTRADICTION (a syntax error, `system`'s "unsupported clauses" or "restricted set of Cypher clauses", an unknown
    variable or column, a missing parameter, any other procedure not found)."""
    if code is None:
        return CONSISTENT
    if code == "Neo.ClientError.Statement.SyntaxError" and PLUGIN_FUNCTIONS.match(message):
        return PLUGIN_ONLY
    if message.startswith("Unsupported administration command") or "not available in community edition" in message:
        return ENTERPRISE_ONLY
    if code == "Neo.ClientError.Procedure.ProcedureNotFound":
        named = re.search(r"procedure with the name `([^`]+)`", message)
        if named and ENTERPRISE_PROCEDURES.match(named.group(1)):
            return ENTERPRISE_ONLY
    return CONTRADICTION


@dataclass(frozen=True)
class Statement:
    scenario: str  # path under tests/fixtures/enterprise/
    key: str  # the response's key in the scenario
    cypher: str
    database: str | None  # None: the user's home database
    write: bool
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        where = self.database or "the home database"
        return f"{self.scenario}: {self.cypher!r} on {where}" + (f" with {self.params}" if self.params else "")


# Parameters recordings leave out (passwords; probe ids, random each run) or that a key filed without its
# parameters needs: plausible values of the same type.
PLACEHOLDERS: dict[str, Any] = {"password": "replayed-secret-1", "id": "replayed-probe", "via": "replay",
                                "database": "neo4j", "role": "reader", "run": "replayed-drill", "seq": 1}
_SCENARIO_LINE = re.compile(r"(?:^|-)(4\.4|5\.26|2025(?:\.\d+)?)(?:-|\.json$)")


def scenario_line(path: Path) -> str:
    """The version line ("4.4", "5", "2025") a scenario is of, from its file name."""
    found = _SCENARIO_LINE.search(path.name)
    if not found:
        raise ValueError(f"{path.name}: no version line (4.4, 5.26, 2025) in the file name")
    text = found.group(1)
    return "4.4" if text == "4.4" else "5" if text == "5.26" else "2025"


_USER_STATEMENT = re.compile(r"^(CREATE|ALTER) USER (`[^`]+`)")


def preparation(cypher: str) -> list[str]:
    """What must run first, in the same rolled-back transaction, for the real server to be in the state the
    recording was made in: no such user before CREATE USER, one (with another password) before ALTER USER."""
    found = _USER_STATEMENT.match(cypher)
    if not found or found.group(2) == "`neo4j`":
        return []
    verb, user = found.groups()
    steps = [f"DROP USER {user} IF EXISTS"]
    if verb == "ALTER":
        steps.append(f"CREATE USER {user} SET PASSWORD 'replayed-other-secret-0' CHANGE NOT REQUIRED")
    return steps


def scenario_files() -> list[Path]:
    """Every scenario (a file with responses; not the stack outputs nor neo4j-admin's printouts)."""
    files = sorted(ENTERPRISE.glob("*.json")) + sorted(ENTERPRISE.glob("*/*.json"))
    return [f for f in files if {"endpoints", "responses"} & set(json.loads(f.read_text()))]


def responses_of(path: Path) -> dict[str, Any]:
    """key → response (or list of responses) over every endpoint, `extends` merged (cluster-restore/ files have
    one top-level "responses" instead of endpoints)."""
    document = json.loads(path.read_text())
    if "endpoints" in document:
        merged: dict[str, Any] = {}
        for endpoint in load_scenario(path)["endpoints"].values():
            for key, response in (endpoint.get("responses") or {}).items():
                merged.setdefault(key, []).extend(response if isinstance(response, list) else [response])
        return merged
    base = responses_of(path.parent / document["extends"]) if document.get("extends") else {}
    return {**base, **document["responses"]}


def named_statements(name: str, line: VersionLine) -> list[q.Named]:
    """queries.py's statements filed under `name` that a server of `line` is sent."""
    chosen = {"show_database_lag": q.show_database_lag, "memory_settings": q.memory_settings,
              "read_only_setting": q.read_only_setting}.get(name)
    if chosen is not None:
        return [chosen(line)]
    found = {value for value in vars(q).values() if isinstance(value, q.Named) and value.name == name}
    return sorted(found, key=lambda named: (named.cypher, named.database or ""))


def recorded_successes(line: str) -> list[Statement]:
    """Every statement a recorded response of a scenario of `line` answers with a success."""
    version_line = LINES[line]
    statements = []
    for path in scenario_files():
        if scenario_line(path) != line:
            continue
        scenario = str(path.relative_to(ENTERPRISE))
        for key, response in responses_of(path).items():
            answers = response if isinstance(response, list) else [response]
            if all("error" in answer for answer in answers):
                continue
            name, _user, params = parse_key(key)
            if re.fullmatch(r"[a-z_0-9]+", name):
                named = named_statements(name, version_line)
                if not named:
                    raise LookupError(f"{scenario}: {key!r} names no statement of scripts/neo4j_ops/queries.py")
            else:
                named = [q.Named.built(name, "system")]
            for statement in named:
                wanted = {p: PLACEHOLDERS[p] for p in re.findall(r"\$(\w+)", statement.cypher)
                          if p not in params and p in PLACEHOLDERS}
                statements.append(Statement(scenario, key, statement.cypher, statement.database, statement.write,
                                            {**params, **wanted}))
    return statements


def code_path_successes(line: str) -> list[Statement]:
    """What the backup's facts path sends, with the database it really goes to, where a recording answers it with
    a success: facts.gather and facts.count_graph of each database (system included) the scenario's SHOW
    DATABASES lists, on every endpoint of every endpoint scenario of `line`, through a RecordedTransport. (A
    response is filed by name whatever the database: count_nodes recorded for a standard database would answer
    one sent to `system` too.)"""
    statements = []
    for path in scenario_files():
        if scenario_line(path) != line or "endpoints" not in json.loads(path.read_text()):
            continue
        transport = RecordedTransport(path)
        for name, endpoint in transport.scenario["endpoints"].items():
            spec = ServerSpec(name, endpoint["uri"])
            facts = gather(spec, transport, None, 5.0)
            for database in sorted({"system"} | {str(row.get("name")) for row in facts.databases}):
                try:
                    count_graph(transport.client(spec.uri, None), database, 5.0, enterprise=facts.enterprise)
                except BoltError:
                    pass  # no recording, or a recorded refusal: nothing to hold against the real server
        scenario = str(path.relative_to(ENTERPRISE))
        for call in transport.calls:
            if call.answered:
                wanted = {p: PLACEHOLDERS[p] for p in re.findall(r"\$(\w+)", call.cypher)
                          if p not in call.params and p in PLACEHOLDERS}
                statements.append(Statement(scenario, f"{call.name} (facts path)", call.cypher, call.database,
                                            call.write, {**call.params, **wanted}))
    return statements


def distinct(statements: list[Statement]) -> dict[tuple, list[Statement]]:
    """The same statement (text, database, mode, parameters) recorded by several scenarios: run once."""
    grouped: dict[tuple, list[Statement]] = {}
    for s in statements:
        grouped.setdefault((s.cypher, s.database, s.write, json.dumps(s.params, sort_keys=True)), []).append(s)
    return grouped
