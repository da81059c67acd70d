#!/usr/bin/env python3
"""Print the README's config reference table (from components/settings.KEYS), or rewrite it in place.

Example:
  python scripts/config_table.py --write   # after adding a key to components/settings.py
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.settings import config_reference  # noqa: E402

BEGIN, END = "<!-- config-table:begin -->", "<!-- config-table:end -->"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="example: python scripts/config_table.py --write")
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


if __name__ == "__main__":
    sys.exit(main())
