"""make test's integration schedule (tests/support/xdist_schedule.py): longest modules first, and each worker still
sent indexes of its own collection."""
from __future__ import annotations

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
