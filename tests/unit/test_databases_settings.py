"""neo4j:databases: the standard databases of the stack, validated with Neo4j's own rules (quoted per line from the
Operations Manual, neo4j/docs-operations) into one line per problem naming the key; nothing is created from a
refused stack file (load_settings raises before any plan exists)."""
from __future__ import annotations

import pytest

from components.databases import naming_problem
from components.settings import ConfigError
from tests.conftest import make_settings

KEY = "neo4j:databases"


def problems_of(**overrides) -> list[str]:
    with pytest.raises(ConfigError) as error:
        make_settings(**overrides)
    return error.value.problems


def test_entries_resolve_to_their_own_topology_defaulting_to_the_stacks_counts():
    settings = make_settings(databases=[{"name": "sales"}, {"name": "reports", "primaries": 1, "secondaries": 0,
                                                             "wait": True}])
    assert [(d.name, d.primaries, d.secondaries, d.default, d.listed, d.wait)
            for d in settings.database_topologies] == [
        ("neo4j", 3, 1, True, False, False), ("sales", 3, 1, False, True, False),
        ("reports", 1, 0, False, True, True)]


def test_databases_arrive_as_json_text_from_the_engine():
    settings = make_settings(databases='[{"name": "sales", "secondaries": 0}]')
    assert settings.database_topologies[1].secondaries == 0


def test_the_same_name_twice_is_refused():
    assert problems_of(databases=[{"name": "sales"}, {"name": "sales", "primaries": 1}]) == [
        f"{KEY}: got the database 'sales' twice; allowed: each name once"]


# (line, name, the manual's rule it breaks). 5.x naming-databases.adoc and 4.4 manage-databases/configuration.adoc:
@pytest.mark.parametrize("line,name,rule", [
    # "Length must be between 3 and 63 characters."
    ("5", "ab", "3 to 63 characters"),
    ("5", "a" * 64, "3 to 63 characters"),
    # "The first character of a name must be an ASCII alphabetic character."
    ("5", "1sales", "a first character that is a lowercase ASCII letter"),
    ("4.4", "-sales", "a first character that is a lowercase ASCII letter"),
    # "Subsequent characters must be ASCII alphabetic or numeric characters, dots or dashes; `[a..z][0..9].-`."
    ("5", "sales_eu", "lowercase ASCII letters, digits, dots or dashes after the first character"),
    # "Names are case-insensitive and normalized to lowercase." (refused, so the stack file says what SHOW shows)
    ("5", "Sales", "a first character that is a lowercase ASCII letter"),
    # 5.x and dev: "Names cannot end with dots or dashes."
    ("5", "sales-", "a name that does not end with a dot or a dash"),
    ("2025", "sales.", "a name that does not end with a dot or a dash"),
    # "Names that begin with an underscore and with the prefix `system` are reserved for internal use."
    ("5", "system", "a name that does not begin with 'system' (reserved for internal use)"),
    ("4.4", "systemx", "a name that does not begin with 'system' (reserved for internal use)"),
    ("2025", "_sales", "a first character that is a lowercase ASCII letter or digit"),
])
def test_a_name_neo4js_naming_rules_refuse_is_refused(line, name, rule):
    assert naming_problem(name, line) == rule


@pytest.mark.parametrize("line,name", [
    ("4.4", "sales-"),  # 4.4's list has no rule on the last character
    # dev (2025): "The first character of a name must be an ASCII alphabetic or numeric character. Support for
    # database names starting with a numeric character is available from Neo4j 2025.01."
    ("2025", "2025-sales"),
    ("5", "main.db"), ("5", "abc"), ("5", "a" * 63),
])
def test_names_the_manual_allows_are_taken(line, name):
    assert naming_problem(name, line) is None


def test_a_refused_name_is_one_line_naming_the_key_and_the_line():
    assert problems_of(databases=[{"name": "system"}]) == [
        f"{KEY}: got the database name 'system'; allowed on Neo4j 5: a name that does not begin with 'system' "
        f"(reserved for internal use)"]


SYSTEM_RULE = "a name that does not begin with 'system' (reserved for internal use)"


# neo4j:database, the default database, is a standard database like the entries above: the same rules of the line
# (naming_problem), so a stack file cannot name one that CREATE DATABASE or initial_default_database would refuse.
# (version, name, the rule it breaks), the rule quoted from the Operations Manual (neo4j/docs-operations):
@pytest.mark.parametrize("version,name,rule", [
    # 5.x, database-administration/standard-databases/naming-databases.adoc: "Subsequent characters must be ASCII
    # alphabetic or numeric characters, dots or dashes; `[a..z][0..9].-`." (this key took an underscore before)
    ("5.26.30", "graph_db", "lowercase ASCII letters, digits, dots or dashes after the first character"),
    # 5.x, same page: "Names are case-insensitive and normalized to lowercase." (refused rather than lowercased)
    ("5.26.30", "Graph", "a first character that is a lowercase ASCII letter"),
    # 5.x, same page: "Names cannot end with dots or dashes."
    ("5.26.30", "graph-", "a name that does not end with a dot or a dash"),
    # 5.x, same page: "The first character of a name must be an ASCII alphabetic character."
    ("5.26.30", "2025-graph", "a first character that is a lowercase ASCII letter"),
    # 4.4, manage-databases/configuration.adoc: "Length must be between 3 and 63 characters."
    ("4.4.46", "db", "3 to 63 characters"),
    # every line: "Names that begin with an underscore and with the prefix `system` are reserved for internal use."
    # (4.4 manage-databases/configuration.adoc, 5.x naming-databases.adoc, dev the same page)
    ("4.4.46", "system", SYSTEM_RULE),
    ("5.26.30", "system", SYSTEM_RULE),
    ("2025.10.1", "system", SYSTEM_RULE),
    ("2025.10.1", "_graph", "a first character that is a lowercase ASCII letter or digit"),
])
def test_a_default_database_name_the_lines_naming_rules_refuse_is_one_line_naming_the_key(version, name, rule):
    line = {"4.4.46": "4.4", "5.26.30": "5", "2025.10.1": "2025"}[version]
    assert problems_of(version=version, database=name) == [
        f"neo4j:database: got the database name {name!r}; allowed on Neo4j {line}: {rule}"]


@pytest.mark.parametrize("version,name", [
    ("4.4.46", "graph-"),  # 4.4's list has no rule on the last character
    # dev (2025): "The first character of a name must be an ASCII alphabetic or numeric character. Support for
    # database names starting with a numeric character is available from Neo4j 2025.01."
    ("2025.10.1", "2025-graph"),
    # 5.x naming-databases.adoc: "Database names are the only identifier for which dots do not need to be escaped.
    # For example `main.db` is a valid database name."
    ("5.26.30", "main.db"),
])
def test_a_default_database_name_the_line_allows_is_taken(version, name):
    assert make_settings(version=version, database=name).database == name


def test_more_than_one_standard_database_on_community_is_refused():
    # 5.x database-administration/index.adoc: "Installations of Community Edition can have exactly *one* standard
    # database."
    found = problems_of(edition="community", coreCount=1, replicaCount=0, databases=[{"name": "sales"}])
    assert found == [f"{KEY}: got sales besides the default database neo4j; allowed with community: the default "
                     f"database only (Community Edition has exactly one standard database)"]
    # the default database listed alone is still one database
    make_settings(edition="community", coreCount=1, replicaCount=0, databases=[{"name": "neo4j"}])


def test_a_topology_beyond_the_stacks_servers_is_refused():
    assert problems_of(databases=[{"name": "sales", "primaries": 5, "secondaries": 2}]) == [
        f"{KEY}: sales asks for 5 primaries; allowed: 1 to the stack's coreCount (3)",
        f"{KEY}: sales asks for 2 secondaries; allowed: 0 to the stack's replicaCount (1)"]
    assert problems_of(databases=[{"name": "sales", "primaries": 0}]) == [
        f"{KEY}: sales asks for 0 primaries; allowed: 1 to the stack's coreCount (3)"]


def test_a_topology_or_seed_of_its_own_on_4_4_is_refused():
    found = problems_of(version="4.4.46", backupSchedule="*-*-* 02:00:00 UTC",
                        databases=[{"name": "sales", "primaries": 2, "seedUri": "s3://b/sales.backup"}])
    assert f"{KEY}: sales has a seedUri; allowed on Neo4j 4.4: none (CREATE DATABASE takes no seed; restore it " \
           f"with restore.py)" in found
    assert any(p.startswith(f"{KEY}: sales has a topology of its own; allowed on Neo4j 4.4: none") for p in found)


@pytest.mark.parametrize("value,allowed", [
    ("sales", "a list of {name, primaries?, secondaries?, seedUri?, wait?}"),
    ([{"name": "sales", "replicas": 1}], "(unknown field replicas)"),
    ([{"name": "sales", "primaries": "three"}], "primaries of sales: a whole number"),
    ([{"name": "sales", "seedUri": "ftp://x/y"}], "seedUri of sales: a URI of a backup: s3://, https://, file://"),
    ([{"name": "sales", "wait": "yes"}], "wait of sales: true or false"),
])
def test_a_malformed_entry_is_one_line_naming_the_key(value, allowed):
    found = problems_of(databases=value)
    assert len(found) == 1 and found[0].startswith(f"{KEY}: got ") and allowed in found[0]


def test_prod_lists_two_databases_a_composite_and_the_plan_summary_shows_them():
    from components.settings import load_settings
    from scripts.neo4j_ops.plan.summary import database_lines
    from tests.conftest import stack_config

    config = {k: v for k, v in stack_config("prod").items() if not (isinstance(v, dict) and "secure" in v)}
    settings = load_settings("prod", config)
    assert [d.name for d in settings.databases] == ["sales", "reports"]
    assert database_lines(settings)[1:] == [
        "  neo4j: 5 primaries, 2 secondaries (default)",
        "  sales: 5 primaries, 2 secondaries",
        "  reports: 3 primaries, 0 secondaries (CREATE waits until online)",
        "  library: composite",
        "    library.sales -> sales (local)",
        "    library.partner -> neo4j at neo4j+s://graph.partner.example.com:7687 as library_reader, password from "
        "neo4j:aliasPasswords"]


def test_the_plan_summary_of_a_4_4_stack_says_every_server_hosts_every_database():
    from scripts.neo4j_ops.plan.summary import database_lines

    settings = make_settings(version="4.4.46", backupSchedule="*-*-* 02:00:00 UTC", databases=[{"name": "sales"}])
    assert database_lines(settings)[1:] == ["  neo4j: every core and read replica (default)",
                                            "  sales: every core and read replica"]


def test_the_keystore_is_made_with_the_manuals_keytool_command():
    # remote-database-alias-configuration.adoc: "keytool -genseckey -keyalg aes -keysize 256 -storetype pkcs12
    # -keystore [keystore-name] -alias [key-name] -storepass [keystore-password]"
    from components.databases import keytool_command

    assert keytool_command("ks.p12", "pw") == ["keytool", "-genseckey", "-keyalg", "aes", "-keysize", "256",
                                               "-storetype", "pkcs12", "-keystore", "ks.p12", "-alias", "aliases",
                                               "-storepass", "pw"]


def test_prod_lists_the_keystore_secrets_its_remote_alias_needs():
    from components.passwords import missing_secrets
    from components.settings import load_settings
    from tests.conftest import stack_config

    config = {k: v for k, v in stack_config("prod").items() if not (isinstance(v, dict) and "secure" in v)}
    missing = missing_secrets(load_settings("prod", config))
    assert {"neo4j:aliasPasswords", "neo4j:aliasKeystore", "neo4j:aliasKeystorePassword"} <= set(missing)
    assert "--create-alias-keystore" in missing["neo4j:aliasKeystore"]
