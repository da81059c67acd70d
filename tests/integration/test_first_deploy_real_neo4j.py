"""First-deploy rules shown on a real Neo4j Community server of each line (4.4, 5.26, 2025) configured
by our templates: LOAD CSV reads only the import directory, and the boot script's initial password
(handed to the real neo4j-admin of the line in an argument file, never on a command line) is the one
the server then accepts."""
from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from neo4j import GraphDatabase
from neo4j.exceptions import ClientError

from components.aws.user_data import aws_artifacts
from components.topology import plan_topology
from tests.conftest import make_settings
from tests.support.neo4j_dist import (
    LINES,
    NEO4J_VERSIONS,
    Neo4jServer,
    admin_command,
    free_port,
    java_executable,
    line_of,
    make_home,
)
from tests.support.neo4j_local import local_jvm_args, machine_overrides, rendered_conf
from tests.support.shell import sandbox

pytestmark = pytest.mark.integration


def count_rows(uri: str, password: str, url: str) -> int:
    with GraphDatabase.driver(uri, auth=("neo4j", password)) as driver:
        records, _, _ = driver.execute_query(f"LOAD CSV FROM '{url}' AS row RETURN count(row) AS n")
        return records[0]["n"]


def test_load_csv_reads_the_import_directory(line_server):
    (line_server.home / "import" / "people.csv").write_text("name\nada\ngrace\n")
    assert count_rows(line_server.uri, line_server.password, "file:///people.csv") == 3


@pytest.mark.parametrize("url", ["file:///etc/passwd", "file:///../conf/neo4j.conf",
                                 "file:///../../../../../../etc/passwd"])
def test_load_csv_cannot_read_files_outside_the_import_directory(line_server, url):
    # Before the fix `file:///etc/passwd` returned the machine's accounts, and TLS private keys the
    # same way. The key is the template's own (the fixture only moves the directory into its home).
    assert f"{line_of(line_server.version).keys['import']}=" in line_server.conf
    with pytest.raises(ClientError) as refused:
        count_rows(line_server.uri, line_server.password, url)
    assert "Couldn't load the external resource" in str(refused.value) or "not found" in str(refused.value).lower()


# Beginning with "-" (neo4j-admin reads the argument file's "--" line as the end of its options), with quotes,
# a backslash, a dollar and a space.
PASSWORD = '-p@ss w"rd\\ $HOME #1\''


@pytest.mark.parametrize("line", LINES, ids=[line_of(line).label for line in LINES])
def test_the_boot_scripts_initial_password_is_accepted_by_the_real_server(line, tmp_path):
    # The rendered set_initial_password runs in bash; only `secret` (Secrets Manager) and `sudo`
    # are stand-ins. neo4j-admin is the line's real one from Maven, which reads the @argument file.
    version = NEO4J_VERSIONS[line]
    settings = make_settings(version=version, edition="community", coreCount=1, replicaCount=0)
    script = aws_artifacts(settings, plan_topology(settings))["core-1"]["setup-neo4j.sh"]
    home = make_home(tmp_path / "home")
    (home / "conf" / "neo4j.conf").write_text(rendered_conf(version=version))
    box = sandbox(tmp_path / "box")
    java_home = str(Path(java_executable(version)).resolve().parent.parent)
    box.stand_in("neo4j-admin", f'export NEO4J_HOME={shlex.quote(str(home))} '
                                f'NEO4J_CONF={shlex.quote(str(home / "conf"))} JAVA_HOME={shlex.quote(java_home)}\n'
                                f'exec {shlex.join(admin_command(version))} "$@"')
    box.stand_in("chown")
    quoted = "'" + PASSWORD.replace("'", "'\\''") + "'"
    prelude = (f'DATA_DIR="{home}/data"\nlog() {{ echo "$*"; }}\n'
               f"secret() {{ printf '%s' {quoted}; }}\nsudo() {{ shift 2; \"$@\"; }}\n")
    result = box.run(script, ["set_initial_password"], "set_initial_password\n", prelude=prelude)
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(PASSWORD not in call for call in box.calls())
    assert (home / "data" / "dbms" / "auth.ini").is_file()

    bolt, http, https = free_port(), free_port(), free_port()
    server = Neo4jServer(home, auth=("neo4j", PASSWORD), version=version, jvm_args=local_jvm_args(version),
                         config_overrides=machine_overrides(bolt, http, https, import_dir=str(home / "import"),
                                                            version=version))
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
