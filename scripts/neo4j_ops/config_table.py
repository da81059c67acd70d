"""scripts/config_table.py: print the README's config reference table (components/settings.KEYS), or rewrite
it in place between its markers. A test (tests/unit/test_readme.py) keeps the two equal."""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from components.settings import config_reference

ROOT = Path(__file__).resolve().parents[2]  # the repository, where README.md is
BEGIN, END = "<!-- config-table:begin -->", "<!-- config-table:end -->"
DESCRIPTION = "Print the README's config reference table (from components/settings.KEYS), or rewrite it in place."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=DESCRIPTION,
                                     epilog="example: .venv/bin/python scripts/config_table.py --write")
    parser.add_argument("--write", action="store_true", help="rewrite the table in README.md")
    args = parser.parse_args(argv)
    if not args.write:
        print(config_reference())
        return 0
    readme = ROOT / "README.md"
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        print(f"config_table: README.md lacks the markers {BEGIN} … {END}", file=sys.stderr)
        return 2
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    readme.write_text(pattern.sub(lambda _: f"{BEGIN}\n{config_reference()}\n{END}", text))
    return 0
