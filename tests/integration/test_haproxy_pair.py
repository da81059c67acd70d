"""The entry point's failover, with real haproxy processes on loopback: two running the RENDERED haproxy.cfg
(haproxy-1, haproxy-2; only addresses and ports substituted, tests/support/haproxy.py) in front of the same
stand-in servers, and a third real haproxy in TCP mode as a STAND-IN FOR THE NETWORK LOAD BALANCER (an NLB
cannot run here). The stand-in does what components/aws/load_balancer.py asks of the NLB: one listener per Bolt
port, forwarding to both nodes, health-checked with HTTP GET on each node's health frontend (/health/write,
/health/read, 200 = healthy), connections on a node marked unhealthy closed ("If a target becomes unhealthy,
the load balancer sends a TCP RST for packets received on the client connections associated with the target",
Elastic Load Balancing, "Health checks for Network Load Balancer target groups"), no retry on another node.
Its check is scaled down (inter 1s, fall 2) from the NLB's (10 s, 2) so the test stays short: on AWS the
same failover takes about UNHEALTHY_AFTER x HEALTH_INTERVAL = 20 s, passive health checks aside.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from components.aws.load_balancer import HEALTH_INTERVAL, LISTENERS, UNHEALTHY_AFTER
from components.aws.user_data import render_haproxy_node
from components.render import render_haproxy_cfg
from components.topology import plan_topology
from tests.conftest import make_settings
from tests.support.haproxy import (
    ClusterState,
    EchoServer,
    HealthEndpoints,
    Loopback,
    RunningHAProxy,
    loopback_cfg,
    loopback_dirs,
    running_haproxy,
    server_names,
    who_answers,
)
from tests.support.neo4j_dist import free_port
from tests.support.shell import Sandbox, sandbox

pytestmark = pytest.mark.integration

INTER, FALL, RISE = 1, 2, 2  # the NLB stand-in's checks: the NLB's HEALTH_INTERVAL and thresholds, scaled
DETECTED_WITHIN = INTER * FALL + INTER  # a dead node is out of the stand-in's rotation by then (one of slack)
SERVERS = ["core-1", "core-2", "core-3", "replica-1", "replica-2"]


def rendered_cfg(replicas: int) -> str:
    # enterprise (tests.conftest.BASE); tls optional: the stand-in health endpoints answer plain HTTP.
    settings = make_settings(coreCount=3, replicaCount=replicas, tls="optional")
    return render_haproxy_cfg(settings, plan_topology(settings))


def node_loopback(servers: dict[str, tuple[int, int]], directory: Path) -> Loopback:
    directory.mkdir()
    return Loopback(binds={name: free_port() for name in ("bolt_write", "bolt_read", "stats", "health")},
                    servers=servers, nameserver_port=free_port(), maxconn=1000, **loopback_dirs(directory))


def sync_config(node: RunningHAProxy, loopback: Loopback, published: str, box: Sandbox) -> subprocess.CompletedProcess:
    """Run the node's real haproxy-config-sync.sh against `published` (the S3 object): real haproxy -c, real
    python3 saving the server states through the admin socket, real curl on the health frontend; stand-ins only
    for `aws s3 cp` (a local copy), the instance metadata (the deploy's sha256 tag) and `systemctl
    reload-or-restart haproxy` (SIGUSR2 to the master, as the packaged haproxy.service's ExecReload does)."""
    script = render_haproxy_node(make_settings(), stack_nodes=2, node="haproxy-2", index=1,
                                 ca_secret="")["haproxy-config-sync.sh"]
    (box.root / "sync.sh").write_text(script)
    (box.root / "object.cfg").write_text(published)
    box.stand_in("aws", 'cp "$3" "$4"')
    box.stand_in("systemctl", f'[[ "$*" == "is-active --quiet haproxy" ]] && {{ kill -0 {node.process.pid}; exit; }}; '
                              f'[[ "$*" == "reload-or-restart haproxy" ]] && kill -USR2 {node.process.pid}')
    # The instance metadata address is never reached from a test: curl's IMDS calls get the token and the deploy's
    # HaproxyConfigSha256 tag (the published object's sha256) here; every other call is the real curl.
    box.stand_in("curl", f'''case "$*" in
  *169.254.169.254/latest/api/token*) echo token ;;
  *169.254.169.254/latest/meta-data/tags/instance/HaproxyConfigSha256*)
    sha256sum "{box.root}/object.cfg" | cut -d " " -f 1 ;;
  *169.254.169.254*) exit 22 ;;
  *) exec /usr/bin/curl "$@" ;;
esac''')
    environment = {"PATH": f"{box.bin}:{os.environ['PATH']}", "HOME": str(box.root),
                   "HAPROXY_CONFIG_OBJECT": str(box.root / "object.cfg"), "HAPROXY_CFG": str(node.config),
                   "HAPROXY_HEALTH_URL": f"http://127.0.0.1:{loopback.binds['health']}/health/read",
                   "HAPROXY_SOCKET": f"{loopback.state_dir}/admin.sock",
                   "HAPROXY_STATE_FILE": f"{loopback.state_dir}/server-state",
                   "TEXTFILE_DIR": str(box.root / "textfile")}  # the refusal metric: here, not the host's
    return subprocess.run(["bash", str(box.root / "sync.sh")], capture_output=True, text=True, env=environment,
                          timeout=60)


def sync_failed_line(box: Sandbox) -> str:
    """The run's outcome line that node exporter's textfile collector would serve (Neo4jHaproxyConfigSyncFailed)."""
    text = (box.root / "textfile" / "neo4j_cluster_haproxy_config_sync.prom").read_text()
    [line] = [line for line in text.splitlines() if line.startswith("neo4j_cluster_haproxy_config_sync_failed{")]
    return line


def balancer_cfg(front: dict[str, int], stats: int, nodes: dict[str, Loopback]) -> str:
    """The NLB stand-in: TCP, one frontend per LISTENER, both nodes checked on their health frontend."""
    lines = ["global", "    maxconn 1000", "defaults", "    mode tcp", "    timeout connect 2s",
             "    timeout client 1h", "    timeout server 1h", "    timeout check 1s",
             "    retries 0  # an NLB does not retry a connection on another target", ""]
    for listener in LISTENERS:
        bind = f"bolt_{listener.name}"
        lines += [f"frontend nlb_{listener.name}", f"    bind 127.0.0.1:{front[bind]}",
                  f"    default_backend pair_{listener.name}", "",
                  f"backend pair_{listener.name}", "    balance roundrobin", "    option httpchk",
                  f"    http-check send meth GET uri {listener.health_path}", "    http-check expect status 200",
                  f"    default-server inter {INTER}s fall {FALL} rise {RISE} on-marked-down shutdown-sessions"]
        lines += [f"    server {name} 127.0.0.1:{loopback.binds[bind]} check port {loopback.binds['health']}"
                  for name, loopback in nodes.items()]
        lines.append("")
    lines += ["frontend stats", "    mode http", f"    bind 127.0.0.1:{stats}", "    timeout client 5s",
              "    stats enable", "    stats uri /stats"]
    return "\n".join(lines) + "\n"


def attempt(port: int) -> str | None:
    """One new client connection through the stand-in: the server that answered, or None if it failed."""
    try:
        sock, name = who_answers(port, timeout=1)
    except OSError:
        return None
    sock.close()
    return name


def still_works(sock: socket.socket) -> bool:
    """An established connection still carries data both ways (the echo backend sends it back)."""
    try:
        sock.settimeout(2)
        sock.sendall(b"still here\n")
        return sock.recv(64) == b"still here\n"
    except OSError:
        return False


@contextlib.contextmanager
def pair_behind_a_balancer(tmp_path: Path):
    health = HealthEndpoints(SERVERS + ["replica-3"], ClusterState(leader="core-1"))
    echoes = {name: EchoServer(name) for name in SERVERS + ["replica-3"]}
    places = {name: (echoes[name].port, health.port(name)) for name in SERVERS + ["replica-3"]}
    rendered = rendered_cfg(replicas=2)
    assert server_names(rendered, "neo4j_read") == SERVERS
    # The nodes' state (their admin sockets) in a short folder of its own: haproxy refuses a socket path over
    # 97 characters, and pytest-xdist's tmp_path (…/popen-gw0/<test name>) is longer.
    state = Path(tempfile.mkdtemp(prefix="haproxy-pair-"))
    try:
        nodes = {name: node_loopback({s: places[s] for s in SERVERS}, state / name)
                 for name in ("haproxy-1", "haproxy-2")}
        front = {"bolt_write": free_port(), "bolt_read": free_port()}
        stats = free_port()
        with contextlib.ExitStack() as stack:
            running = {}
            for name, loopback in nodes.items():
                directory = tmp_path / name
                directory.mkdir()
                running[name] = stack.enter_context(running_haproxy(
                    loopback_cfg(rendered, loopback), directory, listen_ports=list(loopback.binds.values()),
                    stats_port=loopback.binds["stats"], master_worker=True))
                running[name].wait_for_first_checks()
            (tmp_path / "nlb").mkdir()
            balancer = stack.enter_context(running_haproxy(
                balancer_cfg(front, stats, nodes), tmp_path / "nlb", listen_ports=[*front.values(), stats],
                stats_port=stats))
            balancer.wait_for({(f"pair_{lst.name}", node): "UP" for lst in LISTENERS for node in nodes}, timeout=15)
            yield running, balancer, front, nodes, places
    finally:
        health.close()
        for echo in echoes.values():
            echo.close()
        shutil.rmtree(state, ignore_errors=True)


def test_the_stand_in_keeps_the_nlbs_check_ratio_and_the_pair_reports_health_per_port():
    # The scaled check keeps the NLB's thresholds; only the interval is shorter.
    assert FALL == UNHEALTHY_AFTER and HEALTH_INTERVAL >= 5
    assert [listener.health_path for listener in LISTENERS] == ["/health/write", "/health/read"]


def test_new_connections_survive_losing_a_node_and_a_reload_keeps_established_ones(tmp_path):
    """Stand-in for the NLB (a third real haproxy): kill haproxy-1, then reload haproxy-2 with a changed config."""
    with pair_behind_a_balancer(tmp_path) as (running, balancer, front, nodes, places):
        write, read = front["bolt_write"], front["bolt_read"]
        assert {attempt(write) for _ in range(6)} == {"core-1"}  # both nodes send writes to the leader
        try:
            # --- haproxy-1's machine dies (SIGKILL: no goodbye) --------------------------------------------
            running["haproxy-1"].process.kill()
            killed = time.monotonic()
            results: list[tuple[float, str | None]] = []
            while time.monotonic() - killed < DETECTED_WITHIN + 3:
                results.append((time.monotonic() - killed, attempt(write)))
                time.sleep(0.05)
            failures = [at for at, answer in results if answer is None]
            late = [(at, answer) for at, answer in results if at > DETECTED_WITHIN and answer != "core-1"]
            print(f"haproxy-1 killed: {len(failures)} of {len(results)} new connections failed, the last "
                  f"{max(failures, default=0):.1f}s after the kill; every later one reached the leader")
            assert late == [], f"connections failed after the stand-in's checks took haproxy-1 out: {late}"
            assert all(answer == "core-1" for _, answer in results if answer is not None)
            assert balancer.states()[("pair_write", "haproxy-1")] == "DOWN"
            assert balancer.states()[("pair_write", "haproxy-2")] == "UP"

            # --- haproxy-2's sync script loads a changed haproxy.cfg (a third replica) and reloads it ---------
            through_two, via = who_answers(write)
            assert via == "core-1"
            changed = rendered_cfg(replicas=3)
            assert server_names(changed, "neo4j_read") == SERVERS + ["replica-3"]
            loopback = nodes["haproxy-2"]
            published = loopback_cfg(changed, Loopback(
                loopback.binds, {s: places[s] for s in SERVERS + ["replica-3"]}, loopback.nameserver_port,
                maxconn=loopback.maxconn, state_dir=loopback.state_dir, chroot_dir=loopback.chroot_dir))
            box = sandbox(tmp_path / "sync")
            synced = sync_config(running["haproxy-2"], loopback, published, box)
            assert synced.returncode == 0, synced.stdout + synced.stderr
            assert sync_failed_line(box) == 'neo4j_cluster_haproxy_config_sync_failed{step="done"} 0'
            steps = [call.split()[:3] for call in box.calls() if not call.startswith("curl ")]  # curl: IMDS, health
            assert steps == [["aws", "s3", "cp"], ["systemctl", "reload-or-restart", "haproxy"]]
            assert any("tags/instance/HaproxyConfigSha256" in call for call in box.calls())  # checked before use
            assert "core-1 " in Path(loopback.state_dir, "server-state").read_text()  # the states it handed over
            reloaded = time.monotonic()
            during: list[str | None] = []
            seen_new = False
            while time.monotonic() - reloaded < 8:
                during.append(attempt(write))
                seen_new = seen_new or attempt(read) == "replica-3"
                time.sleep(0.1)
            assert still_works(through_two), "the established connection through haproxy-2 was cut by the reload"
            assert during.count(None) == 0 and set(during) == {"core-1"}, during
            assert seen_new, "the reloaded config did not take effect (no read reached replica-3)"
            print(f"haproxy-2 reloaded: {len(during)} new connections all succeeded; the connection established "
                  f"before the reload still works {time.monotonic() - reloaded:.1f}s later")
            # The old worker keeps it until hard-stop-after (30 s in the rendered config), then it is closed.
            assert "hard-stop-after 30s" in changed

            # --- a published config that the real `haproxy -c` refuses: never loaded, and Prometheus hears of it --
            refused_box = sandbox(tmp_path / "sync-refused")
            refused = sync_config(running["haproxy-2"], loopback, published + "    no-such-keyword on\n", refused_box)
            assert refused.returncode == 1 and "haproxy -c found errors" in refused.stderr, refused.stderr
            assert Path(running["haproxy-2"].config).read_text() == published  # still the config it runs
            assert sync_failed_line(refused_box) == 'neo4j_cluster_haproxy_config_sync_failed{step="check"} 1'
        finally:
            with contextlib.suppress(NameError):
                through_two.close()
