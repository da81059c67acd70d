"""Every fenced block of the README says what it is (tests/support/readme_blocks.py: `sh run`, `sh not-run:
<reason>`, `text generated:<name>`, or plain text), and its sample output is what the code prints now. The `sh run`
blocks run in tests/integration/test_readme_blocks.py."""
from __future__ import annotations

import pytest

from tests.support import readme_blocks
from tests.support.readme_blocks import README, blocks, problems

TEXT = README.read_text()


def test_every_block_is_run_or_marked_with_a_reason():
    assert problems(TEXT) == []


def test_the_quick_start_is_in_the_first_screen_and_runs():
    first_screen = "\n".join(TEXT.splitlines()[:45])
    assert "## Quick start" in first_screen and "Prerequisites:" in first_screen
    for word in ("Python", "Java", "Go ", "Pulumi CLI", "AWS credentials"):
        assert word in first_screen, word
    run = [b for b in blocks(TEXT) if b.kind == "run" and b.line <= 45]
    commands = [c.split("#")[0].strip() for b in run for c in b.commands()]
    assert "make plan STACK=prod" in commands
    assert commands[-4:] == ["make local-server", "make local-check", "make local-backup-restore", "make local-stop"]
    assert any(b.kind == "not-run" and "make test" in b.body for b in blocks(TEXT))


def test_no_command_calls_a_bare_python():
    for block in blocks(TEXT):
        for command in block.commands():
            words = command.split()
            assert "python" not in words and "python3" not in words, (block.line, command)


@pytest.mark.parametrize("name", sorted(readme_blocks.SAMPLES))
def test_sample_output_is_what_the_code_prints(name):
    shown = [b.body for b in blocks(TEXT) if b.kind == "generated" and b.sample == name]
    assert shown, f"no README block shows {name}"
    printed = readme_blocks.SAMPLES[name]()
    assert all(body == printed for body in shown), "run: .venv/bin/python -m tests.support.readme_blocks --write"


def test_unmarked_blocks_and_reasonless_not_runs_are_reported():
    text = "```\nmake plan\n```\n```sh not-run:\nx\n```\n```text generated:nope\n```\n"
    assert [p.split(":")[1] for p in problems(text)] == ["1", "4", "7"]
