"""neo4j:composites applied by scripts/databases.py against recorded (derived) 5.26 and 2025 clusters
(tests/fixtures/enterprise/databases/composites-*.json, derive.py there): the composite before its aliases, a remote
alias's password only ever a parameter, nothing sent when one is missing, drift altered, what the stack does not list
reported and never dropped. And the stack file's rules, one line each naming neo4j:composites."""
from __future__ import annotations

import json

import pytest
import yaml

from components.databases import AliasSpec, CompositeSpec
from components.settings import ConfigError
from scripts import databases as command
from scripts.neo4j_ops.databases.composites import plan_composites
from scripts.neo4j_ops.recorded import RecordedTransport
from tests.conftest import ENTERPRISE, ROOT, make_settings, prod_stack_args, recorded_writes

FIXTURES = ENTERPRISE / "databases"
KEY = "neo4j:composites"
PARTNER_URL = "neo4j+s://partner.example.com:7687"
CREATE_LIBRARY = "CREATE COMPOSITE DATABASE `library` IF NOT EXISTS"
CREATE_LOCAL = "CREATE ALIAS `library`.`sales` IF NOT EXISTS FOR DATABASE `sales`"
CREATE_REMOTE = (f"CREATE ALIAS `library`.`partner` IF NOT EXISTS FOR DATABASE `neo4j` AT '{PARTNER_URL}' "
                 f"USER `reader` PASSWORD $password")
SECRET = "partner-secret-not-real"
COMPOSITES = [{"name": "library", "aliases": [
    {"name": "sales", "database": "sales"},
    {"name": "partner", "database": "neo4j", "uri": PARTNER_URL, "user": "reader"}]}]


@pytest.fixture
def stack(tmp_path, monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", "not-a-real-password")
    monkeypatch.delenv("NEO4J_ALIAS_PASSWORDS", raising=False)
    monkeypatch.delenv("NEO4J_ALIAS_PASSWORD_LIBRARY_PARTNER", raising=False)
    config = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())

    def write(version: str) -> list[str]:
        config["config"].update({"neo4j:version": version, "neo4j:coreCount": 3, "neo4j:replicaCount": 1,
                                 "neo4j:databases": [{"name": "sales"},
                                                     {"name": "reports", "primaries": 2, "secondaries": 0}],
                                 "neo4j:composites": COMPOSITES})
        return prod_stack_args(tmp_path, config, "--uri", "neo4j://core-1.prod.neo4j.internal:7687")
    return write



@pytest.mark.parametrize("scenario,version", [("composites-create-5.26.json", "5.26.30"),
                                              ("composites-create-2025.json", "2025.10.1")])
def test_dry_run_prints_the_composite_before_its_aliases_and_never_a_password(stack, capsys, monkeypatch, scenario,
                                                                               version):
    monkeypatch.setenv("NEO4J_ALIAS_PASSWORDS", json.dumps({"library.partner": SECRET}))
    recorded = RecordedTransport(FIXTURES / scenario)
    assert command.main([*stack(version), "--dry-run"], transport=recorded) == 0
    assert recorded_writes(recorded) == []
    out = capsys.readouterr().out
    assert out.splitlines()[:4] == [f"databases (Neo4j {version}): would run 3 statements", f"  {CREATE_LIBRARY};",
                                    f"  {CREATE_LOCAL};", f"  {CREATE_REMOTE};  // {{'password': '[secret]'}}"]
    assert SECRET not in out
    assert "dropped): archive" in out  # a composite the stack does not list: reported, never dropped


def test_the_run_sends_the_password_as_a_parameter_only(stack, capsys, monkeypatch):
    monkeypatch.setenv("NEO4J_ALIAS_PASSWORDS", json.dumps({"library.partner": SECRET}))
    recorded = RecordedTransport(FIXTURES / "composites-create-5.26.json")
    assert command.main([*stack("5.26.30"), "--json"], transport=recorded) == 0
    assert recorded_writes(recorded) == [CREATE_LIBRARY, CREATE_LOCAL, CREATE_REMOTE]
    remote = next(c for c in recorded.calls if c.cypher == CREATE_REMOTE)
    assert remote.params == {"password": SECRET} and remote.database == "system"
    assert SECRET not in capsys.readouterr().out


def test_the_per_alias_variable_restore_reads_serves_too(stack, monkeypatch):
    monkeypatch.setenv("NEO4J_ALIAS_PASSWORD_LIBRARY_PARTNER", SECRET)
    recorded = RecordedTransport(FIXTURES / "composites-create-2025.json")
    assert command.main(stack("2025.10.1"), transport=recorded) == 0
    assert next(c for c in recorded.calls if c.cypher == CREATE_REMOTE).params == {"password": SECRET}


def test_a_remote_alias_without_a_password_stops_before_anything_is_sent(stack, capsys):
    recorded = RecordedTransport(FIXTURES / "composites-create-5.26.json")
    assert command.main(stack("5.26.30"), transport=recorded) == 2
    assert [c for c in recorded.calls if c.write] == []
    err = capsys.readouterr().err
    assert "no password for the remote alias library.partner" in err and "nothing was sent" in err
    assert len(err.strip().splitlines()) == 1


def test_an_alias_whose_target_drifted_is_altered_and_an_unlisted_one_reported(stack, capsys, monkeypatch):
    monkeypatch.setenv("NEO4J_ALIAS_PASSWORDS", json.dumps({"library.partner": SECRET}))
    recorded = RecordedTransport(FIXTURES / "composites-drift-5.26.json")
    assert command.main([*stack("5.26.30"), "--json"], transport=recorded) == 0
    assert recorded_writes(recorded) == ["ALTER ALIAS `library`.`sales` SET DATABASE TARGET `sales`"]
    report = json.loads(capsys.readouterr().out)
    assert "library.extra" in report["unmanaged"] and not any("DROP" in s["cypher"] for s in report["statements"])


def test_rotating_re_sends_the_remote_passwords_only():
    composite = CompositeSpec("library", (AliasSpec("sales", "sales"),
                                          AliasSpec("partner", "neo4j", PARTNER_URL, "reader")))
    rows = [{"name": "library", "type": "composite"}]
    aliases = [{"name": "library.sales", "composite": "library", "database": "sales", "location": "local"},
               {"name": "library.partner", "composite": "library", "database": "neo4j", "location": "remote",
                "url": PARTNER_URL, "user": "reader"}]
    assert plan_composites([composite], rows, aliases, {"library.partner": SECRET}).statements == []
    rotated = plan_composites([composite], rows, aliases, {"library.partner": SECRET}, rotate_passwords=True)
    assert [(s.cypher, s.params) for s in rotated.statements] == [(
        f"ALTER ALIAS `library`.`partner` SET DATABASE TARGET `neo4j` AT '{PARTNER_URL}' USER `reader` "
        f"PASSWORD $password", {"password": SECRET})]


# --- the stack file's rules -----------------------------------------------------------------------------------


def problems_of(**overrides) -> list[str]:
    with pytest.raises(ConfigError) as error:
        make_settings(**overrides)
    return error.value.problems


def test_a_local_alias_to_a_database_the_stack_does_not_define_is_refused():
    found = problems_of(composites=[{"name": "library", "aliases": [{"name": "sales", "database": "sales"}]}])
    assert found == [f"{KEY}: the local alias library.sales targets 'sales', which the stack does not define; "
                     f"allowed: neo4j (neo4j:database, neo4j:databases)"]


def test_a_remote_alias_needs_a_secured_scheme_unless_it_opts_out():
    # remote-database-alias-configuration.adoc: "By default, remote aliases require a secured URI scheme such as
    # `neo4j+s`. This can be disabled by setting the driver setting `ssl_enforced` to `false`."
    plain = {"name": "partner", "database": "neo4j", "uri": "neo4j://partner.example.com:7687", "user": "reader"}
    assert problems_of(composites=[{"name": "library", "aliases": [plain]}]) == [
        f"{KEY}: the remote alias library.partner has the unsecured uri 'neo4j://partner.example.com:7687'; "
        f"allowed: a secured scheme (neo4j+s, neo4j+ssc, bolt+s, bolt+ssc), or sslEnforced: false to opt out"]
    settings = make_settings(composites=[{"name": "library", "aliases": [{**plain, "sslEnforced": False}]}])
    assert settings.composites[0].aliases[0].ssl_enforced is False


def test_composites_on_4_4_are_refused_without_a_fabric_proxy():
    found = problems_of(version="4.4.46", backupSchedule="*-*-* 02:00:00 UTC",
                        composites=[{"name": "library", "aliases": []}])
    # 4.4 fabric/considerations.adoc:8 "The DBMS hosting the Fabric virtual database cannot be part of a Causal
    # Cluster: it can only be a DBMS with `dbms.mode=SINGLE`." (tests/unit/test_fabric_44.py: with the proxies)
    assert found == [f"{KEY}: a composite on Neo4j 4.4 is a Fabric database, which needs a DBMS of its own outside "
                     f"the causal cluster (dbms.mode=SINGLE); allowed on 4.4: set neo4j:fabricProxyCount to 1 or "
                     f"more, or no composites"]


def test_composites_on_community_are_refused():
    assert problems_of(edition="community", coreCount=1, replicaCount=0,
                       composites=[{"name": "library", "aliases": []}]) == [
        f"{KEY}: composite databases are Enterprise Edition's; allowed with community: none"]


@pytest.mark.parametrize("composites,problem", [
    ([{"name": "neo4j"}], "got the database 'neo4j' twice"),
    ([{"name": "library"}, {"name": "library"}], "got the database 'library' twice"),
    ([{"name": "system-x"}], "a name that does not begin with 'system'"),
    ([{"name": "library", "aliases": [{"name": "a", "database": "neo4j"}, {"name": "a", "database": "neo4j"}]}],
     "got the alias 'library.a' twice"),
    ([{"name": "library", "aliases": [{"name": "systemview", "database": "neo4j"}]}],
     "got the alias name 'library.systemview'"),
    ([{"name": "library", "aliases": [{"name": "p", "database": "neo4j", "uri": "neo4j+s://h:7687"}]}],
     "the remote alias library.p has no user"),
])
def test_bad_composite_entries_are_one_line_naming_the_key(composites, problem):
    found = problems_of(composites=composites)
    assert len(found) == 1 and found[0].startswith(f"{KEY}: ") and problem in found[0], found
