"""make test's integration schedule (tests/support/xdist_schedule.py): longest units first, the boot rehearsal's
modules as one unit on one worker, and each worker still sent indexes of its own collection."""
from __future__ import annotations

from collections import OrderedDict

import pytest

from tests.support import xdist_schedule
from tests.support.xdist_schedule import LongestModulesFirst, unit_of

MACHINE = "tests/integration/test_rehearsal_machine.py"
NODE = "tests/integration/test_rehearsal_haproxy.py"


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


def test_the_rehearsal_modules_are_one_unit_and_other_modules_their_own():
    assert unit_of(f"{MACHINE}::test_a") == unit_of(f"{NODE}::test_b[x]")
    assert unit_of("tests/integration/test_a.py::test_x") == "tests/integration/test_a.py"
    assert unit_of("tests/integration/test_a.py::test_x") != unit_of(f"{MACHINE}::test_a")


def test_units_go_out_longest_first_and_workers_get_indexes_of_their_own_collection(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(xdist_schedule, "MODULE_SECONDS", {"t/fast.py": 5.0, "t/slow.py": 300.0, MACHINE: 100.0,
                                                           NODE: 90.0})
    collection = ["t/fast.py::a", "t/fast.py::b", f"{NODE}::n", "t/other.py::o", f"{MACHINE}::m", "t/slow.py::s"]
    first, second = Worker(), Worker()
    schedule = scheduler(collection, [first, second])
    schedule._assign_work_unit(first)
    schedule._assign_work_unit(second)
    assert first.sent == [[collection.index("t/slow.py::s")]]
    # The rehearsal unit (190 s) next: both modules to one worker, in collection order.
    assert second.sent == [[collection.index(f"{NODE}::n"), collection.index(f"{MACHINE}::m")]]
    # Then the unlisted module (UNLISTED_SECONDS) before the listed 5 s one.
    assert list(schedule.workqueue) == ["t/other.py", "t/fast.py"]


def test_every_module_the_schedule_names_exists():
    # A renamed module would silently fall back to UNLISTED_SECONDS (or leave the rehearsal modules apart).
    from tests.conftest import ROOT

    named = set(xdist_schedule.MODULE_SECONDS) | {m for ms in xdist_schedule.SAME_WORKER.values() for m in ms}
    assert sorted(m for m in named if not (ROOT / m).is_file()) == []
