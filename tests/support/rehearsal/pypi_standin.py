"""The PyPI STAND-IN: the wheels setup-neo4j.sh's `pip install` asks for (the backup tooling's boto3 and neo4j
driver, with their dependencies), downloaded once on the host from PyPI into the tests' cache, and served inside
the machine's namespace under PyPI's own names: pypi.org/simple/<project>/ (the simple index, PEP 503) linking to
files.pythonhosted.org/packages/<wheel>, as PyPI does. The machine's /etc/hosts sends both names here, its trust
store has the rehearsal CA (the venv's pip, from Debian's python3.11-venv, takes Debian's certifi, which is the
system bundle), so pip runs unchanged.

On AWS the same `pip install` needs a route to pypi.org and files.pythonhosted.org (the servers' egress allows
HTTPS to the internet through the NAT gateway), or a PyPI mirror reached the same way (pip's index-url in
/etc/pip.conf, baked into the image): a server with no such route stops at install_backup_tooling.
"""
from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.neo4j_dist import cache_root

HOSTNAMES = ("pypi.org", "files.pythonhosted.org")
ADDRESS = "127.100.0.3"
PYTHON_VERSION = "3.11"  # the venv's python3.11 (setup-neo4j.sh install_backup_tooling)
PIP_INSTALL = re.compile(r"pip install --quiet (.+)$", re.MULTILINE)


def requirements_of(script: str) -> tuple[str, ...]:
    """The requirements of the rendered boot's `pip install` line ("boto3>=1.40,<2" ...); () when it has none."""
    found = PIP_INSTALL.search(script)
    return tuple(re.findall(r'"([^"]+)"', found.group(1))) if found else ()


def _normalized(project: str) -> str:
    return re.sub(r"[-_.]+", "-", project).lower()


def build_index(requirements: tuple[str, ...]) -> Path:
    """The simple index holding wheels of `requirements` for CPython 3.11 on x86_64 Linux; its directory."""
    key = hashlib.sha256(json.dumps([sorted(requirements), PYTHON_VERSION]).encode()).hexdigest()[:12]
    root = cache_root() / "rehearsal" / "pypi" / f"index-{key}"
    if (root / "simple" / "index.html").exists():
        return root
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    packages = partial / "packages"
    packages.mkdir(parents=True)
    result = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
                             "--python-version", PYTHON_VERSION, "--implementation", "cp",
                             "--platform", "manylinux2014_x86_64", "--dest", str(packages), *requirements],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"rehearsal: pip download of {' '.join(requirements)} failed: {result.stderr.strip()}")
    projects: dict[str, list[Path]] = {}
    for wheel in sorted(packages.glob("*.whl")):
        projects.setdefault(_normalized(wheel.name.split("-")[0]), []).append(wheel)
    simple = partial / "simple"
    for project, wheels in projects.items():
        links = "".join(
            f'<a href="https://files.pythonhosted.org/packages/{html.escape(w.name)}'
            f'#sha256={hashlib.sha256(w.read_bytes()).hexdigest()}">{html.escape(w.name)}</a><br>\n' for w in wheels)
        (simple / project).mkdir(parents=True)
        (simple / project / "index.html").write_text(f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n")
    (simple / "index.html").write_text("<!DOCTYPE html>\n<html><body>\n" + "".join(
        f'<a href="/simple/{p}/">{p}</a><br>\n' for p in sorted(projects)) + "</body></html>\n")
    shutil.rmtree(root, ignore_errors=True)
    partial.rename(root)
    return root
