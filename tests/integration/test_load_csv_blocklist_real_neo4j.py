"""LOAD CSV cannot reach the machine, the metadata service or a private range: a real Neo4j Community server of
each line (4.4.46, 5.26.30, 2025.10.1), started with our rendered neo4j.conf (the session's server of the line,
`line_server`; strict validation on, so the server also accepts the line's setting name), refuses a URL on
loopback, while a server of the same conf without the blocklist line reads it.

Neo4j knowledge base, "Protecting against Server Side Request Forgery (SSRF)": the Cypher IP blocklist setting;
APOC manual, SSRF note: "Neo4j Community Edition: Configure the internal.dbms.cypher_ip_blocklist setting."
(4.4 names it unsupported.dbms.cypher_ip_blocklist.) No traffic goes to the metadata address: the test serves
the CSV itself on 127.0.0.1, which the rendered blocklist holds (127.0.0.0/8) like 169.254.0.0/16.
"""
from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from neo4j import GraphDatabase
from neo4j.exceptions import ClientError

from components.ip_blocklist import SETTING
from tests.support.neo4j_dist import Neo4jServer, free_port, make_home
from tests.support.neo4j_local import local_jvm_args, machine_overrides

pytestmark = pytest.mark.integration
CSV = b"name\nada\ngrace\n"
PASSWORD = "blocklist-secret-1"


@contextmanager
def loopback_csv_server() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on 127.0.0.1 serving CSV at any path; yields its URL and the paths it was asked for."""
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(CSV)))
            self.end_headers()
            self.wfile.write(CSV)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/people.csv", requests
    finally:
        server.shutdown()
        server.server_close()


def load_csv(uri: str, password: str, url: str) -> int:
    with GraphDatabase.driver(uri, auth=("neo4j", password)) as driver:
        records, _, _ = driver.execute_query(f"LOAD CSV FROM '{url}' AS row RETURN count(row) AS n")
        return records[0]["n"]


@contextmanager
def server_with(conf: str, version: str, directory) -> Iterator[str]:
    home = make_home(directory)
    (home / "conf" / "neo4j.conf").write_text(conf)
    bolt, http_port, https = free_port(), free_port(), free_port()
    overrides = machine_overrides(bolt, http_port, https, import_dir=str(home / "import"), version=version)
    with Neo4jServer(home, initial_password=PASSWORD, config_overrides=overrides, version=version,
                     jvm_args=local_jvm_args(version), fast_shutdown=True) as server:
        server.wait_for_bolt(180)
        yield f"bolt://127.0.0.1:{bolt}"


def test_load_csv_from_a_blocked_address_is_refused_and_read_without_the_blocklist(line_server, tmp_path):
    version, key, conf = line_server.version, SETTING[line_server.line], line_server.conf
    [blocklist] = [row for row in conf.splitlines() if row.startswith(f"{key}=")]
    assert "127.0.0.0/8" in blocklist and "169.254.0.0/16" in blocklist
    assert (line_server.home / "conf" / "neo4j.conf").read_text() == conf  # the session's server runs on it
    with loopback_csv_server() as (url, requests):
        with pytest.raises(ClientError) as refused:
            load_csv(line_server.uri, line_server.password, url)
        # The kernel names the setting it refused by ("... is blocked via the configuration property <key>").
        assert "blocked" in str(refused.value) and key in str(refused.value), str(refused.value)
        assert requests == []  # refused before any connection
        without = "\n".join(row for row in conf.splitlines() if row != blocklist) + "\n"
        with server_with(without, version, tmp_path / "open") as uri:
            assert load_csv(uri, PASSWORD, url) == 3  # without WITH HEADERS every line is a row
        assert requests == ["/people.csv"]
