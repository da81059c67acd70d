"""Least privilege inside Neo4j (issue 26, item 3): each job logs in as its own user, whose role grants only what
that job runs; no secondary reads the admin password (its IAM side: tests/unit/test_aws_plan.py)."""
from __future__ import annotations

from components.aws.secret_names import secret_names
from components.job_users import BACKUP_JOB, CERT_RENEWAL, TOPOLOGY_JOIN, job_users, user_of
from components.passwords import job_password
from tests.support.job_user_stacks import stack

# The Operations Manual (neo4j/docs-operations) on each privilege the job users hold or rely on, word for word.
MANUAL = {
    # 5.x, authentication-authorization/database-administration.adoc: the scripts run on `system`, which the
    # PUBLIC role does not reach ("GRANT ACCESS ON HOME DATABASE TO `PUBLIC`", built-in-roles.adoc).
    "access": "The `ACCESS` privilege enables users to connect to a database or a remote database alias.",
    # 5.x, dbms-administration/dbms-server-management-privileges.adoc, on GRANT SHOW SERVERS ON DBMS.
    "show servers": "As a result, the `serverViewer` role has privileges that only allow showing servers.",
    # 5.x, built-in-roles.adoc (PUBLIC's privileges as commands): dbms.components() needs no grant.
    "public procedures 5": '|"GRANT EXECUTE PROCEDURE * ON DBMS TO `PUBLIC`"',
    # 4.4, authentication-authorization/built-in-roles.adoc: neither does dbms.cluster.overview().
    "public procedures 4.4": "a user assigned to the `reader` role will be able to execute procedures because all "
                             "users are also\nassigned to the `PUBLIC` role, which enables that capability.",
    # dev (2025.x), procedures/built-in-procedures.adoc: reloadTLS is an admin procedure ...
    "reloadTLS": "[role=label--enterprise-edition label--admin-only label--new-2025.03]",
    # ... and 5.x, dbms-administration/dbms-execute-privileges.adoc, on admin procedures.
    "admin procedure": "This means that to execute an admin procedure you need both the <<access-control-execute-"
                       "procedure, `EXECUTE PROCEDURE`>> and <<access-control-execute-boosted-procedure, `EXECUTE "
                       "BOOSTED PROCEDURE`>> privileges for that procedure.",
    # 5.x, dbms-administration/dbms-database-management-privileges.adoc, on GRANT ALTER DATABASE ON DBMS.
    "alter database": "Enables the specified roles to modify standard databases.",
    # 5.x, database-administration/standard-databases/alter-databases.adoc: SET TOPOLOGY is an ALTER DATABASE.
    "set topology": "SET TOPOLOGY n PRIMAR{Y\\|IES} [m SECONDAR{Y\\|IES}] \\|",
    # 5.x, database-administration/standard-databases/listing-databases.adoc
    "show databases": "The results of the `SHOW DATABASES` command are filtered according to the `ACCESS` "
                      "privileges of the user.",
    # 5.x, built-in-roles.adoc: `DATABASE *` is every database but `system`.
    "star is not system": "The `reader` role can perform read-only queries on all graphs except for the `system` "
                          "database.",
    # 5.x, authentication-authorization/limitations.adoc: an unrestricted traverse counts from the count store.
    "traverse counts": "The database accesses the count store to retrieve the total number of nodes with the label "
                       "`:Person`, without needing to check each node against any security rules.",
    # 5.x, dbms-administration/dbms-{user,role,alias}-management-privileges.adoc (4.4's Cypher Manual the same).
    "show user/role/alias": ("Enables the specified roles to list users.", "Enables the specified roles to list "
                             "roles.", "Enables the specified roles to list aliases."),
    # 5.x, authentication-authorization/index.adoc: Community has no roles to narrow a user with.
    "community": "The functionality described in these pages applies to Enterprise Edition.\nA limited set of user "
                 "management functions are also available in Community Edition.",
}


def grants(line: str, **overrides) -> dict[str, tuple[str, ...]]:
    return {user.name: user.grants for user in job_users(*stack(line, **overrides))}


def test_certificate_renewal_may_reach_system_and_show_servers_and_nothing_else_on_5():
    # MANUAL["access"], MANUAL["show servers"]; dbms.components(): MANUAL["public procedures 5"].
    assert grants("5")[CERT_RENEWAL] == ("GRANT ACCESS ON DATABASE system TO cert_renewal",
                                         "GRANT SHOW SERVERS ON DBMS TO cert_renewal")


def test_certificate_renewal_on_4_4_needs_only_system_for_the_cluster_overview():
    # No SHOW SERVERS on 4.4; dbms.cluster.overview() is a procedure every user may run: MANUAL["public
    # procedures 4.4"].
    assert grants("4.4")[CERT_RENEWAL] == ("GRANT ACCESS ON DATABASE system TO cert_renewal",)


def test_certificate_renewal_on_2025_may_run_the_reload_procedure_and_no_other_admin_procedure():
    # MANUAL["reloadTLS"] with MANUAL["admin procedure"]: both privileges, for that one procedure.
    assert grants("2025")[CERT_RENEWAL][2:] == (
        "GRANT EXECUTE PROCEDURE dbms.security.reloadTLS ON DBMS TO cert_renewal",
        "GRANT EXECUTE BOOSTED PROCEDURE dbms.security.reloadTLS ON DBMS TO cert_renewal")


def test_the_topology_join_may_alter_databases_and_nothing_else():
    # MANUAL["alter database"], MANUAL["set topology"]: no user, role, privilege or server management.
    assert grants("5")[TOPOLOGY_JOIN] == ("GRANT ACCESS ON DATABASE system TO topology_join",
                                          "GRANT ALTER DATABASE ON DBMS TO topology_join")


def test_only_the_jobs_a_stack_runs_get_a_user():
    # The backup job runs on every stack (core-1); the others where their job does.
    assert set(grants("5", tls="disabled")) == {TOPOLOGY_JOIN, BACKUP_JOB}
    assert set(grants("5", replicaCount=0)) == {CERT_RENEWAL, BACKUP_JOB}
    assert set(grants("4.4")) == {CERT_RENEWAL, BACKUP_JOB}  # 4.4 read replicas join no topology


def test_the_backup_job_may_list_and_count_and_nothing_else():
    # MANUAL["show databases"] with MANUAL["star is not system"]: every database is listed and `system` reached;
    # MANUAL["traverse counts"]: counts from the count store; MANUAL["show user/role/alias"]: system's counts and
    # the run manifest's aliases; MANUAL["show servers"]: the members (4.4: dbms.cluster.overview(), PUBLIC's).
    # What each grant is needed for: tests/unit/test_backup_job_privileges_standin.py.
    common = ("GRANT ACCESS ON DATABASE * TO backup_job", "GRANT ACCESS ON DATABASE system TO backup_job",
              "GRANT TRAVERSE ON GRAPH * ELEMENTS * TO backup_job", "GRANT SHOW USER ON DBMS TO backup_job",
              "GRANT SHOW ROLE ON DBMS TO backup_job", "GRANT SHOW ALIAS ON DBMS TO backup_job")
    assert grants("5")[BACKUP_JOB] == (*common, "GRANT SHOW SERVERS ON DBMS TO backup_job")
    assert grants("2025")[BACKUP_JOB] == (*common, "GRANT SHOW SERVERS ON DBMS TO backup_job")
    assert grants("4.4")[BACKUP_JOB] == common


def test_community_has_no_roles_so_its_single_server_logs_in_as_the_admin():
    # MANUAL["community"]: a job user there could do all the admin does; the single server holds the admin anyway.
    settings, topology = stack(edition="community", coreCount=1, replicaCount=0)
    assert job_users(settings, topology) == ()
    assert user_of(settings, topology, CERT_RENEWAL) == "neo4j"
    assert user_of(settings, topology, BACKUP_JOB) == "neo4j"
    assert secret_names(settings, topology).job_users == {}


def test_job_passwords_are_stable_distinct_and_reveal_nothing_of_the_admin_password():
    admin = "Correct-Horse-9"
    one = job_password(admin, "prod", CERT_RENEWAL)
    assert one == job_password(admin, "prod", CERT_RENEWAL)
    assert len({one, job_password(admin, "prod", TOPOLOGY_JOIN), job_password(admin, "dev", CERT_RENEWAL),
                job_password(admin + "!", "prod", CERT_RENEWAL)}) == 4
    assert admin not in one and len(one) == 32 and one.isalnum()


def test_only_the_first_primary_reads_the_admin_password_the_others_its_salted_hash():
    from components.job_users import reads_admin_password, sets_password_from_hash
    from components.passwords import admin_auth_line

    settings, topology = stack("5")
    first, *others = topology.primaries
    assert reads_admin_password(topology, first) and not sets_password_from_hash(topology, first)
    assert all(sets_password_from_hash(topology, s) and not reads_admin_password(topology, s) for s in others)
    assert not any(reads_admin_password(topology, s) or sets_password_from_hash(topology, s)
                   for s in topology.secondaries)
    line = admin_auth_line("Correct-Horse-9", "prod")
    assert line == admin_auth_line("Correct-Horse-9", "prod")  # stable: the secret changes with the password only
    assert line != admin_auth_line("Correct-Horse-9", "dev") and "Correct-Horse-9" not in line
    user, algorithm, digest, salt, iterations = line.replace(":", ",", 1).rstrip(":").split(",")
    assert (user, algorithm, iterations, len(digest), len(salt)) == ("neo4j", "SHA-256", "1024", 64, 64)
