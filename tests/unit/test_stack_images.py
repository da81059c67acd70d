"""The local builds' own scripts (tests/support/engine/stack_images.py, images/): the neo4j ENTRYPOINT STAND-IN and
the GRAFANA STAND-IN's start script pass shellcheck, and the stand-in waits for exactly the provisioning files the
Monitoring component uploads. tests/engine/test_engine_local_stack.py runs them in the local stack."""
from __future__ import annotations

import re
import subprocess

import pytest

from components.docker.layout import monitoring_places
from tests.conftest import require_tool
from tests.support.engine.stack_images import IMAGES_DIR, grafana_standin_script


@pytest.mark.integration
@pytest.mark.parametrize("name", ["neo4j-entrypoint-standin.sh", "grafana-standin.sh"])
def test_shellcheck_passes_the_local_builds_scripts(name, tmp_path):
    path = tmp_path / name
    text = (IMAGES_DIR / name).read_text()
    path.write_text(grafana_standin_script() if name == "grafana-standin.sh" else text)
    result = subprocess.run([require_tool("shellcheck"), "--severity=info", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_grafana_stand_in_waits_for_the_provisioning_files_the_stack_uploads():
    script = grafana_standin_script()
    waited = script.split("set -- ", 1)[1].split("\n", 1)[0].split()
    uploaded = [place for place in monitoring_places("grafana").values() if "/provisioning/" in place]
    assert sorted(waited) == sorted(uploaded) and waited
    assert not re.search(r"@[A-Z]+@", script)  # every placeholder filled
