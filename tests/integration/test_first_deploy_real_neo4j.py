"""First-deploy rules shown on a real Neo4j Community 5.26 server configured by our templates:
LOAD CSV reads only the import directory, and the boot script's initial password (handed to the real
neo4j-admin in an argument file, never on a command line) is the one the server then accepts."""
from __future__ import annotations

import shlex

import pytest
from neo4j import GraphDatabase
from neo4j.exceptions import ClientError

from components.aws.user_data import aws_artifacts
from components.topology import plan_topology
from tests.conftest import make_settings
from tests.support.neo4j_dist import (
    ADMIN_MAIN_CLASS,
    Neo4jServer,
    free_port,
    java_executable,
    make_home,
    neo4j_classpath,
)
from tests.support.neo4j_local import machine_overrides, rendered_conf
from tests.support.shell import sandbox

pytestmark = pytest.mark.integration


def count_rows(uri: str, password: str, url: str) -> int:
    with GraphDatabase.driver(uri, auth=("neo4j", password)) as driver:
        records, _, _ = driver.execute_query(f"LOAD CSV FROM '{url}' AS row RETURN count(row) AS n")
        return records[0]["n"]


def test_load_csv_reads_the_import_directory(neo4j_server):
    (neo4j_server.home / "import" / "people.csv").write_text("name\nada\ngrace\n")
    assert count_rows(neo4j_server.uri, neo4j_server.password, "file:///people.csv") == 3


@pytest.mark.parametrize("url", ["file:///etc/passwd", "file:///../conf/neo4j.conf",
                                 "file:///../../../../../../etc/passwd"])
def test_load_csv_cannot_read_files_outside_the_import_directory(neo4j_server, url):
    # Before the fix `file:///etc/passwd` returned the machine's accounts, and TLS private keys the
    # same way. The key is the template's own (the fixture only moves the directory into its home).
    assert "server.directories.import=" in neo4j_server.conf
    with pytest.raises(ClientError) as refused:
        count_rows(neo4j_server.uri, neo4j_server.password, url)
    assert "Couldn't load the external resource" in str(refused.value) or "not found" in str(refused.value).lower()


PASSWORD = 'p@ss w"rd\\ $HOME #1\''


def test_the_boot_scripts_initial_password_is_accepted_by_the_real_server(tmp_path):
    # The rendered set_initial_password runs in bash; only `secret` (Secrets Manager) and `sudo`
    # are stand-ins. neo4j-admin is the real one from Maven, which reads the @argument file.
    settings = make_settings(version="5.26.30", edition="community", coreCount=1, replicaCount=0)
    script = aws_artifacts(settings, plan_topology(settings))["core-1"]["setup-neo4j.sh"]
    home = make_home(tmp_path / "home")
    (home / "conf" / "neo4j.conf").write_text(rendered_conf())
    box = sandbox(tmp_path / "box")
    admin = f"exec {shlex.quote(java_executable())} -cp {shlex.quote(neo4j_classpath())} {ADMIN_MAIN_CLASS} \"$@\""
    box.stand_in("neo4j-admin", f'export NEO4J_HOME={shlex.quote(str(home))} '
                                f'NEO4J_CONF={shlex.quote(str(home / "conf"))}\n{admin}')
    box.stand_in("chown")
    quoted = "'" + PASSWORD.replace("'", "'\\''") + "'"
    prelude = (f'DATA_DIR="{home}/data"\nlog() {{ echo "$*"; }}\n'
               f"secret() {{ printf '%s' {quoted}; }}\nsudo() {{ shift 2; \"$@\"; }}\n")
    result = box.run(script, ["set_initial_password"], "set_initial_password\n", prelude=prelude)
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(PASSWORD not in call for call in box.calls())
    assert (home / "data" / "dbms" / "auth.ini").is_file()

    bolt, http, https = free_port(), free_port(), free_port()
    server = Neo4jServer(home, auth=("neo4j", PASSWORD),
                         config_overrides=machine_overrides(bolt, http, https, import_dir=str(home / "import")))
    server.start()
    try:
        server.wait_for_bolt(180)
        with GraphDatabase.driver(f"bolt://127.0.0.1:{bolt}", auth=("neo4j", PASSWORD)) as driver:
            driver.verify_connectivity()
            records, _, _ = driver.execute_query("SHOW CURRENT USER YIELD user, passwordChangeRequired",
                                                 database_="system")
            assert records[0]["user"] == "neo4j" and records[0]["passwordChangeRequired"] is False
    finally:
        server.stop()
