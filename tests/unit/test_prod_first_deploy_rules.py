"""The prod stack, rendered for each version line we support, against the first-deploy rules of the
Operations Manual (each rule's sentence is quoted where it is first tested: test_render_neo4j_conf.py,
test_setup_script.py, test_render_haproxy.py)."""
from __future__ import annotations

import pytest

from components.aws.user_data import aws_artifacts
from components.settings import load_settings
from components.topology import plan_topology
from tests.conftest import stack_config_on
from tests.support.neo4j_settings import conf_entries

VERSIONS = ["4.4.46", "5.26.30", "2025.10.1"]


@pytest.fixture(scope="module", params=VERSIONS)
def prod(request):
    settings = load_settings("prod", stack_config_on("prod", request.param))
    topology = plan_topology(settings)
    return settings, topology, aws_artifacts(settings, topology)  # prod runs on EC2


def test_prod_forms_with_every_primary_and_every_secondary_hosts_the_database(prod):
    settings, topology, artifacts = prod
    primaries, secondaries = len(topology.primaries), len(topology.secondaries)
    assert (primaries, secondaries) == (5, 2)
    for server in topology.servers:
        conf = dict(conf_entries(artifacts[server.name]["neo4j.conf"]))
        if settings.version_line == "4.4":
            assert conf["causal_clustering.minimum_core_cluster_size_at_formation"] == str(primaries)
            continue
        assert conf["dbms.cluster.minimum_initial_system_primaries_count"] == str(primaries)
        assert conf["initial.dbms.default_secondaries_count"] == str(secondaries)
        assert conf["initial.dbms.automatically_enable_free_servers"] == "true"
    joining = {name for name, files in artifacts.items() if "join-topology.sh" in files}
    assert joining == (set() if settings.version_line == "4.4" else {s.name for s in topology.secondaries})


def test_prod_confines_imports_and_keeps_a_size_cap_on_transaction_logs(prod):
    settings, topology, artifacts = prod
    line = settings.version_line
    for server in topology.servers:
        conf = dict(conf_entries(artifacts[server.name]["neo4j.conf"]))
        assert conf["dbms.directories.import" if line == "4.4" else "server.directories.import"] == \
            "/var/lib/neo4j/import"
        retention = conf["dbms.tx_log.rotation.retention_policy" if line == "4.4"
                         else "db.tx_log.rotation.retention_policy"]
        if line == "4.4":
            # 4.4's policy takes one limit only (a real 4.4.46 refuses "2 days 2G"): days, as the 4.4 default.
            assert retention == "2 days", retention
        else:
            assert retention.split()[-1].endswith("G"), retention


def test_prod_installs_with_the_licence_answer_of_its_release(prod):
    settings, topology, artifacts = prod
    script = artifacts["core-1"]["setup-neo4j.sh"]
    accept = "neo4j-enterprise neo4j/accept-license select Accept commercial license"
    old = "neo4j-enterprise neo4j/question select I ACCEPT"
    answers = [line.strip() for line in script.splitlines() if "| debconf-set-selections" in line]
    if settings.version_line == "4.4":
        assert answers[0] == f'echo "{old}" | debconf-set-selections'
    else:
        assert answers == [f'echo "{accept}" | debconf-set-selections']
    assert "policy-rc.d" in script and "start_neo4j" in script


def test_prod_haproxy_cuts_sessions_of_a_server_marked_down(prod):
    _, _, artifacts = prod
    assert "on-marked-down shutdown-sessions" in artifacts["haproxy"]["haproxy.cfg"]
