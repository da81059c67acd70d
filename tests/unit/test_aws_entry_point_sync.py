"""haproxy-config-sync.sh (templates/haproxy/), the job that loads a new haproxy.cfg on each node of the pair, run
for real in bash with stand-ins for what only the node has: `aws s3 cp` (copies the "object"), `haproxy -c`
(refuses a config holding BROKEN), `systemctl` (logs; a config holding UNUSABLE leaves the node without a server)
and `curl` (IMDS and the node's health frontend, healthy while the `healthy` flag file exists). The pair test
(tests/integration/test_haproxy_pair.py) runs the same script against real haproxy processes."""
from __future__ import annotations

import re
import subprocess

import pytest

from components.aws.user_data import HAPROXY_CONFIG_SHA256_TAG, HAPROXY_CONFIG_TAG, render_haproxy_node
from tests.conftest import make_settings, require_tool
from tests.support.promtool_rules import check_metrics
from tests.support.shell import sandbox

GOOD = "global\n    maxconn 100\n"
NEW = "global\n    maxconn 200\n"


def script() -> str:
    return render_haproxy_node(make_settings(), stack_nodes=2, node="haproxy-1", index=0,
                               ca_secret="")["haproxy-config-sync.sh"]


@pytest.fixture
def node(tmp_path):
    box = sandbox(tmp_path)
    (tmp_path / "sync.sh").write_text(script())
    (tmp_path / "haproxy.cfg").write_text(GOOD)
    (tmp_path / "object.cfg").write_text(GOOD)
    (tmp_path / "healthy").write_text("")
    box.stand_in("aws", f'[[ -f "{tmp_path}/s3-down" ]] && exit 1; cp "{tmp_path}/object.cfg" "$4"')
    box.stand_in("haproxy", '[[ "$1 $2 $3" == "-c -q -f" ]] && ! grep -q BROKEN "$4"')
    box.stand_in("systemctl", f'[[ "$1" == is-active ]] && {{ [[ ! -f "{tmp_path}/stopped" ]]; exit; }}; '
                              f'[[ -f "{tmp_path}/start-fails" ]] && exit 1; rm -f "{tmp_path}/stopped"; '
                              f'grep -q UNUSABLE "{tmp_path}/haproxy.cfg" && rm -f "{tmp_path}/healthy"; '
                              f'grep -q UNUSABLE "{tmp_path}/haproxy.cfg" || touch "{tmp_path}/healthy"; exit 0')
    box.stand_in("curl", f'''case "$*" in
  *api/token*) echo token ;;
  *meta-data/tags/instance/{HAPROXY_CONFIG_SHA256_TAG}*)  # what the deploy published: deployed.sha256, else the object
    if [[ -f "{tmp_path}/deployed.sha256" ]]; then cat "{tmp_path}/deployed.sha256"
    else sha256sum "{tmp_path}/object.cfg" | cut -d " " -f 1; fi ;;
  *meta-data/tags/instance/{HAPROXY_CONFIG_TAG}*) echo "s3://bucket/tooling/haproxy/haproxy.cfg" ;;
  *health/read*) [[ -f "{tmp_path}/healthy" ]] || exit 22 ;;
  *) exit 2 ;;
esac''')
    return box


def sync(box, *, with_object: bool = True) -> subprocess.CompletedProcess:
    environment = {"PATH": f"{box.bin}:/usr/bin:/bin", "HOME": str(box.root),
                   "HAPROXY_CFG": str(box.root / "haproxy.cfg"), "HAPROXY_HEALTH_WAIT_SECONDS": "2",
                   "HAPROXY_SOCKET": str(box.root / "no-admin.sock"), "HAPROXY_STATE_FILE": str(box.root / "state"),
                   "TEXTFILE_DIR": str(box.root / "textfile")}  # node exporter's textfile collector
    if with_object:
        environment["HAPROXY_CONFIG_OBJECT"] = "s3://bucket/tooling/haproxy/haproxy.cfg"
    return subprocess.run(["bash", str(box.root / "sync.sh")], capture_output=True, text=True, env=environment,
                          timeout=60)


def refused_metric(box) -> str | None:
    """The value the node exporter would read of the config's pinned-object metric, None before any."""
    prom = box.root / "textfile" / "neo4j_cluster_pinned_object_refused.prom"
    if not prom.exists():
        return None
    [line] = [line for line in prom.read_text().splitlines() if not line.startswith("#")]  # HELP, TYPE
    name, value = line.rsplit(" ", 1)
    assert name == 'neo4j_cluster_pinned_object_refused{object="haproxy-config"}'
    return value


def sync_status(box) -> tuple[str, str] | None:
    """The run's outcome as node exporter would read it: (step, value) of neo4j_cluster_haproxy_config_sync_failed
    (1: failed at that step; 0 with step "done"), None before any run. The file also says when the run ended."""
    prom = box.root / "textfile" / "neo4j_cluster_haproxy_config_sync.prom"
    if not prom.exists():
        return None
    samples = [line for line in prom.read_text().splitlines() if not line.startswith("#")]
    [failed] = [line for line in samples if line.startswith("neo4j_cluster_haproxy_config_sync_failed{")]
    [ended] = [line for line in samples if line.startswith("neo4j_cluster_haproxy_config_sync_last_run_seconds ")]
    assert int(ended.rsplit(" ", 1)[1]) > 1_700_000_000
    match = re.fullmatch(r'neo4j_cluster_haproxy_config_sync_failed\{step="([a-z-]+)"\} ([01])', failed)
    assert match, failed
    return match.group(1), match.group(2)


def reloads(box) -> int:
    return sum(1 for call in box.calls() if call == "systemctl reload-or-restart haproxy")


def test_an_unchanged_config_is_not_reloaded(node):
    result = sync(node)
    assert result.returncode == 0, result.stderr
    assert "unchanged" in result.stdout and reloads(node) == 0
    assert refused_metric(node) == "0"  # the deployed config is in place
    assert sync_status(node) == ("done", "0")


def test_an_unchanged_config_starts_haproxy_when_it_is_not_running(node):
    # The first start at boot failed (or a reload stopped it): the next run, the config unchanged, starts it.
    (node.root / "stopped").write_text("")
    result = sync(node)
    assert result.returncode == 0, result.stderr
    assert "haproxy is not running: starting it" in result.stdout and reloads(node) == 1
    assert not (node.root / "stopped").exists()
    again = sync(node)
    assert again.returncode == 0 and "unchanged" in again.stdout and reloads(node) == 1


def test_an_unchanged_config_with_which_haproxy_does_not_start_fails_the_unit(node):
    (node.root / "stopped").write_text("")
    (node.root / "start-fails").write_text("")
    result = sync(node)
    assert result.returncode == 1
    assert "haproxy does not start with" in result.stderr and "journalctl -u haproxy" in result.stderr
    assert sync_status(node) == ("start", "1")  # Neo4jHaproxyConfigSyncFailed


def test_a_changed_valid_config_is_installed_and_reloaded_once(node):
    (node.root / "object.cfg").write_text(NEW)
    result = sync(node)
    assert result.returncode == 0, result.stderr
    assert (node.root / "haproxy.cfg").read_text() == NEW
    assert (node.root / "haproxy.cfg.previous").read_text() == GOOD
    assert reloads(node) == 1
    assert not list(node.root.glob("haproxy.cfg.new.*"))  # the download is not left behind
    assert sync_status(node) == ("done", "0")
    again = sync(node)
    assert again.returncode == 0 and reloads(node) == 1  # and a second run changes nothing


def test_a_config_haproxy_refuses_is_never_loaded(node):
    (node.root / "object.cfg").write_text(NEW + "BROKEN\n")
    result = sync(node)
    assert result.returncode == 1
    assert "refused s3://bucket/tooling/haproxy/haproxy.cfg: haproxy -c found errors" in result.stderr
    assert (node.root / "haproxy.cfg").read_text() == GOOD and reloads(node) == 0
    assert not list(node.root.glob("haproxy.cfg.new.*"))
    # Issue 26's "not covered": the refusal reaches Prometheus (Neo4jHaproxyConfigSyncFailed), every run until a
    # config haproxy takes is deployed.
    assert sync_status(node) == ("check", "1")
    assert sync(node).returncode == 1 and sync_status(node) == ("check", "1")
    (node.root / "object.cfg").write_text(NEW)
    assert sync(node).returncode == 0 and sync_status(node) == ("done", "0")


def test_a_config_whose_sha256_is_not_the_deploys_tag_is_never_loaded(node):
    """Issue 26, item 4: the deploy published NEW (its sha256 is the HaproxyConfigSha256 tag); someone who can write
    the bucket replaced it with a valid config of their own. Root does not load it."""
    import hashlib

    deployed, swapped = hashlib.sha256(NEW.encode()).hexdigest(), NEW + "    # listen evil\n"
    (node.root / "deployed.sha256").write_text(deployed)
    (node.root / "object.cfg").write_text(swapped)
    result = sync(node)
    assert result.returncode == 1
    assert f"REFUSED s3://bucket/tooling/haproxy/haproxy.cfg: sha256 {hashlib.sha256(swapped.encode()).hexdigest()}, " \
           f"the deploy's {HAPROXY_CONFIG_SHA256_TAG} tag says {deployed}" in result.stderr
    assert (node.root / "haproxy.cfg").read_text() == GOOD and reloads(node) == 0
    assert not [call for call in node.calls() if call.startswith("haproxy")]  # not even checked
    assert not list(node.root.glob("haproxy.cfg.new.*"))
    assert refused_metric(node) == "1"  # Neo4jPinnedObjectRefused fires
    assert sync_status(node) == ("pin", "1")
    # The deploy runs again (object and tag agree): loaded, and the metric says so.
    (node.root / "deployed.sha256").unlink()
    (node.root / "object.cfg").write_text(NEW)
    again = sync(node)
    assert again.returncode == 0, again.stderr
    assert (node.root / "haproxy.cfg").read_text() == NEW and refused_metric(node) == "0"
    assert sync_status(node) == ("done", "0")


def test_a_config_that_leaves_the_node_without_a_server_is_rolled_back(node):
    (node.root / "object.cfg").write_text(NEW + "# UNUSABLE\n")
    result = sync(node)
    assert result.returncode == 1
    assert "no usable server 2s after loading" in result.stderr and "put the previous config back" in result.stderr
    assert (node.root / "haproxy.cfg").read_text() == GOOD and reloads(node) == 2
    assert (node.root / "healthy").exists()  # the previous config serves again
    assert sync_status(node) == ("health", "1")  # rolled back: the deployed config is not in place


def test_at_first_boot_an_unhealthy_node_keeps_the_new_config(node):
    # Before the servers are up the node has no server with any config: nothing to roll back to.
    (node.root / "healthy").unlink()
    (node.root / "haproxy.cfg").unlink()
    (node.root / "object.cfg").write_text(NEW + "# UNUSABLE\n")
    result = sync(node)
    assert result.returncode == 0, result.stderr
    assert (node.root / "haproxy.cfg").read_text() == NEW + "# UNUSABLE\n" and reloads(node) == 1


def test_an_unreadable_object_changes_nothing(node):
    (node.root / "s3-down").write_text("")
    (node.root / "object.cfg").write_text(NEW)
    result = sync(node)
    assert result.returncode == 1 and "cannot read s3://bucket/tooling/haproxy/haproxy.cfg" in result.stderr
    assert (node.root / "haproxy.cfg").read_text() == GOOD and reloads(node) == 0
    assert sync_status(node) == ("object", "1")


def test_without_an_override_the_object_comes_from_the_instance_tag(node):
    (node.root / "object.cfg").write_text(NEW)
    result = sync(node, with_object=False)
    assert result.returncode == 0, result.stderr
    assert "aws s3 cp s3://bucket/tooling/haproxy/haproxy.cfg" in "\n".join(node.calls())
    assert any(f"meta-data/tags/instance/{HAPROXY_CONFIG_TAG}" in call for call in node.calls())


@pytest.mark.integration
def test_what_the_sync_script_writes_for_node_exporter_passes_promtool(node):
    """Node exporter's textfile collector reads the Prometheus text format: `promtool check metrics` (Debian's
    prometheus) reads each file the script leaves (after a refused config and a pinned-object refusal) and finds
    nothing to say (it names a metric without help text, for one)."""
    import hashlib

    (node.root / "object.cfg").write_text(NEW + "BROKEN\n")
    assert sync(node).returncode == 1
    (node.root / "deployed.sha256").write_text(hashlib.sha256(NEW.encode()).hexdigest())
    assert sync(node).returncode == 1 and refused_metric(node) == "1" and sync_status(node) == ("pin", "1")
    files = sorted((node.root / "textfile").glob("*.prom"))
    assert [f.name for f in files] == ["neo4j_cluster_haproxy_config_sync.prom",
                                       "neo4j_cluster_pinned_object_refused.prom"]
    for path in files:
        check_metrics(path.read_text(), path.name)


@pytest.mark.integration
def test_shellcheck_passes_the_sync_script(tmp_path):
    path = tmp_path / "haproxy-config-sync.sh"
    path.write_text(script())
    result = subprocess.run([require_tool("shellcheck"), "--severity=info", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_systemd_accepts_the_timers_and_they_never_fire_in_the_same_minute(tmp_path):
    settings = make_settings()
    minutes = []
    for index, name in enumerate(("haproxy-1", "haproxy-2")):
        files = render_haproxy_node(settings, stack_nodes=2, node=name, index=index, ca_secret="")
        schedule = next(line.split("=", 1)[1] for line in files["haproxy-config-sync.timer"].splitlines()
                        if line.startswith("OnCalendar="))
        result = subprocess.run([require_tool("systemd-analyze"), "calendar", "--iterations=3", schedule],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        minutes.append({line.split()[-2].split(":")[1] for line in result.stdout.splitlines()
                        if "Iter." in line or "Next elapse" in line})
    assert minutes[0] and minutes[1] and not minutes[0] & minutes[1]


def test_a_renewed_entry_certificate_is_installed_root_only_and_loaded_and_a_refused_one_put_back(node):
    """Issue 26, item 6: the deploy renews the entry certificate (a new version of its secret) in its last 90 days;
    the node installs it at its next sync with the config of now, or keeps the previous one when haproxy -c (the
    stand-in: a PEM holding BROKEN) refuses it. Nothing changes while the secret is what is installed."""
    root = node.root
    (root / "sync.sh").write_text(render_haproxy_node(
        make_settings(), stack_nodes=2, node="haproxy-1", index=0, ca_secret="",
        entry_secret="neo4j-cluster/test/tls/entry")["haproxy-config-sync.sh"])
    node.stand_in("aws", f'''case "$1" in
  s3) cp "{root}/object.cfg" "$4" ;;
  secretsmanager) [[ "$*" == *"--secret-id neo4j-cluster/test/tls/entry "* ]] && cat "{root}/secret.pem" ;;
  *) exit 2 ;;
esac''')
    node.stand_in("haproxy", f'[[ "$1 $2 $3" == "-c -q -f" ]] && ! grep -q BROKEN "$4" "{root}/entry.pem"')
    (root / "entry.pem").write_text("CERT 1\nKEY 1\n")
    (root / "secret.pem").write_text("CERT 1\nKEY 1\n")
    environment = {"HAPROXY_ENTRY_PEM": str(root / "entry.pem")}

    def run() -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(root / "sync.sh")], capture_output=True, text=True, timeout=60, env={
            "PATH": f"{node.bin}:/usr/bin:/bin", "HOME": str(root), "HAPROXY_CFG": str(root / "haproxy.cfg"),
            "HAPROXY_HEALTH_WAIT_SECONDS": "2", "HAPROXY_SOCKET": str(root / "no-admin.sock"),
            "HAPROXY_STATE_FILE": str(root / "state"), "HAPROXY_CONFIG_OBJECT": "s3://bucket/tooling/haproxy/haproxy.cfg",
            **environment})

    same = run()
    assert same.returncode == 0 and "unchanged" in same.stdout and reloads(node) == 0, same.stderr

    (root / "secret.pem").write_text("CERT 2\nKEY 2\n")
    renewed = run()
    assert renewed.returncode == 0, renewed.stderr
    assert (root / "entry.pem").read_text() == "CERT 2\nKEY 2\n" and reloads(node) == 1
    assert (root / "entry.pem").stat().st_mode & 0o077 == 0  # root's only
    assert not list(root.glob("entry.pem.new.*"))

    (root / "secret.pem").write_text("CERT 3 BROKEN\n")
    refused = run()
    assert refused.returncode == 1 and "refused the entry certificate" in refused.stderr
    assert (root / "entry.pem").read_text() == "CERT 2\nKEY 2\n" and reloads(node) == 1
