"""Fabric on 4.4 against a real Neo4j Community 4.4.46: why the Fabric proxy's neo4j.conf is checked against the 4.4
settings catalogue only (tests/unit/test_fabric_44.py) and never started here.

Fabric is Enterprise Edition's: the 4.4 Operations Manual (neo4j/docs-operations, branch 4.4 @ 139efb54),
modules/ROOT/pages/fabric/configuration.adoc:1 "[role=enterprise-edition]". Community 4.4.46's neo4j-fabric jar
declares two fabric settings only (fabric.stream.batch_size, fabric.enabled_by_default: read from its
org/neo4j/fabric/config/FabricSettings), so under strict validation (which our 4.4 template sets) the proxy's
fabric.database.name is an unknown setting there: the server refuses to start and names it. Measured, not assumed:
if a later Community accepted it, this test fails, and the proxy's conf should then be started for real."""
from __future__ import annotations

import pytest

from components.render import render_cluster
from components.topology import plan_topology
from tests.conftest import make_settings
from tests.integration.conftest import PASSWORD
from tests.support.neo4j_dist import NEO4J_VERSIONS, Neo4jDistError
from tests.support.neo4j_local import prepare
from tests.support.neo4j_settings import conf_entries

pytestmark = pytest.mark.integration


def proxy_fabric_lines() -> list[str]:
    """The fabric.* lines of the proxy's conf as render makes it for a 4.4 stack with a composite."""
    settings = make_settings(platform="docker", version=NEO4J_VERSIONS["4.4"], backupSchedule="*-*-* 02:00:00 UTC",
                             databases=[{"name": "books"}], fabricProxyCount=1,
                             composites=[{"name": "library", "aliases": [{"name": "books", "database": "books"}]}])
    rendered = render_cluster(settings, plan_topology(settings))
    return [f"{k}={v}" for k, v in conf_entries(rendered.files["fabric-1"]["neo4j.conf"]) if k.startswith("fabric.")]


def refusal(lines: list[str], tmp_path) -> str:
    """Our standalone Community 4.4.46 conf (strict validation on) with `lines` added: the line of the console log
    that says why the server exited before Bolt answered."""
    local = prepare(tmp_path / "home", password=PASSWORD, version=NEO4J_VERSIONS["4.4"])
    conf_file = local.home / "conf" / "neo4j.conf"
    assert "dbms.config.strict_validation=true" in conf_file.read_text()
    conf_file.write_text(conf_file.read_text() + "\n".join(lines) + "\n")
    try:
        local.start(timeout=120)
    except Neo4jDistError as error:
        assert "exited" in str(error), str(error)
        log = local.server.console_log.read_text(errors="replace")
        return next(line for line in log.splitlines() if "Unrecognized setting" in line)
    else:
        pytest.fail(f"Neo4j Community {local.version} started with {lines}")
    finally:
        local.stop()


def test_community_4_4_refuses_the_fabric_proxy_settings_under_strict_validation(tmp_path):
    lines = proxy_fabric_lines()
    assert lines[0] == "fabric.database.name=library"
    # Which of them the server meets first varies; every one is unknown to Community (measured one by one: the
    # database name below, and fabric.graph.0.uri, fabric.routing.servers alike).
    assert "No declared setting with name: fabric." in refusal(lines, tmp_path / "all")
    assert refusal(lines[:1], tmp_path / "name").endswith("No declared setting with name: fabric.database.name")
