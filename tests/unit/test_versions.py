"""One version-line rule (scripts/neo4j_ops/shared/versions.py) for the deploy config, backup/restore and
check/diagnose: which line a release belongs to, which of them this program deploys, and what each line's servers and
neo4j-admin take."""
from __future__ import annotations

import pytest

from components.settings import version_line
from scripts.neo4j_ops.shared.versions import (
    LINE_5,
    LINE_44,
    LINE_2025,
    LINES,
    Version,
    deployable_line,
    line_named,
    line_of,
    server_line,
)


@pytest.mark.parametrize(("version", "line"), [
    ("5.26.30", "5"), ("5.20.0", "5"), ("5.26", "5"), ("4.4.41", "4.4"), ("2025.10.1", "2025"),
    ("2026.01.0", "2025"), (" 5.26.1 ", "5"), ("5.26.0-enterprise", "5"),
])
def test_a_release_belongs_to_its_line_by_its_number(version, line):
    assert line_of(version) is LINES[line]


@pytest.mark.parametrize("version", ["3.5.35", "4.3.0", "2024.1.0", "six", ""])
def test_a_release_of_no_line_is_refused_by_the_tools_that_must_know(version):
    with pytest.raises(ValueError, match="not a release this tool knows"):
        line_of(version)


def test_check_and_diagnose_speak_the_lts_dialect_to_a_server_of_no_known_line():
    assert server_line("4.4.44") is LINE_44 and server_line("2025.10.1") is LINE_2025
    assert server_line(None) is LINE_5 and server_line("3.5.35") is LINE_5 and server_line("") is LINE_5


@pytest.mark.parametrize(("version", "line"), [("4.4.0", "4.4"), ("5.26.30", "5"), ("2025.01.0", "2025"),
                                               ("2026.12.3", "2025")])
def test_the_deploy_config_takes_the_releases_our_templates_are_written_for(version, line):
    assert deployable_line(version).name == line == version_line(version)


@pytest.mark.parametrize(("version", "allowed"), [
    ("5.26", "x.y.z"), ("5.26.30-rc1", "x.y.z"),
    ("5.20.0", "4.4.z, 5.26.z (the 5.x LTS) or a calendar release 2025.mm.z or later"),
    ("2025.13.0", "4.4.z, 5.26.z (the 5.x LTS) or a calendar release 2025.mm.z or later"),
    ("4.3.9", "4.4.z, 5.26.z (the 5.x LTS) or a calendar release 2025.mm.z or later"),
])
def test_the_deploy_config_refuses_other_releases_saying_what_is_allowed(version, allowed):
    with pytest.raises(ValueError) as refused:
        version_line(version)
    assert str(refused.value) == allowed


def test_every_deployable_release_is_on_the_line_the_tools_give_it():
    for version in ("4.4.41", "5.26.0", "5.26.30", "2025.06.1", "2030.01.0"):
        assert deployable_line(version) is line_of(version) is server_line(version)


def test_versions_order_by_number():
    assert Version.parse("5.26.9") < Version.parse("5.26.10") < Version.parse("2025.1")
    assert str(Version.parse("2025.10.1")) == "2025.10.1" and str(Version.parse("5.26")) == "5.26"


def test_what_each_line_supports():
    assert [line.supports_show_servers for line in (LINE_44, LINE_5, LINE_2025)] == [False, True, True]
    assert [line.supports_dump_to_stdout for line in (LINE_44, LINE_5, LINE_2025)] == [False, True, True]
    assert [line.discovery_on_cluster_port for line in (LINE_44, LINE_5, LINE_2025)] == [False, False, True]
    assert [line.database_status_column for line in (LINE_44, LINE_5)] == ["error", "statusMessage"]
    assert LINE_44.transactions_by_procedure and not LINE_2025.transactions_by_procedure
    assert line_named("4.4") is LINE_44
    with pytest.raises(ValueError, match="unknown version line '6'"):
        line_named("6")
