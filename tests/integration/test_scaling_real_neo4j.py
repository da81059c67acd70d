"""What a real Neo4j Community server can prove of scaling (tests/unit/test_scaling_recorded.py has the rest,
against recorded Enterprise responses):

- every statement scaling/ builds or reads is valid Cypher to the real 5.26 and 2025 parsers: Community refuses them
  as Neo.ClientError.Statement.UnsupportedAdministrationCommand (or, for the cordon procedure,
  ProcedureNotFound), never as a SyntaxError; a misspelt statement is the control that does get SyntaxError;
- scripts/scale.py run against the real server reads its edition and stops with one line, changing nothing.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from scripts.neo4j_ops import queries as q
from scripts.neo4j_ops.scaling import statements as scaling
from scripts.neo4j_ops.shared.versions import Version
from tests.integration.conftest import PASSWORD
from tests.support.neo4j_local import LocalNeo4j

pytestmark = pytest.mark.integration
ROOT = q.__file__.rsplit("/scripts/", 1)[0]
SERVER_ID = "0d9e4c71-5a3b-4f6e-8e21-7c5b9a1d3f42"


def statements(version: Version) -> list[scaling.Statement]:
    return [scaling.topology_statement(version, "neo4j", 3, 2), scaling.enable_statement(SERVER_ID),
            scaling.deallocate_statement([SERVER_ID], dry_run=True),
            scaling.deallocate_statement([SERVER_ID, "replica-3.prod.neo4j.internal"], dry_run=False),
            scaling.drop_statement(SERVER_ID), scaling.Statement(q.SHOW_SERVERS.cypher),
            scaling.Statement(q.LIST_SERVERS.cypher)]


def error_code(local: LocalNeo4j, statement: scaling.Statement) -> str | None:
    from neo4j import GraphDatabase
    from neo4j.exceptions import Neo4jError

    with GraphDatabase.driver(local.uri, auth=("neo4j", local.password)) as driver:
        try:
            driver.execute_query(statement.cypher, statement.params, database_="system")
        except Neo4jError as error:
            return error.code
    return None


# Not 4.4: it has no server or allocation commands, and scaling sends it none (only dbms.cluster.overview).
@pytest.mark.parametrize("line_server", ["5", "2025"], indirect=True)
def test_every_scaling_statement_parses_in_the_real_server(line_server):
    version = Version.parse(line_server.version)
    for statement in statements(version):
        code = error_code(line_server, statement)
        assert code is not None and code.endswith(("UnsupportedAdministrationCommand", "NotSystemDatabaseError")), \
            (statement.cypher, code)
    cordon = scaling.cordon_statement(SERVER_ID)
    assert error_code(line_server, cordon) == "Neo.ClientError.Procedure.ProcedureNotFound"  # Enterprise-only
    misspelt = scaling.Statement("ALTER DATABASE neo4j SET TOPOLOGY 3 PRIMARIESS")
    assert error_code(line_server, misspelt) == "Neo.ClientError.Statement.SyntaxError"  # the control


def test_scale_on_a_community_server_says_there_is_no_cluster_and_changes_nothing(neo4j_server, tmp_path):
    config = {"config": {"neo4j:platform": "docker", "neo4j:version": neo4j_server.version,
                         "neo4j:edition": "community", "neo4j:acceptLicense": False, "neo4j:coreCount": 1,
                         "neo4j:replicaCount": 0, "neo4j:tls": "disabled"}}
    stack_file = tmp_path / "Pulumi.solo.yaml"
    stack_file.write_text(yaml.safe_dump(config))
    result = subprocess.run([sys.executable, f"{ROOT}/scripts/scale.py", "--stack", "solo", "--stack-file",
                             str(stack_file), "--uri", neo4j_server.uri, "--quiet"], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "NEO4J_PASSWORD": PASSWORD})
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == ("scale: Neo4j community edition: a single server, no cluster to scale "
                                     "(clustering needs Enterprise)")
