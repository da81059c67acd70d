import re

from components.render import render_haproxy_cfg
from components.topology import plan_topology
from tests.conftest import make_settings


def backend(cfg: str, name: str) -> str:
    return re.search(rf"^backend {name}\n(.*?)(?=^\S|\Z)", cfg, re.M | re.S)[1]


def cfg_for(**overrides) -> str:
    settings = make_settings(**overrides)
    return render_haproxy_cfg(settings, plan_topology(settings))


def test_writes_go_only_to_primaries_checked_for_writability():
    write = backend(cfg_for(coreCount=3, replicaCount=2), "neo4j_write")
    assert "uri /db/neo4j/cluster/writable" in write
    assert re.findall(r"server (\S+) ", write) == ["core-1", "core-2", "core-3"]


def test_reads_go_to_every_available_server():
    read = backend(cfg_for(coreCount=3, replicaCount=2), "neo4j_read")
    assert "uri /db/neo4j/cluster/available" in read
    assert re.findall(r"server (\S+) ", read) == ["core-1", "core-2", "core-3", "replica-1", "replica-2"]


def test_bolt_is_passed_through_in_tcp_mode():
    assert re.search(r"^defaults\n(?:    .*\n)*?    mode tcp$", cfg_for(), re.M)


def test_community_server_is_checked_on_its_discovery_page():
    # Community has no /db/<name>/cluster/* endpoints: they answer 404.
    cfg = cfg_for(edition="community", coreCount=1, replicaCount=0, acceptLicense=False)
    assert "/cluster/" not in cfg
    assert "http-check send meth GET uri /\n" in cfg


def test_required_tls_checks_health_over_https_with_the_cluster_ca():
    cfg = cfg_for(tls="required")
    assert "check port 7473 check-ssl verify required ca-file /etc/haproxy/ca.crt" in cfg
    assert "check port 7474" in cfg_for(tls="optional")


def test_health_checks_follow_the_configured_database():
    assert "uri /db/movies/cluster/writable" in cfg_for(database="movies")
