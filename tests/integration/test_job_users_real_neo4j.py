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


def test_the_backup_jobs_own_reads_run_logged_in_as_backup_job(line_server):
    """The backup code's Bolt reads (LocalNeo4j.facts: dbms.components, SHOW DATABASES, each database's counts,
    system's) run on the real server of each line logged in as backup_job, and record what the admin sees.
    Community gives every user every privilege, so what the grants allow and refuse is shown on the manual's
    stand-in (tests/unit/test_backup_job_privileges_standin.py); here: that the job's statements and login work."""
    from scripts.neo4j_ops.backup.server import LocalNeo4j as JobNeo4j
    from scripts.neo4j_ops.bolt import Auth

    with GraphDatabase.driver(line_server.uri, auth=("neo4j", PASSWORD)) as driver:
        driver.execute_query("CREATE OR REPLACE USER backup_job SET PASSWORD 'job-user-pass-1' CHANGE NOT REQUIRED",
                             database_="system")
        driver.execute_query("CREATE (:BackupJobProbe)-[:R]->(:BackupJobProbe)", database_="neo4j")
        try:
            nodes = driver.execute_query("MATCH (n) RETURN count(n) AS c", database_="neo4j").records[0]["c"]
            job = JobNeo4j(line_server.uri, Auth("backup_job", "job-user-pass-1"))
            facts = job.facts("neo4j")
            assert facts.version and {row["name"] for row in facts.databases} >= {"neo4j", "system"}
            assert facts.counts.nodes == nodes and facts.counts.relationships >= 1
            system = job.facts("system").counts
            assert system.users >= 2 and system.databases >= 2  # the admin and backup_job; neo4j and system
        finally:
            driver.execute_query("MATCH (n:BackupJobProbe) DETACH DELETE n", database_="neo4j")
            driver.execute_query("DROP USER backup_job IF EXISTS", database_="system")
