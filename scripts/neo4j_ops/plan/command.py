"""scripts/plan.py: its help, options and main (DESCRIPTION below says what a plan is).

Runs __main__.py under recording Pulumi mocks, writes build/<stack>/plan.json and every rendered
file under build/<stack>/, and prints a summary. Reviewers diff the build directory in pull requests.

With an earlier plan in the output directory (or --since PLAN_JSON, e.g. main's), the summary lists per
Neo4j server what is pending on it: the inputs `pulumi up` holds back on running servers (image, user data,
instance type, subnet), which are applied one server at a time by replacing that server.

Example:
  python scripts/plan.py --stack prod
  python scripts/plan.py --stack prod --since main-plan/plan.json
  python scripts/plan.py --stack dev --json | jq '.resources | length'

Exit status: 0 planned, 2 the stack file is missing or unreadable, or its config invalid (one line per problem).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import pulumi  # the program's own refusals arrive as pulumi.RunError

from components.settings import ConfigError
from components.stack_file import StackFileError

from .document import ROOT, plan

DESCRIPTION = "Offline plan of a stack: what `pulumi up` would build, without cloud, Pulumi CLI or Docker."
STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def _replaceable(out_dir: Path) -> bool:
    """A plan replaces its output directory: only a new, empty or earlier plan's directory may be given."""
    if not out_dir.exists():
        return True
    return out_dir.is_dir() and (not any(out_dir.iterdir()) or (out_dir / "plan.json").is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="plan", description=DESCRIPTION,
        epilog="example: python scripts/plan.py --stack prod", formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="dev", help="stack name; reads Pulumi.<stack>.yaml (default: dev)")
    parser.add_argument("--stack-file", type=Path, help="stack file to read instead of Pulumi.<stack>.yaml")
    parser.add_argument("--out", type=Path, help="output directory (default: build/<stack>)")
    parser.add_argument("--json", action="store_true", help="print plan.json instead of the summary")
    parser.add_argument("--since", type=Path, metavar="PLAN_JSON",
                        help="earlier plan.json to list pending server changes against (default: the one in --out)")
    args = parser.parse_args(argv)

    # The name becomes a file name and build/<stack>, which is replaced whole: no path tricks ("..").
    if not STACK_NAME.match(args.stack) or args.stack in (".", ".."):
        print(f"plan: --stack: got {args.stack!r}; allowed: a stack name of letters, digits, '-', '_' and '.'",
              file=sys.stderr)
        return 2
    stack_file = args.stack_file or ROOT / f"Pulumi.{args.stack}.yaml"
    if not stack_file.exists():
        stacks = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))
        print(f"plan: no stack file {stack_file}; stacks here: {', '.join(stacks)}", file=sys.stderr)
        return 2
    out_dir = args.out or ROOT / "build" / args.stack
    if args.out and not _replaceable(out_dir):
        print(f"plan: --out {out_dir}: got a {'file' if not out_dir.is_dir() else 'directory without plan.json'}; "
              f"allowed: a new or empty directory, or an earlier plan's (it is replaced whole)", file=sys.stderr)
        return 2
    try:
        document = plan(args.stack, stack_file, out_dir, str(args.stack_file or stack_file.name), args.since)
    except StackFileError as error:
        print(error, file=sys.stderr)  # one line naming the file and what is wrong
        return 2
    except ConfigError as error:
        for problem in error.problems:  # one line each, naming the key: nothing else
            print(problem, file=sys.stderr)
        return 2
    except pulumi.RunError as error:
        # What only the program can check (an adapter's refusal): its own lines, as `pulumi up` prints them.
        for line in str(error).splitlines():
            if line and line != "invalid stack config:":
                print(line, file=sys.stderr)
        return 2
    text = document.pop("_summary")
    print(json.dumps(document, indent=2) if args.json else text)
    return 0
