"""components/passwords.py: the admin passwords a stack refuses before deploying, and why."""
from __future__ import annotations

import pytest

from components.passwords import MINIMUM_LENGTH, admin_password_problems, minimum_length
from components.render import render_neo4j_conf
from components.topology import plan_topology
from tests.conftest import make_settings
from tests.support.neo4j_settings import conf_entries, setting_list

MINIMUM_SETTING = "dbms.security.auth_minimum_password_length"
VERSIONS = {"4.4": "4.4.46", "5": "5.26.30", "2025": "2025.10.0"}
GOOD = "Correct-Horse-9"


def stack(platform: str = "docker", line: str = "5"):
    return make_settings(platform=platform, version=VERSIONS[line])


@pytest.mark.parametrize("line", sorted(VERSIONS))
@pytest.mark.parametrize("platform", ["aws", "docker"])
def test_a_good_password_deploys_on_every_line_and_platform(platform, line):
    assert admin_password_problems(GOOD, stack(platform, line)) == []


def test_a_slash_is_refused_on_docker_only():
    password = "Correct/Horse-9"
    [problem] = admin_password_problems(password, stack("docker"))
    assert problem.startswith("neo4j:adminPassword: contains '/'; allowed: a password without '/'")
    assert admin_password_problems(password, stack("aws")) == []


@pytest.mark.parametrize("platform", ["aws", "docker"])
@pytest.mark.parametrize("line", sorted(VERSIONS))
def test_the_default_password_is_refused_everywhere(platform, line):
    problems = admin_password_problems("neo4j", stack(platform, line))
    assert any(p.startswith("neo4j:adminPassword: is Neo4j's initial default password; allowed:") for p in problems)


@pytest.mark.parametrize("line, shortest", [("4.4", 1), ("5", 8), ("2025", 8)])
@pytest.mark.parametrize("platform", ["aws", "docker"])
def test_the_shortest_password_follows_the_version_line(platform, line, shortest):
    settings = stack(platform, line)
    assert minimum_length(settings) == shortest
    assert admin_password_problems("x" * shortest, settings) == []
    [problem] = admin_password_problems("x" * (shortest - 1), settings)
    assert problem.startswith(f"neo4j:adminPassword: is shorter than {shortest} character")
    assert f"allowed: {shortest} characters or more" in problem


@pytest.mark.parametrize("line", sorted(VERSIONS))
def test_the_minimum_is_neo4js_default_which_the_rendered_conf_keeps(line):
    settings = stack("docker", line)
    entry = setting_list(line)["settings"].get(MINIMUM_SETTING)
    # 4.4 has no such setting (it came in 5.3): it refuses only an empty password.
    assert MINIMUM_LENGTH[line] == (int(entry["default"]) if entry else 1)
    if entry is None:
        assert line == "4.4"
    topology = plan_topology(settings)
    for server in topology.servers:  # a conf that set it would move the minimum
        assert MINIMUM_SETTING not in dict(conf_entries(render_neo4j_conf(settings, topology, server)))


@pytest.mark.parametrize("password", ["Zq/9", "Zq9", "", "Zq/Zq/Zq/Zq/"])
@pytest.mark.parametrize("line", sorted(VERSIONS))
def test_messages_name_the_key_and_the_rule_never_the_password(password, line):
    problems = admin_password_problems(password, stack("docker", line))
    if password:
        assert all(password not in problem for problem in problems)
    for problem in problems:
        assert problem.startswith("neo4j:adminPassword: ") and "; allowed: " in problem
        assert "\n" not in problem


def test_every_broken_rule_is_reported_at_once():
    assert len(admin_password_problems("neo4j", stack("docker", "5"))) == 2  # the default, and too short
    assert len(admin_password_problems("a/b", stack("docker", "5"))) == 2  # a slash, and too short
