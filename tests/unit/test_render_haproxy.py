import re
import tempfile
from dataclasses import replace

import pytest

from components.render import render_haproxy_cfg
from components.topology import plan_topology
from tests.conftest import make_settings
from tests.support.haproxy import Loopback, changed_lines, loopback_cfg, server_names


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


def test_sessions_on_a_server_marked_down_are_closed_in_both_backends():
    # After a leader change, connections pinned to the old leader would stay open for up to the
    # 1h timeouts; HAProxy closes them when the server is marked down (defaults apply to both backends).
    cfg = cfg_for(coreCount=3, replicaCount=2)
    default_server = re.search(r"^    default-server (.*)$", cfg, re.M)[1]
    assert "on-marked-down shutdown-sessions" in default_server
    assert "inter 2s fall 3 rise 2" in default_server
    for name in ("neo4j_write", "neo4j_read"):
        assert "on-marked-down" not in backend(cfg, name)  # nothing overrides the default


def test_a_reload_keeps_the_servers_check_states():
    # Saved by haproxy-config-sync.sh through the admin socket just before it reloads, read by the new worker.
    cfg = cfg_for(coreCount=3, replicaCount=2)
    assert "    stats socket /var/lib/haproxy/admin.sock mode 600 level admin\n" in cfg
    assert "    server-state-file /var/lib/haproxy/server-state\n" in cfg
    assert re.search(r"^defaults\n(?:    .*\n)*?    load-server-state-from-file global$", cfg, re.M)


def test_health_checks_accept_only_200():
    # Followers and secondaries answer /cluster/writable with 404: accepting it would send writes to them.
    cfg = cfg_for(coreCount=3, replicaCount=2)
    for name in ("neo4j_write", "neo4j_read"):
        assert re.findall(r"http-check expect .*", backend(cfg, name)) == ["http-check expect status 200"]


def test_header_tells_clients_to_use_bolt_on_the_write_and_read_ports():
    header = "".join(line for line in cfg_for().splitlines(keepends=True) if line.startswith("#"))
    assert "bolt://<haproxy>:7687" in header and "bolt://<haproxy>:7689" in header
    assert "The Drivers do not perform any routing when\n# the `bolt://` URI scheme is used" in header
    assert "(server-side routing)" not in header


def frontend(cfg: str, name: str) -> str:
    return re.search(rf"^frontend {name}\n(.*?)(?=^\S|\Z)", cfg, re.M | re.S)[1]


def test_the_health_frontend_reports_each_bolt_port_by_whether_its_backend_has_a_server():
    # The load balancer in front of the pair checks these (components/aws/load_balancer.py LISTENERS).
    health = frontend(cfg_for(coreCount=3, replicaCount=2), "health")
    assert "    bind :8405\n" in health and "    mode http\n" in health
    rules = re.findall(r"^    http-request return (.*)$", health, re.M)
    assert rules == [
        'status 200 content-type text/plain string "writer" if { path /health/write } { nbsrv(neo4j_write) ge 1 }',
        'status 200 content-type text/plain string "readers" if { path /health/read } { nbsrv(neo4j_read) ge 1 }',
        'status 503 content-type text/plain string "no usable server"',
    ]


def test_the_load_balancer_checks_the_paths_and_port_the_health_frontend_serves():
    from components.aws.load_balancer import LISTENERS
    from components.ports import PORTS

    cfg = cfg_for(coreCount=3, replicaCount=2)
    health = frontend(cfg, "health")
    names = re.findall(r"^frontend (\S+)$", cfg, re.M)
    binds = {int(re.search(r"^    bind :(\d+)( ssl .*)?$", frontend(cfg, name), re.M)[1]): name for name in names}
    assert binds[PORTS.haproxy.health] == "health"
    for listener in LISTENERS:
        assert binds[listener.port].startswith("bolt_")
        assert f"{{ path {listener.health_path} }}" in health


# --- tests/support/haproxy.py: the rendered config on loopback ------------------------------------

def loopback_for(cfg: str, **extra) -> Loopback:
    names = server_names(cfg, "neo4j_read")
    return Loopback(binds={"bolt_write": 10001, "bolt_read": 10002, "health": 10004, "stats": 10003},
                    servers={name: (11000 + i, 12000 + i) for i, name in enumerate(names)},
                    nameserver_port=10053,
                    **{"state_dir": "/tmp/state", "privileged": True, "chroot_dir": "/tmp/jail", **extra})


def test_loopback_config_changes_only_addresses_and_ports():
    cfg = cfg_for(coreCount=3, replicaCount=2)
    changes = changed_lines(cfg, loopback_cfg(cfg, loopback_for(cfg)))
    # TLS required (the default): each bind and server keeps its TLS words (entry certificate, verification) as
    # rendered; only what comes before them moves.
    assert all(before.partition(" ssl ")[1:] == after.partition(" ssl ")[1:] for before, after in changes)
    assert sum(" ssl " in after for _, after in changes) == 2 + 3 + 5
    assert [after.strip().partition(" ssl ")[0] for _, after in changes] == [
        "chroot /tmp/jail",
        "stats socket /tmp/state/admin.sock mode 600 level admin", "server-state-file /tmp/state/server-state",
        "nameserver loopback 127.0.0.1:10053",
        "bind 127.0.0.1:10001", "bind 127.0.0.1:10002",
        "server core-1 127.0.0.1:11000 port 12000", "server core-2 127.0.0.1:11001 port 12001",
        "server core-3 127.0.0.1:11002 port 12002",
        "server core-1 127.0.0.1:11000 port 12000", "server core-2 127.0.0.1:11001 port 12001",
        "server core-3 127.0.0.1:11002 port 12002", "server replica-1 127.0.0.1:11003 port 12003",
        "server replica-2 127.0.0.1:11004 port 12004",
        "bind 127.0.0.1:10004", "bind 127.0.0.1:10003",
    ]
    assert [before.strip().partition(" ssl ")[0] for before, _ in changes][3:6] == ["parse-resolv-conf", "bind :7687",
                                                                                     "bind :7689"]


def test_loopback_config_leaves_chroot_and_user_out_where_haproxy_cannot_drop_privileges():
    cfg = cfg_for(coreCount=3, replicaCount=2)
    changes = changed_lines(cfg, loopback_cfg(cfg, loopback_for(cfg, privileged=False)))
    assert changes[:3] == [("    chroot /var/lib/haproxy", "    # chroot /var/lib/haproxy (not root here)"),
                           ("    user haproxy", "    # user haproxy (not root here)"),
                           ("    group haproxy", "    # group haproxy (not root here)")]


def test_loopback_config_changes_maxconn_and_ca_file_only_when_asked():
    cfg = cfg_for(tls="required", coreCount=3, replicaCount=2)
    changes = changed_lines(cfg, loopback_cfg(cfg, loopback_for(cfg, maxconn=1000, ca_file="/tmp/ca.crt")))
    assert ("    maxconn 20000", "    maxconn 1000") in changes
    default_server = next(after for before, after in changes if "default-server" in before)
    assert default_server.endswith("check-ssl verify required ca-file /tmp/ca.crt")
    assert len(changes) == 16 + 2


def test_loopback_config_refuses_a_server_or_port_it_has_no_place_for():
    cfg = cfg_for(coreCount=3, replicaCount=2)
    places = loopback_for(cfg)
    with pytest.raises(ValueError, match="replica-2"):
        loopback_cfg(cfg, replace(places, servers={k: v for k, v in places.servers.items() if k != "replica-2"}))
    with pytest.raises(ValueError, match="replica-9"):
        loopback_cfg(cfg, replace(places, servers={**places.servers, "replica-9": (1, 2)}))
    with pytest.raises(ValueError, match="line count"):
        changed_lines(cfg, cfg + "extra\n")


def test_loopback_config_makes_nothing_on_disk_and_needs_a_jail_where_it_keeps_the_chroot(tmp_path, monkeypatch):
    # loopback_cfg only edits text: the directories it names are the caller's to make (loopback_dirs) inside the
    # caller's temporary directory. Any temporary directory it made would land in `made` here.
    made = tmp_path / "tempfile"
    made.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(made))
    cfg = cfg_for(coreCount=3, replicaCount=2)
    state, jail = tmp_path / "state", tmp_path / "jail"
    text = loopback_cfg(cfg, loopback_for(cfg, state_dir=str(state), chroot_dir=str(jail)))
    assert f"    chroot {jail}\n" in text and f" {state}/admin.sock " in text
    assert sorted(tmp_path.iterdir()) == [made] and list(made.iterdir()) == []
    with pytest.raises(ValueError, match="chroot_dir"):
        loopback_cfg(cfg, loopback_for(cfg, chroot_dir=None))
    # without privileges the chroot is left out, so no jail is needed
    unprivileged = loopback_cfg(cfg, loopback_for(cfg, privileged=False, chroot_dir=None))
    assert "\n    # chroot /var/lib/haproxy (not root here)\n" in unprivileged
