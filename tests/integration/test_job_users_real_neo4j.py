"""The job users' statements (components/job_users.py, setup-neo4j.sh's create_job_users) against real Neo4j
Community servers of every line: the user's own statement runs, and every role and privilege statement parses
(Community answers "Unsupported administration command", which it says only of a command it has parsed; a typo
gives "Invalid input"). What the privileges allow needs Enterprise: the manual's words are in
tests/unit/test_job_users.py."""
from __future__ import annotations

import neo4j
import pytest
from neo4j import GraphDatabase

from components.job_users import job_users
from components.topology import plan_topology
from tests.conftest import make_settings
from tests.integration.conftest import PASSWORD

pytestmark = pytest.mark.integration


def test_every_job_users_statement_parses_on_the_servers_line(line_server):
    settings = make_settings(version=line_server.version, edition="enterprise", coreCount=3, replicaCount=2,
                             tls="required")
    users = job_users(settings, plan_topology(settings))
    assert users
    with GraphDatabase.driver(line_server.uri, auth=("neo4j", PASSWORD)) as driver:
        for user in users:
            # As create_job_users sends them, each twice: at every boot they run again.
            for _ in range(2):
                driver.execute_query(f"CREATE OR REPLACE USER {user.name} SET PASSWORD 'job-user-pass-1' "
                                     f"CHANGE NOT REQUIRED", database_="system")
            for statement in (f"CREATE ROLE {user.name} IF NOT EXISTS", f"GRANT ROLE {user.name} TO {user.name}",
                              *user.grants):
                with pytest.raises(neo4j.exceptions.ClientError) as refused:
                    driver.execute_query(statement, database_="system")
                assert "Unsupported administration command" in refused.value.message, (statement,
                                                                                       refused.value.message)
            with GraphDatabase.driver(line_server.uri, auth=(user.name, "job-user-pass-1")) as own:
                own.verify_connectivity()
            driver.execute_query(f"DROP USER {user.name}", database_="system")
