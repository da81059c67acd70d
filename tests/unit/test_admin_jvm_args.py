"""The tests' JVM options reach the JVM that runs a neo4j-admin command (tests/support/neo4j_dist.py): 4.4 runs it
in the JVM admin_command starts; 5.x's bootloader forks another JVM for it, configured by JAVA_OPTS ("Used to pass
custom setting to Java Virtual Machine executing the command", `neo4j-admin --help`). The measured gain:
tests/support/neo4j_local.py, local_jvm_args."""
from __future__ import annotations

import subprocess

import pytest

from tests.support import neo4j_dist
from tests.support.neo4j_dist import NEO4J_VERSIONS


@pytest.fixture(autouse=True)
def no_jars(monkeypatch):
    monkeypatch.setattr(neo4j_dist, "neo4j_classpath", lambda version: "/jars/*")
    monkeypatch.setattr(neo4j_dist, "java_executable", lambda version: "/jdk/bin/java")


@pytest.mark.parametrize("line", ["4.4", "5", "2025"])
def test_the_options_go_on_the_admin_jvms_command_line_and_into_java_opts(line, monkeypatch, tmp_path):
    ran = {}

    def run(cmd, env, **_):
        ran.update(cmd=cmd, env=env)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(neo4j_dist.subprocess, "run", run)
    neo4j_dist.run_neo4j_admin(["--help"], tmp_path, version=NEO4J_VERSIONS[line], jvm_args=("-XX:A", "-XX:B=1"))
    cmd = ran["cmd"]
    assert cmd[cmd.index("-cp") - 2:cmd.index("-cp")] == ["-XX:A", "-XX:B=1"]  # before the class path and main
    assert ran["env"]["JAVA_OPTS"] == "-XX:A -XX:B=1"


def test_without_options_no_java_opts_is_set_and_a_callers_own_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_OPTS", "-Xmx99g")  # the caller's environment leaks none (neo4j_dist._LEAKY_ENV)
    seen = []
    monkeypatch.setattr(neo4j_dist.subprocess, "run",
                        lambda cmd, env, **_: seen.append(env) or subprocess.CompletedProcess(cmd, 0, "", ""))
    neo4j_dist.run_neo4j_admin(["--help"], tmp_path)
    neo4j_dist.run_neo4j_admin(["--help"], tmp_path, env={"JAVA_OPTS": "-Xmx1g"}, jvm_args=("-XX:A",))
    assert "JAVA_OPTS" not in seen[0] and seen[1]["JAVA_OPTS"] == "-Xmx1g"
