"""The README is true to what runs: its config table is the code's, its commands exist."""
import re

from components.settings import KEYS, config_reference
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_config_table_equals_the_keys_in_code():
    table = re.search(r"<!-- config-table:begin -->\n(.*)\n<!-- config-table:end -->", README, re.S)[1]
    assert table == config_reference(), "run: .venv/bin/python scripts/config_table.py --write"


def test_every_key_is_documented():
    assert all(f"`neo4j:{key.name}`" in README for key in KEYS)


def test_readme_commands_are_makefile_targets():
    makefile = (ROOT / "Makefile").read_text()
    for target in set(re.findall(r"^make ([\w-]+)", README, re.M)) | {"plan", "test"}:
        assert re.search(rf"^(\S+ )*{re.escape(target)}( \S+)*:", makefile, re.M), target


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
