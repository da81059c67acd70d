"""Fabric on 4.4 (issue 21, item 3): neo4j:composites on a 4.4 stack is the Fabric database of neo4j:fabricProxyCount
proxy servers, standalone DBMSs outside the causal cluster. The manual's rules, each quoted from the 4.4 Operations
Manual (neo4j/docs-operations, branch 4.4 @ 139efb54, modules/ROOT/pages/fabric/):
  considerations.adoc:8   "The DBMS hosting the Fabric virtual database cannot be part of a Causal Cluster: it can
                          only be a DBMS with `dbms.mode=SINGLE`."
  configuration.adoc:190  "Neo4j Fabric currently supports one Fabric database in a standalone Neo4j DBMS."
  configuration.adoc:161  "Connections between the Fabric database and the Neo4j DBMSs hosting the data are created
                          using the same credentials that are supplied in the client connection to the Fabric
                          database."
  configuration.adoc:1    "[role=enterprise-edition]"
  configuration.adoc:259  "SSL for Fabric drivers is configured using the `fabric` SSL policy."
  configuration.adoc:191  (fabric.routing.servers) "A comma-separated list of Neo4j DBMSs that share the same Fabric
                          configuration."
No real server takes the proxy's conf here: Fabric is Enterprise Edition's (configuration.adoc:1), and Community 4.4.46
refuses every fabric.* key under strict validation (measured: tests/integration/test_fabric_44_real_neo4j.py); every
key is checked against the 4.4 catalogue instead."""
from __future__ import annotations

import pytest

from components.databases import FABRIC_CREDENTIALS, FABRIC_ONE_DATABASE, FABRIC_SINGLE_DBMS
from components.ip_blocklist import SETTING as IP_BLOCKLIST
from components.render import render_cluster
from components.settings import ConfigError
from components.topology import FABRIC, plan_topology
from scripts.neo4j_ops.plan.summary import database_lines
from tests.conftest import make_settings
from tests.support.neo4j_settings import REPEATABLE, conf_entries, known
from tests.support.plans import make_plan

KEY = "neo4j:composites"
PROXIES = "neo4j:fabricProxyCount"
LIBRARY = [{"name": "library", "aliases": [{"name": "books", "database": "books"},
                                           {"name": "main", "database": "neo4j"}]}]
ON_44 = {"platform": "docker", "version": "4.4.46", "backupSchedule": "*-*-* 02:00:00 UTC",
         "databases": [{"name": "books"}]}


def problems_of(**overrides) -> list[str]:
    with pytest.raises(ConfigError) as error:
        make_settings(**{**ON_44, **overrides})
    return error.value.problems


def fabric_stack(**overrides):
    settings = make_settings(**{**ON_44, "composites": LIBRARY, "fabricProxyCount": 1, **overrides})
    topology = plan_topology(settings)
    return settings, topology, render_cluster(settings, topology)


def test_the_manual_sentences_quoted_are_the_manuals():
    # The constants the refusals rest on, as the manual words them (branch 4.4, fabric/*.adoc).
    assert FABRIC_SINGLE_DBMS.endswith("it can only be a DBMS with `dbms.mode=SINGLE`.")
    assert FABRIC_ONE_DATABASE == "Neo4j Fabric currently supports one Fabric database in a standalone Neo4j DBMS."
    assert "the same credentials that are supplied in the client connection" in FABRIC_CREDENTIALS


def test_composites_on_4_4_without_a_proxy_are_refused_naming_the_proxy_key():
    assert problems_of(composites=LIBRARY) == [
        f"{KEY}: a composite on Neo4j 4.4 is a Fabric database, which needs a DBMS of its own outside the causal "
        f"cluster (dbms.mode=SINGLE); allowed on 4.4: set {PROXIES} to 1 or more, or no composites"]


def test_more_than_one_composite_on_4_4_is_refused_quoting_the_manual():
    two = [*LIBRARY, {"name": "archive", "aliases": [{"name": "main", "database": "neo4j"}]}]
    assert problems_of(composites=two, fabricProxyCount=1) == [
        f"{KEY}: got 2 composites on Neo4j 4.4; allowed: one (\"{FABRIC_ONE_DATABASE}\")"]


def test_a_remote_alias_on_4_4_is_refused_as_fabric_uses_the_callers_credentials():
    remote = [{"name": "library", "aliases": [
        {"name": "partner", "database": "neo4j", "uri": "neo4j+s://partner.example.com:7687", "user": "reader"}]}]
    assert problems_of(composites=remote, fabricProxyCount=1) == [
        f"{KEY}: the remote alias library.partner has a user of its own, which Fabric on 4.4 cannot use; allowed on "
        f"4.4: local aliases only (Fabric connects with the caller's credentials)"]


def test_fabric_on_4_4_community_is_refused():
    assert problems_of(composites=LIBRARY, fabricProxyCount=1, edition="community", coreCount=1, replicaCount=0,
                       databases=[], acceptLicense=False) == [
        f"{KEY}: Fabric on 4.4 is Enterprise Edition's; allowed with community: none"]


def test_proxies_outside_4_4_or_without_a_composite_are_refused():
    assert problems_of(version="5.26.30", fabricProxyCount=1, databases=[]) == [
        f"{PROXIES}: got 1 on Neo4j 5; allowed: 0 (Fabric proxies are 4.4's; on 5.x and 2025 a composite database "
        f"lives in the cluster itself)"]
    assert problems_of(fabricProxyCount=2) == [
        f"{PROXIES}: got 2 Fabric proxies and no {KEY}; allowed: 0, or a composite for them to serve"]


def test_proxies_are_taken_on_both_platforms():
    # Each adapter places them: an EC2 machine each on aws (tests/unit/test_aws_plan.py, variant fabric-44), a
    # container each on docker (below).
    for platform in ("aws", "docker"):
        settings = make_settings(**{**ON_44, "platform": platform, "composites": LIBRARY, "fabricProxyCount": 1})
        assert [p.name for p in plan_topology(settings).fabric_proxies] == ["fabric-1"], platform


def test_a_local_alias_must_still_target_a_database_of_the_stack():
    found = problems_of(composites=[{"name": "library", "aliases": [{"name": "films", "database": "films"}]}],
                        fabricProxyCount=1)
    assert found == [f"{KEY}: the local alias library.films targets 'films', which the stack does not define; "
                     f"allowed: books, neo4j (neo4j:database, neo4j:databases)"]


def test_the_proxies_are_a_role_of_their_own_outside_the_cluster():
    settings, topology, rendered = fabric_stack(fabricProxyCount=2)
    assert [(p.name, p.role) for p in topology.fabric_proxies] == [("fabric-1", FABRIC), ("fabric-2", FABRIC)]
    assert all(s.role != FABRIC for s in topology.servers)  # no HAProxy backend, backup, rollout step or member
    assert [s.hostname for s in topology.fabric_proxies] == ["fabric-1.test.neo4j.internal",
                                                             "fabric-2.test.neo4j.internal"]
    assert set(rendered.fabric_proxies) == {"fabric-1", "fabric-2"} and "fabric-1" not in rendered.servers


def test_the_proxy_conf_is_single_with_each_local_alias_a_graph_at_the_cores():
    settings, topology, rendered = fabric_stack()
    entries = conf_entries(rendered.files["fabric-1"]["neo4j.conf"])
    conf = dict(entries)
    cores = ",".join(f"neo4j://core-{i}.test.neo4j.internal:7687" for i in (1, 2, 3))
    assert conf["dbms.mode"] == "SINGLE"  # considerations.adoc:8
    assert conf["fabric.database.name"] == "library"
    assert [(k, v) for k, v in entries if k.startswith("fabric.")] == [
        ("fabric.database.name", "library"),
        ("fabric.graph.0.name", "books"), ("fabric.graph.0.uri", cores), ("fabric.graph.0.database", "books"),
        ("fabric.graph.1.name", "main"), ("fabric.graph.1.uri", cores), ("fabric.graph.1.database", "neo4j")]
    assert "fabric.routing.servers" not in conf  # one proxy: no routing group
    # Not a member: no discovery, no cluster or backup policy, no backup listener.
    assert not [k for k in conf if k.startswith("causal_clustering.")]
    assert "dbms.backup.enabled" not in conf
    assert not [k for k in conf if k.startswith(("dbms.ssl.policy.cluster.", "dbms.ssl.policy.backup."))]
    # The members' confs carry nothing of Fabric.
    assert not [k for k, _ in conf_entries(rendered.files["core-1"]["neo4j.conf"]) if k.startswith("fabric.")]


def test_every_key_of_the_proxy_conf_is_in_the_4_4_catalogue():
    for tls in ("required", "optional", "disabled"):
        _, _, rendered = fabric_stack(fabricProxyCount=2, tls=tls)
        entries = conf_entries(rendered.files["fabric-2"]["neo4j.conf"])
        keys = [k for k, _ in entries]
        # The Cypher IP blocklist is the one key no settings page lists (test_render_neo4j_conf.py catalogued_entries):
        # its real 4.4.46 server takes it under strict validation.
        assert [k for k in keys if known("4.4", k) is None] == [IP_BLOCKLIST["4.4"]], tls
        assert [k for k in set(keys) if keys.count(k) > 1 and k not in REPEATABLE] == [], tls


def test_several_proxies_form_a_routing_group():
    _, _, rendered = fabric_stack(fabricProxyCount=2)
    for proxy in ("fabric-1", "fabric-2"):
        conf = dict(conf_entries(rendered.files[proxy]["neo4j.conf"]))
        assert conf["fabric.routing.servers"] == "fabric-1.test.neo4j.internal:7687,fabric-2.test.neo4j.internal:7687"


def test_the_fabric_ssl_policy_is_there_exactly_when_tls_is_on():
    for tls, expected in (("required", True), ("optional", True), ("disabled", False)):
        _, _, rendered = fabric_stack(tls=tls)
        conf = dict(conf_entries(rendered.files["fabric-1"]["neo4j.conf"]))
        assert (conf.get("dbms.ssl.policy.fabric.enabled") == "true") is expected, tls
        scopes = [p.scope for p in rendered.fabric_proxies["fabric-1"].ssl_policies]
        assert ("fabric" in scopes) is expected, tls
        if expected:
            # The drivers dial the cores by their advertised names, which every server certificate holds.
            assert conf["dbms.ssl.policy.fabric.verify_hostname"] == "true"
            assert conf["dbms.ssl.policy.fabric.trusted_dir"] == "trusted"


def test_the_plan_summary_shows_the_fabric_database_and_its_graphs():
    settings, topology, _ = fabric_stack(fabricProxyCount=2)
    lines = database_lines(settings, topology)
    assert "  library: Fabric database of fabric-1, fabric-2 (dbms.mode=SINGLE, fabric.* in their neo4j.conf)" in lines
    assert ("    graph 0 books -> books at neo4j://core-1.test.neo4j.internal:7687 (and the other cores)") in lines


def test_make_plan_of_a_4_4_docker_stack_runs_the_proxy_as_a_container(tmp_path_factory):
    config = {"neo4j:platform": "docker", "neo4j:version": "4.4.46", "neo4j:edition": "enterprise",
              "neo4j:acceptLicense": True, "neo4j:coreCount": 3, "neo4j:replicaCount": 0,
              "neo4j:containerMemory": "2g", "neo4j:tls": "required",
              "neo4j:backupSchedule": "*-*-* 02:00:00 UTC", "neo4j:databases": [{"name": "books"}],
              "neo4j:composites": LIBRARY, "neo4j:fabricProxyCount": 1}
    plan = make_plan("fabric", "fab", config, tmp_path_factory.mktemp("plan-fabric") / "out")
    assert "fabric-1/neo4j.conf" in plan.document["artifacts"]
    written = (plan.out / "fabric-1" / "neo4j.conf").read_text()
    assert "fabric.database.name=library" in written and "dbms.mode=SINGLE" in written
    uploads = plan.uploads("fabric-1")
    assert uploads["/var/lib/neo4j/conf/neo4j.conf"] == written
    # Its certificate for Bolt, HTTPS and the fabric policy's drivers, with the cluster's CA to trust.
    assert {"/var/lib/neo4j/certificates/fabric/private.key", "/var/lib/neo4j/certificates/fabric/public.crt",
            "/var/lib/neo4j/certificates/fabric/trusted/ca.crt"} <= set(uploads)
    # Bolt published after the three cores' (17687, 17787, 17887).
    assert {p["external"] for p in plan.container("fabric-1")["ports"] if p["internal"] == 7687} == {17987}
    # The stack outputs list it as AWS's do (components/outputs.py fabric_proxies), reached on that port.
    assert plan.document["outputs"]["fabricProxies"] == [
        {"name": "fabric-1", "role": "fabric", "zone": plan.topology.fabric_proxies[0].zone,
         "hostname": "fabric-1.fab.neo4j.internal", "privateIp": "fabric-1.fab.neo4j.internal",
         "boltUri": "bolt://127.0.0.1:17987"}]
