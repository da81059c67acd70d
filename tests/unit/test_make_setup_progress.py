"""`make setup` says what it does while it installs (a fresh clone waits minutes for pip): a line before the venv,
one naming how many packages requirements.txt lists, pip's own per-package lines (never --quiet), and one at the
end. Run with a stand-in interpreter (a shell script) whose venv's pip prints what a real one would and records its
arguments: the Makefile's wiring is what is tested, not pip."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")

STAND_IN_PYTHON = r"""#!/bin/sh
# A stand-in python3: --version, and -m venv DIR making DIR/bin/python, a stand-in whose pip prints and records.
case "$1" in
  --version) echo "Python 3.11.0 (stand-in)" ;;
  -m) [ "$2" = venv ] || exit 9
      mkdir -p "$3/bin"
      cat > "$3/bin/python" <<'PY'
#!/bin/sh
echo "$*" >> "$(dirname "$0")/../pip-args"
echo "Collecting boto3"
echo "Successfully installed boto3"
PY
      chmod +x "$3/bin/python" ;;
  *) exit 9 ;;
esac
"""


def test_setup_prints_progress_around_pips_own_lines(tmp_path):
    python = tmp_path / "python3"
    python.write_text(STAND_IN_PYTHON)
    python.chmod(0o755)
    venv = tmp_path / "venv"
    result = subprocess.run([MAKE, "--no-print-directory", "setup", f"VENV={venv}", f"PYTHON={python}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60,
                            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    ours = [line for line in result.stdout.splitlines()
            if line.startswith(("make setup:", "Collecting", "Successfully"))]
    packages = sum(1 for line in (ROOT / "requirements.txt").read_text().splitlines()
                   if line.strip() and not line.strip().startswith("#"))
    assert ours == [f"make setup: creating {venv} with Python 3.11.0 (stand-in) ({python})",
                    f"make setup: installing the {packages} packages of requirements.txt into {venv}, with their "
                    f"dependencies",
                    "Collecting boto3", "Successfully installed boto3",
                    f"make setup: {venv} is ready"]
    pip_args = (venv / "pip-args").read_text().split()
    assert pip_args[:3] == ["-m", "pip", "install"] and "--quiet" not in pip_args and "-q" not in pip_args
    assert re.search(r"-r requirements.txt", " ".join(pip_args))
    assert (venv / ".installed").exists()
