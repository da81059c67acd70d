"""The README's fenced blocks, and the sample output in it, which the code that prints it generates.

Every fenced block of README.md says what it is by its info string (what follows the opening ```):
  ```sh run                      commands tests/integration/test_readme_blocks.py runs, as written (below)
  ```sh not-run: <reason>        commands that cannot run here (a real deploy, a deployed stack's machines)
  ```text generated:<name>       sample output: SAMPLES[name] prints it; the test compares, --write renews
  ```text | ```json | ```yaml    diagrams, trees and formats, not commands
A block with no info string, or another one, is an error (`problems`).

Placeholders in `sh run` blocks, which the test replaces with what the suite started:
  `NEO4J_PASSWORD=… `            the variable set to the test server's password (in the environment)
  `bolt://127.0.0.1:7687`        the test server's Bolt URI

    .venv/bin/python -m tests.support.readme_blocks --write   # renews the generated samples in README.md
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(.*)$")
PLAIN_KINDS = ("text", "json", "yaml")


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    info: str
    body: str  # the lines between the fences, each ending in a newline

    @property
    def kind(self) -> str:
        if self.info == "sh run":
            return "run"
        if self.info.startswith("sh not-run:"):
            return "not-run"
        if self.info.startswith("text generated:"):
            return "generated"
        if self.info in PLAIN_KINDS:
            return "plain"
        return "unmarked"

    @property
    def reason(self) -> str:
        return self.info.partition(":")[2].strip()

    @property
    def sample(self) -> str:
        return self.info.partition("generated:")[2].strip()

    def commands(self) -> list[str]:
        """The block's commands: a line ending in a backslash goes on with the next; comments dropped."""
        text = re.sub(r"\\\n\s*", " ", self.body)
        return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def blocks(text: str) -> list[Block]:
    found, lines, i = [], text.splitlines(keepends=True), 0
    while i < len(lines):
        match = FENCE.match(lines[i].rstrip("\n"))
        if match is None:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].rstrip("\n") == "```")
        found.append(Block(i + 1, match[1].strip(), "".join(lines[i + 1:end])))
        i = end + 1
    return found


def problems(text: str) -> list[str]:
    """Blocks that are neither run, nor marked not-run with a reason, nor sample output, nor plain text."""
    out = []
    for block in blocks(text):
        if block.kind == "unmarked":
            out.append(f"README.md:{block.line}: ```{block.info}: mark it `sh run`, `sh not-run: <reason>`, "
                       f"`text generated:<name>` or {', '.join(PLAIN_KINDS)}")
        elif block.kind == "not-run" and len(block.reason) < 10:
            out.append(f"README.md:{block.line}: a not-run block needs its reason")
        elif block.kind == "generated" and block.sample not in SAMPLES:
            out.append(f"README.md:{block.line}: no sample named {block.sample!r} (SAMPLES: {', '.join(SAMPLES)})")
    return out


# --- samples: the output of the code that prints it ---------------------------------------------------------

# The plan summary's sections the README shows; the others are named on one line.
PLAN_SECTIONS_SHOWN = ("Stack ", "Memory plan per role:", "Resources per component:", "Artifacts (")


def plan_prod() -> str:
    """`make plan STACK=prod`'s summary (scripts/plan.py) into a fresh directory, shown as build/prod, with the
    sections PLAN_SECTIONS_SHOWN in full and the others named."""
    with tempfile.TemporaryDirectory(prefix="readme-plan-") as tmp:
        out = Path(tmp) / "prod"
        result = subprocess.run([sys.executable, str(ROOT / "scripts" / "plan.py"), "--stack", "prod", "--out",
                                 str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"scripts/plan.py --stack prod failed (exit {result.returncode}):\n{result.stderr}")
        text = result.stdout.replace(f"{out}/", "build/prod/")
    sections = re.split(r"\n\n", text.strip("\n"))
    shown, left_out = [], []
    for section in sections:
        first = section.lstrip().splitlines()[0]
        if section.startswith(PLAN_SECTIONS_SHOWN) or section.startswith("  server "):
            shown.append(section)
        else:
            left_out.append(re.split(r"[:(]", first)[0].strip())
    if left_out:
        shown.append(f"(also: {'; '.join(left_out)})")
    return "\n\n".join(shown) + "\n"


# A stack config with the mistakes the README shows; load_settings reports each on one line.
BAD_CONFIG = {"neo4j:vpcCidr": "10.0.0.1/16", "neo4j:coreCount": 4, "neo4j:edition": "community"}


def config_errors() -> str:
    from components.settings import ConfigError, load_settings

    try:
        load_settings("dev", dict(BAD_CONFIG))
    except ConfigError as error:
        return "".join(f"{problem}\n" for problem in error.problems)
    raise AssertionError(f"{BAD_CONFIG} was accepted")


SAMPLES: dict[str, Callable[[], str]] = {"plan-prod": plan_prod, "config-errors": config_errors}


def with_samples(text: str, samples: dict[str, str] | None = None) -> str:
    """README text with every generated block's body replaced by its sample's output."""
    out, lines, i = [], text.splitlines(keepends=True), 0
    cache = dict(samples or {})
    for block in blocks(text):
        out.extend(lines[i:block.line])  # up to and including the opening fence
        if block.kind == "generated":
            if block.sample not in cache:
                cache[block.sample] = SAMPLES[block.sample]()
            out.append(cache[block.sample])
        else:
            out.append(block.body)
        i = block.line + block.body.count("\n")
    out.extend(lines[i:])
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="readme_blocks", description="Renew (--write) or check README.md's samples.")
    p.add_argument("--write", action="store_true", help="write the generated samples into README.md")
    args = p.parse_args(argv)
    text = README.read_text()
    for problem in problems(text):
        print(problem, file=sys.stderr)
    new = with_samples(text)
    if args.write:
        README.write_text(new)
        print("README.md: samples renewed" if new != text else "README.md: samples already current")
        return 0
    if new != text:
        print("README.md: a sample differs from its command's output; run: "
              ".venv/bin/python -m tests.support.readme_blocks --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
