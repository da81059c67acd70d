"""How the `valid-values/<line>.json` files beside this module were made (not imported by the program).

Each setting entry of the Operations Manual's settings page (modules/ROOT/pages/configuration/
configuration-settings.adoc in neo4j/docs-operations, at the commit the line's setting list names) has a
"Valid values" cell; its text is copied verbatim (4.4's cell starts with the setting's name and a comma,
which is dropped), keyed by the entry's heading. The page's `<graph ID>` placeholder (4.4 Fabric) is
written `<graph-id>`, as the setting lists write it. components/neo4j_settings/values.py reads the text.

    .venv/bin/python -m components.neo4j_settings.extract <docs-operations git dir>
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

PAGE = "modules/ROOT/pages/configuration/configuration-settings.adoc"
HERE = Path(__file__).resolve().parent
_HEADING = re.compile(r"^=== `([^`]+)`", re.M)
_CELL = re.compile(r"^\|Valid values\n(?:a\|)?(.*?)\n\|", re.M | re.S)


def valid_values(page: str) -> dict[str, str]:
    """{setting name: the manual's "Valid values" text} of one settings page."""
    headings = list(_HEADING.finditer(page))
    found: dict[str, str] = {}
    for number, heading in enumerate(headings):
        end = headings[number + 1].start() if number + 1 < len(headings) else len(page)
        cell = _CELL.search(page, heading.end(), end)
        if cell is None:
            continue
        name = heading.group(1).replace("<graph ID>", "<graph-id>")
        text = " ".join(cell.group(1).split())
        if text.startswith(heading.group(1) + ", "):  # 4.4: "dbms.transaction.timeout, a duration (…)"
            text = text[len(heading.group(1)) + 2:]
        found[name] = text
    return found


def main(docs: str) -> int:
    for line in ("4.4", "5", "2025"):
        catalogue = json.loads((HERE / f"{line}.json").read_text())
        commit = catalogue["source"].rsplit("@", 1)[1].strip()
        page = subprocess.run(["git", "-C", docs, "show", f"{commit}:{PAGE}"], check=True, capture_output=True,
                              text=True).stdout
        document = {"version_line": line, "source": catalogue["source"], "valid_values": valid_values(page)}
        (HERE / "valid-values" / f"{line}.json").write_text(json.dumps(document, indent=1, ensure_ascii=False,
                                                                       sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
