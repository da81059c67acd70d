"""make test's integration schedule (tests/support/xdist_schedule.py): longest modules first, the session servers'
modules on one worker, and each worker still sent indexes of its own collection."""
from __future__ import annotations

import json
import subprocess
import sys
from collections import OrderedDict

import pytest

from tests.support import xdist_schedule
from tests.support.xdist_schedule import LongestModulesFirst

MACHINE = "tests/integration/test_rehearsal_machine.py"


class Worker:
    def __init__(self) -> None:
        self.sent: list[list[int]] = []
        self.shutting_down = False

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent.append(indexes)


def scheduler(collection: list[str], workers: list[Worker]) -> LongestModulesFirst:
    """The scheduler after LoadScopeScheduling.schedule filled its queue in collection order, before any assignment."""
    schedule = object.__new__(LongestModulesFirst)
    schedule.workqueue = OrderedDict()
    for nodeid in collection:
        schedule.workqueue.setdefault(schedule._split_scope(nodeid), {})[nodeid] = False
    schedule.assigned_work = {}
    schedule.registered_collections = {worker: list(collection) for worker in workers}
    return schedule


def test_modules_go_out_longest_first_and_workers_get_indexes_of_their_own_collection(
        monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(xdist_schedule, "MODULE_SECONDS", {"t/fast.py": 5.0, "t/slow.py": 300.0, MACHINE: 100.0})
    collection = ["t/fast.py::a", "t/fast.py::b", "t/other.py::o", f"{MACHINE}::m", f"{MACHINE}::n[x]",
                  "t/slow.py::s"]
    first, second = Worker(), Worker()
    schedule = scheduler(collection, [first, second])
    schedule._assign_work_unit(first)
    schedule._assign_work_unit(second)
    assert first.sent == [[collection.index("t/slow.py::s")]]
    # The rehearsal module (100 s) next, all its tests to one worker, in collection order.
    assert second.sent == [[collection.index(f"{MACHINE}::m"), collection.index(f"{MACHINE}::n[x]")]]
    # Then the unlisted module (UNLISTED_SECONDS) before the listed 5 s one.
    assert list(schedule.workqueue) == ["t/other.py", "t/fast.py"]


def test_every_module_the_schedule_names_exists():
    # A renamed module would silently fall back to UNLISTED_SECONDS.
    from tests.conftest import ROOT

    named = set(xdist_schedule.MODULE_SECONDS)
    assert sorted(m for m in named if not (ROOT / m).is_file()) == []


def test_the_session_servers_modules_go_to_one_worker_and_others_take_them_only_when_nothing_else_is_left(
        monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(xdist_schedule, "MODULE_SECONDS", {"t/long.py": 300.0, "t/s1.py": 200.0, "t/s2.py": 100.0,
                                                           "t/mid.py": 50.0, "t/s3.py": 40.0})
    monkeypatch.setattr(xdist_schedule, "uses_session_servers", lambda module: module in ("t/s1.py", "t/s2.py",
                                                                                          "t/s3.py"))
    collection = [f"t/{name}.py::x" for name in ("s3", "mid", "s2", "short", "s1", "long")]
    first, second = Worker(), Worker()
    schedule = scheduler(collection, [first, second])

    def took(worker: Worker) -> str:
        schedule._assign_work_unit(worker)
        return collection[worker.sent[-1][0]].split("::")[0]

    assert took(first) == "t/long.py"     # longest first: no worker holds the servers yet
    assert took(second) == "t/s1.py"      # the first module of the servers: second is their worker now
    assert took(first) == "t/mid.py"      # not s2: that goes to the servers' worker
    assert took(second) == "t/s2.py"      # the servers' worker takes their modules before anything else
    assert took(first) == "t/short.py"
    assert took(first) == "t/s3.py"       # nothing else is left: better a server start than an idle worker
    assert not schedule.workqueue


def test_the_session_servers_modules_read_from_source_are_those_pytest_gives_one_or_that_ask_for_one(tmp_path):
    # pytest's own fixture closures, module by module, for every integration module; plus the modules that ask
    # for one while a test runs (request.getfixturevalue), which no closure shows.
    from tests.conftest import ROOT

    report = tmp_path / "closures.json"
    fixtures = sorted(xdist_schedule.SESSION_SERVER_FIXTURES)
    subprocess.run([sys.executable, "-c", COLLECT_CLOSURES, str(report), *fixtures],
                   cwd=ROOT, check=True, capture_output=True, timeout=300)
    closures = json.loads(report.read_text())
    assert len(closures) > 40 and sum(closures.values()) >= 10  # the integration modules were collected
    asking = {module for module in closures
              if any(f'getfixturevalue("{name}")' in (ROOT / module).read_text() for name in fixtures)}
    assert asking  # two modules start the shared server only for some of their tests
    expected = {module: used or module in asking for module, used in closures.items()}
    assert {module: xdist_schedule.uses_session_servers(module) for module in closures} == expected


COLLECT_CLOSURES = """
import json, sys, pytest
report, fixtures = sys.argv[1], set(sys.argv[2:])
uses = {}
class Closures:
    def pytest_collection_modifyitems(self, items):
        for item in items:
            module = item.nodeid.split("::")[0]
            uses[module] = uses.get(module, False) or bool(fixtures & set(item.fixturenames))
code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "tests/integration"], plugins=[Closures()])
json.dump(uses, open(report, "w"))
sys.exit(code)
"""
