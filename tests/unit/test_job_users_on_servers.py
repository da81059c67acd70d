"""Job users on the EC2 servers (issue 26, item 3): the first primary creates them, each job logs in as its own,
and no secondary reads the admin password. The users' privileges, with the manual's words: test_job_users.py."""
from __future__ import annotations

import base64
import os
import subprocess

import pytest

from components.aws.secret_names import secret_names
from components.aws.user_data import aws_artifacts
from components.job_users import CERT_RENEWAL, TOPOLOGY_JOIN
from tests.support.job_user_stacks import VERSIONS, stack
from tests.support.shell import sandbox


def files(server: str, line: str = "5", **overrides) -> dict[str, str]:
    settings, topology = stack(line, **overrides)
    return aws_artifacts(settings, topology)[server]


def test_a_secondary_never_reads_the_admin_password():
    settings, topology = stack("5")
    names = secret_names(settings, topology)
    for path, text in files("replica-1").items():
        assert names.admin_password not in text, path
    setup = files("replica-1")["setup-neo4j.sh"]
    assert "set_initial_password" not in setup and "create_job_users" not in setup


def test_the_first_primary_creates_the_job_users_with_passwords_only_on_standard_input(tmp_path):
    settings, topology = stack("5")
    names = secret_names(settings, topology)
    script = files("core-1")["setup-neo4j.sh"]
    assert "create_job_users" not in files("core-2")["setup-neo4j.sh"]
    box = sandbox(tmp_path)
    box.stand_in("cypher-shell", f'echo "env $NEO4J_USERNAME $NEO4J_PASSWORD" >>"{box.log}"; cat >"{tmp_path}/in"')
    prelude = ('log() { echo "$*"; }\nsecret() { case "$1" in '
               f'{names.admin_password}) printf admin-pass ;; *) printf "pw-%s" "${{1##*/}}" ;; esac; }}\n')
    result = box.run(script, ["create_job_users"], "create_job_users\n", prelude=prelude)
    assert result.returncode == 0, result.stderr
    calls = box.calls()
    assert calls[0] == "cypher-shell -a neo4j+ssc://localhost:7687 -d system --non-interactive"
    assert not any("pw-" in call or "admin-pass" in call.split("env ")[0] for call in calls[:1])
    assert calls[1] == "env neo4j admin-pass"
    statements = (tmp_path / "in").read_text()
    for user in (CERT_RENEWAL, TOPOLOGY_JOIN):
        assert (f"CREATE OR REPLACE USER {user} SET PASSWORD 'pw-{user}' CHANGE NOT REQUIRED;"
                f"CREATE ROLE {user} IF NOT EXISTS;GRANT ROLE {user} TO {user};") in statements
    assert "GRANT ALTER DATABASE ON DBMS TO topology_join;" in statements


def test_the_other_primaries_never_read_the_admin_password_and_write_its_salted_hash_as_auth_ini(tmp_path):
    # They may bootstrap `system` (so they set the initial password), from the admin's auth.ini line in its own
    # secret: the file neo4j-admin's set-initial-password writes (tests/integration/test_admin_auth_real_neo4j.py).
    settings, topology = stack("5")
    names = secret_names(settings, topology)
    for path, text in files("core-2").items():
        assert names.admin_password not in text, path
    script = files("core-2")["setup-neo4j.sh"]
    assert "run_step set_initial_password" in script and "set-initial-password \"@" not in script
    box = sandbox(tmp_path)
    data = tmp_path / "data"
    box.stand_in("install", f'mkdir -p "${{@: -1}}"; echo "install $*" >>"{box.log}"')
    box.stand_in("chown", f'echo "chown $*" >>"{box.log}"')
    prelude = (f'log() {{ :; }}\nDATA_DIR="{data}"\n'
               f'secret() {{ [[ "$1" == {names.admin_auth} ]] && printf "neo4j:SHA-256,ab,cd,1024:\\n"; }}\n')
    result = box.run(script, ["set_initial_password"], "set_initial_password\n", prelude=prelude)
    assert result.returncode == 0, result.stderr
    auth = data / "dbms" / "auth.ini"
    assert auth.read_text() == "neo4j:SHA-256,ab,cd,1024:\n" and auth.stat().st_mode & 0o077 == 0
    assert f"chown neo4j:neo4j {auth}" in box.calls()
    # Not again once `system` exists: the system database holds the password from then on.
    auth.unlink()
    (data / "databases" / "system").mkdir(parents=True)
    assert box.run(script, ["set_initial_password"], "set_initial_password\n", prelude=prelude).returncode == 0
    assert not auth.exists()


def test_a_secondary_joins_as_the_topology_user_with_its_own_secret(tmp_path):
    settings, topology = stack("5")
    names = secret_names(settings, topology)
    script = files("replica-1")["setup-neo4j.sh"].replace("/usr/local/lib/neo4j-cluster/join-topology.sh",
                                                          "join-topology.sh")
    box = sandbox(tmp_path)
    box.stand_in("join-topology.sh", f'echo "as $JOIN_USER" >>"{box.log}"; cat >"{tmp_path}/stdin"')
    result = box.run(script, ["join_database_topology"], "join_database_topology\n",
                     prelude='log() { :; }\nsecret() { printf "%s" "$1"; }\n')
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "stdin").read_text() == names.job_users[TOPOLOGY_JOIN]
    assert box.calls()[1] == "as topology_join"


def test_join_topology_logs_in_as_the_user_it_is_given(tmp_path):
    box = sandbox(tmp_path)
    box.stand_in("cypher-shell", f'echo "env $NEO4J_USERNAME" >>"{box.log}"')
    path = tmp_path / "join-topology.sh"
    path.write_text(files("replica-1")["join-topology.sh"])
    result = subprocess.run(["bash", str(path)], input="pw", capture_output=True, text=True, timeout=60,
                            env={"PATH": f"{box.bin}:{os.environ['PATH']}", "JOIN_USER": TOPOLOGY_JOIN})
    assert result.returncode == 0, result.stderr
    assert "env topology_join" in box.calls()


@pytest.mark.parametrize("server", ["core-1", "core-2", "replica-1"])
def test_certificate_renewal_logs_in_as_its_own_user_on_every_server(server):
    settings, topology = stack("5")
    names = secret_names(settings, topology)
    renewal = files(server)["renew-certificates.sh"]
    assert "NEO4J_USER=cert_renewal\n" in renewal
    assert f'PASSWORD_SECRET="{names.job_users[CERT_RENEWAL]}"' in renewal
    assert names.admin_password not in renewal


def test_community_renewal_keeps_the_admin_of_its_single_server():
    settings, topology = stack(edition="community", coreCount=1, replicaCount=0)
    renewal = aws_artifacts(settings, topology)["core-1"]["renew-certificates.sh"]
    assert "NEO4J_USER=neo4j\n" in renewal
    assert secret_names(settings, topology).admin_password in renewal


@pytest.mark.parametrize("line", ["4.4", "5", "2025"])
def test_the_first_primary_that_creates_the_users_still_fits_ec2s_user_data_limit(line):
    # It carries the most: the backup job's boot files, and creating the job users. compressed_user_data raises
    # above EC2's 16 KB; the margin is printed for the review.
    from components.aws.machine import USER_DATA_LIMIT, compressed_user_data
    from components.settings import load_settings
    from components.topology import plan_topology
    from tests.conftest import stack_config_on

    settings = load_settings("prod", stack_config_on("prod", VERSIONS[line]))
    topology = plan_topology(settings)
    first = topology.primaries[0].name
    user_data = aws_artifacts(settings, topology)[first]["cloud-init.yaml"]
    assert "run_step create_job_users" in user_data
    size = len(base64.b64decode(compressed_user_data(user_data)))
    assert size < USER_DATA_LIMIT - 512, f"{first}: {size} B, {USER_DATA_LIMIT - size} B to spare"
