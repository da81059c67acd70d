"""Issue 20, item 4: a primary is never put at risk by its backup job.

The job's neo4j-admin processes (backup, aggregate, check, the drill's server) run beside the host's running
Neo4j, so each gets an explicit budget from the host's memory plan (components/sizing.py admin_budget): half
of what heap + page cache leave, never Neo4j's own heap or page cache. The budget reaches the rendered job,
the options of backup.py/restore.py, and every neo4j-admin call (HEAP_SIZE; --pagecache; --max-off-heap-memory
and --threads; an --additional-config page cache where a command has no memory option), checked against the
stand-in neo4j-admin, which refuses a memory option its command's synopsis in the manual does not list.
The backup reads from several servers (5.x/2025: one comma-separated --from), secondaries first.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from components.aws.user_data import render_backup_job
from components.instance_types import INSTANCE_TYPES, InstanceType
from components.render import render_cluster
from components.settings import ConfigError, load_settings
from components.sizing import (
    ADMIN_HEAP_FLOOR,
    ADMIN_JVM_OVERHEAD,
    ADMIN_MINIMUM_LEFT,
    ADMIN_OFF_HEAP_FLOOR,
    GIB,
    MIB,
    MemoryPlan,
    admin_budget,
    machine_cpus,
    machine_memory,
    plan_memory,
)
from components.topology import plan_topology
from scripts.neo4j_ops.backup import make_backup
from scripts.neo4j_ops.backup.admin import AdminTool, MemoryBounds
from scripts.neo4j_ops.backup.commands import backup_parser
from scripts.neo4j_ops.backup.options import admin_tool
from scripts.neo4j_ops.backup.s3 import client
from scripts.neo4j_ops.backup.source import choose_sources, from_option
from scripts.neo4j_ops.plan.summary import backup_job_lines
from tests.conftest import ENTERPRISE, ROOT, make_settings, stack_config, stack_config_on
from tests.support.backup_standins import GivenNeo4j

FAKE_ADMIN = ENTERPRISE / "fake_neo4j_admin.py"
NOW = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)


def plan_of(ram: int, heap: int, page_cache: int) -> MemoryPlan:
    return MemoryPlan(ram, ram - heap - page_cache, heap, page_cache, "given")


# --- the budget (pure core) -------------------------------------------------------------------------------


@pytest.mark.parametrize(("left", "heap", "off_heap", "fits"), [
    (ADMIN_MINIMUM_LEFT, ADMIN_HEAP_FLOOR, ADMIN_OFF_HEAP_FLOOR, True),  # exactly fits: both floors met
    (ADMIN_MINIMUM_LEFT - MIB, ADMIN_HEAP_FLOOR - MIB, ADMIN_OFF_HEAP_FLOOR, False),  # a MiB short: heap refused
    (8 * GIB, 2 * GIB, 2 * GIB - ADMIN_JVM_OVERHEAD, True),
    (0, 0, 0, False),
])
def test_neo4j_admin_gets_half_of_what_heap_and_page_cache_leave(left, heap, off_heap, fits):
    ram = 16 * GIB
    budget = admin_budget(plan_of(ram, 4 * GIB, ram - 4 * GIB - left), cpus=4)
    assert (budget.left, budget.heap, budget.off_heap, budget.fits) == (left, heap, off_heap, fits)
    assert budget.total <= left // 2 or not fits


def test_the_minimum_is_one_gib_left_outside_heap_and_page_cache():
    assert ADMIN_MINIMUM_LEFT == GIB


@pytest.mark.parametrize("name", sorted(INSTANCE_TYPES))
def test_on_every_instance_type_the_budget_fits_within_half_of_the_os_reserve_and_neo4j_keeps_its_own(name):
    ram = machine_memory("aws", name, 0)
    plan = plan_memory(ram)
    budget = admin_budget(plan, machine_cpus("aws", name))
    assert budget.fits
    assert plan.heap + plan.page_cache + 2 * budget.total <= ram  # the other half stays for the OS
    assert 1 <= budget.threads <= max(INSTANCE_TYPES[name].vcpus // 2, 1)


def test_overrides_that_leave_less_shrink_the_budget():
    ram = 32 * GIB
    recommended = admin_budget(plan_memory(ram), 4)
    squeezed = admin_budget(plan_memory(ram, heap_override=12 * GIB, page_cache_override=18 * GIB), 4)
    assert squeezed.left == 2 * GIB < recommended.left and squeezed.heap == 512 * MIB


def test_a_backup_host_with_no_safe_budget_is_refused_naming_the_keys(monkeypatch):
    # t3.micro (1 GiB, AWS's published figure) is not in our table; were it, core-1 would have 665m left.
    monkeypatch.setitem(INSTANCE_TYPES, "t3.micro", InstanceType("t3.micro", 1, 2, "x86_64"))
    with pytest.raises(ConfigError) as refused:
        make_settings(coreInstanceType="t3.micro")
    assert len(refused.value.problems) == 1
    problem = refused.value.problems[0]
    assert problem.startswith("neo4j:coreInstanceType/neo4j:heapSize/neo4j:pageCacheSize: core-1, the backup job's "
                              "host (t3.micro, 1g), keeps 665m outside")
    assert "allowed: at least 1g there" in problem and "\n" not in problem
    make_settings(coreInstanceType="t3.small")  # 2 GiB: exactly 1g left, accepted


def test_docker_has_no_backup_job_so_small_containers_are_not_refused_for_it():
    make_settings(platform="docker", containerMemory="1g")


# --- the rendered job and the plan ------------------------------------------------------------------------


def test_the_rendered_job_passes_its_hosts_budget_to_every_neo4j_admin_and_to_the_drill():
    settings = load_settings("prod", stack_config("prod"))
    topology = plan_topology(settings)
    admin = render_cluster(settings, topology).servers["core-1"].admin
    script = render_backup_job(settings, topology)["backup/neo4j-backup.sh"]
    assert (admin.heap, admin.off_heap, admin.threads) == (3 * GIB, 2944 * MIB, 4)  # r6i.2xlarge: 12g left
    common = script[script.index("common=("):script.index("\n)\n", script.index("common=("))]
    assert "--admin-heap 3g --admin-off-heap 2944m --check-threads 4" in common
    assert "--scratch-heap 3g --scratch-page-cache 2944m" in script
    assert re.search(r'restore\.py" "\$\{common\[@\]\}"', script) and re.search(r'backup\.py" "\$\{common', script)


def test_the_rendered_options_are_what_backup_py_accepts():
    settings = load_settings("prod", stack_config("prod"))
    script = render_backup_job(settings, plan_topology(settings))["backup/neo4j-backup.sh"]
    options = re.search(r"--admin-heap (\S+) --admin-off-heap (\S+) --check-threads (\S+)", script).groups()
    sized_for = re.search(r"--admin-sized-for (\S+)", script).group(1)
    assert sized_for == "64g"  # r6i.2xlarge
    args = backup_parser().parse_args(["--stack", "prod", "--admin-heap", options[0], "--admin-off-heap",
                                       options[1], "--check-threads", options[2], "--admin-sized-for", sized_for])
    assert args.admin_sized_for == 64 * GIB
    assert admin_tool(args, MemoryBounds(args.admin_heap, args.admin_off_heap, args.check_threads)).bounds == \
        MemoryBounds("3g", "2944m", 4)


@pytest.mark.parametrize("size", ["0m", "512", "1.5g", "2gb", "1t"])
def test_a_size_neo4j_admin_would_not_read_is_refused(size, capsys):
    with pytest.raises(SystemExit) as exited:
        backup_parser().parse_args(["--stack", "prod", "--admin-heap", size])
    assert exited.value.code == 2 and "is not a size such as 512m" in capsys.readouterr().err


@pytest.mark.parametrize(("version", "several"), [("5.26.30", True), ("2025.10.1", True), ("4.4.46", False)])
def test_make_plan_says_where_backups_run_with_the_budget_and_the_sources(version, several):
    config = stack_config_on("prod", version)
    settings = load_settings("prod", config)
    topology = plan_topology(settings)
    lines = backup_job_lines(settings, topology, render_cluster(settings, topology))
    assert lines[0] == ("Backups: job on core-1 (primary), neo4j-admin heap 3g, page cache 2944m, "
                        "check off-heap 2944m, 4 threads")
    assert "12g core-1's memory plan leaves" in lines[1]
    assert lines[2].startswith("  sources: replica-1, replica-2, core-1, core-2, core-3, core-4, core-5 (")
    assert ("as one --from" in lines[2]) is several and ("4.4 takes one --from" in lines[2]) is not several


def test_the_readme_names_the_backup_host_the_plan_names():
    readme = (ROOT / "README.md").read_text()
    host = plan_topology(load_settings("prod", stack_config("prod"))).backup_server
    assert "replica when there is one" not in readme
    assert f"backup job ({host.name})" in readme and "neo4j-admin's memory" in readme


# --- every neo4j-admin call, against the stand-in -------------------------------------------------------------


def memory_calls(flags) -> list[dict]:
    return [json.loads(line) for line in (flags / "memory").read_text().splitlines()]


def test_backup_aggregate_and_check_run_with_the_bounds_the_manual_lists_for_each(mocked_aws, tmp_path):
    s3 = client(None, "us-east-1")
    s3.create_bucket(Bucket="backups")
    flags = tmp_path / "flags"
    flags.mkdir()
    admin = AdminTool([sys.executable, str(FAKE_ADMIN)], extra_env={"FAKE_NEO4J_FLAGS": str(flags)},
                      bounds=MemoryBounds("512m", "256m", 2))
    for day in (0, 1):  # a full backup, then a differential: aggregated before it is checked
        options = make_backup.BackupOptions(
            bucket="backups", stack="prod", database="neo4j", neo4j=GivenNeo4j(), admin=admin, region="us-east-1",
            source="auto", staging=tmp_path / "staging", local_retention_days=30, full_every_days=7,
            log=lambda _: None, now=lambda day=day: NOW + timedelta(days=day), via_staging=True)  # the chain
        assert make_backup.run_backup(options)["check"] == "passed"
    calls = [json.loads(line) for line in (flags / "calls").read_text().splitlines()]
    by_command = {tuple(c[:2]): c for c in calls}
    assert by_command[("database", "backup")][2] == "--pagecache=256m"  # after the command words
    assert by_command[("database", "check")][2:4] == ["--max-off-heap-memory=256m", "--threads=2"]
    aggregate = by_command[("database", "aggregate-backup")]
    assert aggregate[2].startswith("--additional-config=") and aggregate[-1] == "neo4j"
    memory = memory_calls(flags)
    assert {m["HEAP_SIZE"] for m in memory} == {"512m"}
    assert [m["additional_config"] for m in memory if m["command"] == ["database", "aggregate-backup"]] == [
        "# neo4j-admin beside a running server: its memory bounds\nserver.memory.pagecache.size=256m\n"]
    assert not list(tmp_path.glob("neo4j-admin-bounds-*"))  # the config file went with the call


def test_the_stand_in_refuses_a_memory_option_a_commands_synopsis_does_not_list(tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(FAKE_ADMIN), *args], capture_output=True, text=True,
                              env={"FAKE_NEO4J_FLAGS": str(tmp_path)})
    refused = run("database", "check", "--pagecache=1g", f"--from-path={tmp_path}", "neo4j")
    assert refused.returncode == 2 and "Unknown option: '--pagecache=1g'" in refused.stderr
    assert run("database", "aggregate-backup", "--threads=2", f"--from-path={tmp_path}", "neo4j").returncode == 2


@pytest.mark.parametrize(("args", "options", "config"), [
    (["backup", "--from=a:6362", "--backup-dir=/b", "--database=neo4j", "--check-consistency=true"],
     ["--pagecache=256m"], None),  # 4.4: its own check runs in the backup's process, bounded the same
    (["check-consistency", "--backup=/b/neo4j", "--report-dir=/r"], [], "dbms.memory.pagecache.size=256m\n"),
    (["database", "backup", "--from=a:6362", "--to-path=/b", "--type=AUTO", "neo4j"], ["--pagecache=256m"], None),
    (["database", "check", "--from-path=/b", "neo4j"], ["--max-off-heap-memory=256m", "--threads=2"], None),
    (["backup", "aggregate", "--from-path=/b", "neo4j"], [], "server.memory.pagecache.size=256m\n"),  # 2025 name
    (["database", "aggregate-backup", "--from-path=/b", "neo4j"], [], "server.memory.pagecache.size=256m\n"),
    (["database", "backup", "--pagecache=1g", "--to-path=/b", "neo4j"], [], None),  # the caller's own wins
    (["database", "restore", "--from-path=/b", "neo4j"], [], None),  # HEAP_SIZE only
])
def test_each_command_gets_the_memory_options_of_its_synopsis(args, options, config):
    assert MemoryBounds("512m", "256m", 2).options(args) == (options, config)


def test_without_bounds_nothing_is_added_and_heap_size_is_not_set(monkeypatch):
    monkeypatch.delenv("HEAP_SIZE", raising=False)
    admin = AdminTool(["neo4j-admin"])
    assert admin.bounded(["database", "check", "neo4j"]) == ["database", "check", "neo4j"]
    assert "HEAP_SIZE" not in admin.env()
    assert AdminTool(["neo4j-admin"], bounds=MemoryBounds(heap="512m")).env()["HEAP_SIZE"] == "512m"


# --- several sources, secondaries first ---------------------------------------------------------------------


def rows_of(scenario: str) -> list[dict]:
    document = json.loads((ENTERPRISE / f"{scenario}.json").read_text())
    return document["endpoints"]["core-1"]["responses"]["show_databases"]["records"]


@pytest.mark.parametrize(("scenario", "database", "expected"), [
    ("cluster-5.26-healthy", "neo4j", ["replica-1", "core-2", "core-3"]),  # core-1 leads neo4j
    ("cluster-5.26-healthy", "system", ["replica-1", "core-1", "core-3"]),  # core-2 leads system
    ("cluster-4.4-healthy", "neo4j", ["replica-1", "core-2", "core-3"]),
])
def test_the_sources_are_secondaries_then_primaries_that_do_not_lead_the_database(scenario, database, expected):
    sources = choose_sources(rows_of(scenario), database, 6362)
    assert [s.host.split(".")[0] for s in sources] == expected
    assert [s.kind for s in sources] == ["secondary", "follower", "follower"]


def test_the_writer_is_a_source_only_when_nothing_else_hosts_the_database():
    rows = [r for r in rows_of("cluster-5.26-healthy") if r["address"].startswith("core-1")]
    assert [(s.host, s.kind) for s in choose_sources(rows, "neo4j", 6362)] == [
        ("core-1.prod.neo4j.internal", "writer")]


def test_5x_and_2025_get_every_source_as_one_from_and_4_4_the_first():
    sources = choose_sources(rows_of("cluster-5.26-healthy"), "neo4j", 6362)
    several = ("replica-1.prod.neo4j.internal:6362,core-2.prod.neo4j.internal:6362,"
               "core-3.prod.neo4j.internal:6362")
    assert from_option(sources, "5") == from_option(sources, "2025") == several
    assert from_option(sources, "4.4") == "replica-1.prod.neo4j.internal:6362"


def test_make_plan_prints_the_backup_line_and_the_job_it_renders_agrees(tmp_path):
    from tests.support.forkrun import python

    result = python([str(ROOT / "scripts" / "plan.py"), "--stack", "dev", "--out", str(tmp_path)], timeout=120,
                    cwd=ROOT)
    assert result.returncode == 0, result.stderr
    # dev's core-1 is a t3.large (8 GiB, 2 vCPUs): heap 3600m + page cache 2g leave 2544m, neo4j-admin half.
    assert ("Backups: job on core-1 (primary), neo4j-admin heap 636m, page cache 508m, check off-heap 508m, "
            "1 thread") in result.stdout
    script = (tmp_path / "core-1" / "backup" / "neo4j-backup.sh").read_text()
    assert "--admin-heap 636m --admin-off-heap 508m --check-threads 1" in script
    assert not (tmp_path / "core-2" / "backup").exists()  # one job, on the host the plan names
