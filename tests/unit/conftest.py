"""Fixtures shared by several unit test modules (a module takes one by name or with
`pytestmark = pytest.mark.usefixtures(...)`; no test module imports a fixture from another)."""
from __future__ import annotations

import pytest

from tests.support.rollout_fakes import ADMIN


@pytest.fixture
def rollout_env(monkeypatch):
    """What a rollout run against the stand-ins of tests/support/rollout_fakes.py needs: the admin password
    (NEO4J_PASSWORD), no job users' passwords, and gate rounds that barely pause between polls."""
    monkeypatch.setenv("NEO4J_PASSWORD", ADMIN)
    monkeypatch.delenv("NEO4J_USER_PASSWORDS", raising=False)
    # Gate rounds pause between polls: barely, in unit tests.
    monkeypatch.setattr("scripts.neo4j_ops.rollout.gates.FIRST_PAUSE", 0.01)
    monkeypatch.setattr("scripts.neo4j_ops.rollout.gates.MAX_PAUSE", 0.01)
