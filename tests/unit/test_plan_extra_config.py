"""Issue 25's acceptance: `make plan STACK=prod` with `neo4j:extraConfig: {db.transaction.timeout: 30s}` in a copy
of the stack file renders it into every server's neo4j.conf; a misspelt key and an owned key are each refused in
one line (exit 2, the config error of every command). scripts/plan.py runs as `make plan` runs it, on a temporary
copy of Pulumi.prod.yaml."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.support.forkrun import python
from tests.support.neo4j_settings import conf_entries

PLAN = ROOT / "scripts" / "plan.py"


def prod_copy(tmp_path: Path, **config) -> Path:
    document = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    document["config"].update({f"neo4j:{key}": value for key, value in config.items()})
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def plan(stack_file: Path, out: Path) -> subprocess.CompletedProcess:
    return python([str(PLAN), "--stack", "prod", "--stack-file", str(stack_file), "--out", str(out)], timeout=180,
                  cwd=ROOT)


def test_prod_plan_renders_extra_config_into_every_servers_conf(tmp_path):
    result = plan(prod_copy(tmp_path, extraConfig={"db.transaction.timeout": "30s"}), tmp_path / "out")
    assert result.returncode == 0, result.stderr
    confs = sorted((tmp_path / "out").glob("*/neo4j.conf"))
    assert [conf.parent.name for conf in confs] == ["core-1", "core-2", "core-3", "core-4", "core-5", "replica-1",
                                                    "replica-2"]
    for conf in confs:
        assert dict(conf_entries(conf.read_text()))["db.transaction.timeout"] == "30s", conf
    # The AWS machines get the same text in their user data's files (plan.json's artifacts are what was placed).
    placed = [p for p in (tmp_path / "out").rglob("*") if p.is_file() and "db.transaction.timeout=30s" in p.read_text()]
    assert len(placed) >= 7


@pytest.mark.parametrize("entry, expected", [
    ({"db.transacton.timeout": "30s"},
     "neo4j:extraConfig: db.transacton.timeout: not a neo4j.conf setting of Neo4j 5.26.30; did you mean "
     "db.transaction.timeout or db.transaction.bookmark_ready_timeout?"),
    ({"server.memory.heap.max_size": "8g"},
     "neo4j:extraConfig: server.memory.heap.max_size: set by the program for every server; change neo4j:heapSize "
     "instead"),
    ({"db.transaction.timeout": "half a minute"},
     "neo4j:extraConfig: db.transaction.timeout: got 'half a minute'; allowed: a duration such as 30s (units ns, μs, "
     "ms, s, m, h, d)"),
])
def test_prod_plan_refuses_a_bad_entry_in_one_line_and_exit_2(tmp_path, entry, expected):
    result = plan(prod_copy(tmp_path, extraConfig=entry), tmp_path / "out")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [expected]
    assert result.stdout == "" and not (tmp_path / "out").exists()


def test_the_local_docker_stack_uploads_the_same_settings_into_each_container(tmp_path):
    # The Docker adapter places render's neo4j.conf over $NEO4J_HOME/conf/neo4j.conf (components/docker/servers.py);
    # the entrypoint turns no NEO4J_* variable of ours into a setting, so the conf is the one place settings live.
    from components.docker.layout import NEO4J_CONF
    from tests.conftest import stack_config
    from tests.support.plans import make_plan

    config = {**stack_config("local"), "neo4j:extraConfig": {"db.transaction.timeout": "30s"},
              "neo4j:secondaryExtraConfig": {"db.transaction.timeout": "2m"}}
    planned = make_plan("extra", "local", config, tmp_path / "out")
    uploaded = {server.name: dict(conf_entries(planned.uploads(server.name)[NEO4J_CONF]))["db.transaction.timeout"]
                for server in planned.topology.servers}
    assert uploaded == {"core-1": "30s", "core-2": "30s", "core-3": "30s", "replica-1": "2m"}


def test_extra_config_that_overflows_a_machines_user_data_is_refused_in_one_line_naming_it(tmp_path):
    # EC2: "User data is limited to 16 KB, in raw form, before it is base64-encoded." (AWSEC2 User Guide, "Run
    # commands when you launch an EC2 instance with user data input"). 4 KB of random hex in a list setting's one
    # domain does not compress below what is left.
    import random

    domain = random.Random(0).randbytes(4096).hex() + ".example"
    result = plan(prod_copy(tmp_path, primaryExtraConfig={"dbms.routing.client_side.enforce_for_domains": domain}),
                  tmp_path / "out")
    assert result.returncode == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("core-1: user data is ") and "EC2 allows 16384" in lines[0], lines[0]
    assert "neo4j:extraConfig" in lines[0]
