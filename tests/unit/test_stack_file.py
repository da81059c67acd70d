"""A stack file that cannot be read is refused in one line naming the file, exit 2, never a traceback:
`scripts/plan.py` run as a user runs it, on files a new user might write (components/stack_file.py)."""
from __future__ import annotations

import subprocess

import pytest

from components.stack_file import StackFileError, parse_stack_config, read_stack_config
from tests.conftest import ROOT
from tests.support.forkrun import python

# name → (file content, a fragment the one line must hold to say what is wrong)
BAD_FILES: dict[str, tuple[bytes, str]] = {
    "top-level list": (b"- neo4j:coreCount: 3\n- neo4j:replicaCount: 1\n", "got a list at the top"),
    "top-level scalar": (b"neo4j:coreCount 3\n", "got text ('neo4j:coreCount 3') at the top"),
    "top-level number": (b"3\n", "got a number (3) at the top"),
    "byte that is not UTF-8": (b"config:\n  neo4j:region: eu-west-1\xff\n",
                               "byte 0xff at line 2, column 26 is not UTF-8"),
    "UTF-16 file": ("config:\n  neo4j:coreCount: 3\n".encode("utf-16"), "byte 0xff at line 1, column 1 is not UTF-8"),
    "control character": (b"config:\n  neo4j:coreCount: 3\x01\n", "character '\\x01' at line 2, column 21"),
    "config is a list": (b"config:\n  - neo4j:coreCount: 3\n", "config: got a list; allowed: a mapping"),
    "config is a scalar": (b"config: neo4j:coreCount=3\n",
                           "config: got text ('neo4j:coreCount=3'); allowed: a mapping"),
    "key that is not text": (b"config:\n  3: neo4j:coreCount\n", "config: key 3 is not text"),
    "key given twice": (b"config:\n  neo4j:coreCount: 3\n  neo4j:coreCount: 5\n",
                        "line 3: key 'neo4j:coreCount' given twice (first at line 2)"),
    "YAML-only value": (b"config:\n  neo4j:users: !!binary aGVsbG8=\n", "config: neo4j:users: got a bytes value"),
    "alias cycle": (b"config:\n  neo4j:roles: &r [*r]\n", "config: neo4j:roles[0]: an alias refers to the value"),
    "nested too deeply": (b"config: " + b"[" * 3000 + b"]" * 3000 + b"\n", "nested too deeply"),
    "not YAML": (b"config:\n  neo4j:coreCount: [3\n", "not valid YAML"),
    "python tag": (b"config:\n  neo4j:x: !!python/object/apply:os.system [true]\n", "not valid YAML"),
}


def plan(*args: str) -> subprocess.CompletedProcess:
    """scripts/plan.py in a process of its own, forked from the warm interpreter (tests/support/forkrun.py)."""
    return python([str(ROOT / "scripts" / "plan.py"), *args], timeout=120, cwd=ROOT)


def assert_one_line_naming(result: subprocess.CompletedProcess, file: str, fragment: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{file}: "), lines[0]
    assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_an_unreadable_stack_file_is_one_line_naming_it_and_exit_2(case, tmp_path):
    content, fragment = BAD_FILES[case]
    stack_file = tmp_path / "Pulumi.new.yaml"
    stack_file.write_bytes(content)
    result = plan("--stack", "new", "--stack-file", str(stack_file), "--out", str(tmp_path / "out"))
    assert_one_line_naming(result, str(stack_file), fragment)
    assert not (tmp_path / "out").exists()


def test_a_directory_in_place_of_the_stack_file_is_one_line(tmp_path):
    stack_file = tmp_path / "Pulumi.new.yaml"
    stack_file.mkdir()
    result = plan("--stack", "new", "--stack-file", str(stack_file), "--out", str(tmp_path / "out"))
    assert_one_line_naming(result, str(stack_file), "cannot be read (Is a directory)")


def test_the_default_stack_file_is_named_as_the_user_knows_it(tmp_path, monkeypatch, capsys):
    # Pulumi.<stack>.yaml beside the program: named so, not by an absolute path. In-process, with the program's
    # directory moved to tmp_path (the refusal comes before any Pulumi code runs).
    from scripts.neo4j_ops.plan import command

    (tmp_path / "Pulumi.new.yaml").write_bytes(b"- a list\n")
    monkeypatch.setattr(command, "ROOT", tmp_path)
    assert command.main(["--stack", "new"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == ["Pulumi.new.yaml: got a list at the top; allowed: a mapping with a config: "
                                         "section (config: {neo4j:coreCount: 3, …})"]
    assert not (tmp_path / "build").exists()


def test_a_readable_file_gives_its_config_and_keeps_dates_as_text(tmp_path):
    stack_file = tmp_path / "Pulumi.ok.yaml"
    stack_file.write_text("encryptionsalt: v1:abc\nconfig:\n  neo4j:coreCount: 3\n  neo4j:backupSchedule: 2026-01-01\n"
                          "  neo4j:adminPassword:\n    secure: v1:xyz\n  aws:region: eu-west-1\n")
    assert read_stack_config(stack_file) == {"neo4j:coreCount": 3, "neo4j:backupSchedule": "2026-01-01",
                                             "neo4j:adminPassword": {"secure": "v1:xyz"}, "aws:region": "eu-west-1"}


@pytest.mark.parametrize("text", ["", "# only a comment\n", "config:\n", "encryptionsalt: v1:abc\n"])
def test_a_file_without_config_is_empty_config(text):
    assert parse_stack_config(text) == {}


def test_merge_keys_are_not_taken_for_repeats():
    text = "base: &base {neo4j:coreCount: 3}\nconfig:\n  <<: *base\n  neo4j:coreCount: 5\n"
    assert parse_stack_config(text) == {"neo4j:coreCount": 5}


def test_an_alias_used_twice_is_fine():
    text = "config:\n  neo4j:clientCidrs: &c [10.0.0.0/8]\n  neo4j:adminCidrs: *c\n"
    assert parse_stack_config(text) == {"neo4j:clientCidrs": ["10.0.0.0/8"], "neo4j:adminCidrs": ["10.0.0.0/8"]}


def test_the_error_names_the_file_as_given(tmp_path):
    stack_file = tmp_path / "Pulumi.x.yaml"
    stack_file.write_text("[1, 2]\n")
    with pytest.raises(StackFileError) as error:
        read_stack_config(stack_file, "Pulumi.x.yaml")
    assert str(error.value).startswith("Pulumi.x.yaml: got a list at the top; allowed: a mapping")
