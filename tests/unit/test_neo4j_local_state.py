"""`make neo4j-local ARGS=--background|--stop` keeps build/neo4j-local/state.json while its server runs. Its hints
name commands that work on a fresh clone (the make target: a bare `python -m tests.support.neo4j_local` runs outside
the virtualenv and fails on its first import), and a state file whose process is gone (a reboot, a kill -9) never
blocks the next start."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from tests.conftest import ROOT
from tests.support import neo4j_local


def test_a_stale_state_file_is_removed_and_reported_as_nothing_running(tmp_path, monkeypatch, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    monkeypatch.setattr(neo4j_local, "STATE_DIR", tmp_path)
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"pid": dead.pid, "uri": "bolt://127.0.0.1:1"}))
    assert neo4j_local.main(["--stop"]) == 1
    assert "nothing running in the background" in capsys.readouterr().err
    assert not state.exists()


def test_a_live_state_file_is_kept(tmp_path):
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"pid": os.getpid(), "uri": "bolt://127.0.0.1:1"}))
    assert neo4j_local._read_state(state)["pid"] == os.getpid()
    assert state.exists()


def test_already_running_names_the_make_target_that_stops_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(neo4j_local, "STATE_DIR", tmp_path)
    (tmp_path / "state.json").write_text(json.dumps({"pid": os.getpid(), "uri": "bolt://127.0.0.1:1"}))
    assert neo4j_local.main(["--background"]) == 1
    err = capsys.readouterr().err
    hint = re.search(r"stop it with: (.*)$", err.strip())[1]
    assert hint == "make neo4j-local ARGS=--stop"
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^neo4j-local:", makefile, re.M)
    assert "$(PY) -m tests.support.neo4j_local" in makefile  # the venv's python, with ARGS passed on
