"""check reports each server's certificate expiry (from recorded TLS handshakes of a 5.26 cluster):
the dates, and RENEW for one within 30 days, without failing the check."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from scripts.neo4j_ops.bolt import TlsOptions
from scripts.neo4j_ops.checks import main
from scripts.neo4j_ops.checks.tls import days_left
from scripts.neo4j_ops.recorded import RecordedTransport, load_scenario
from tests.conftest import ENTERPRISE


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", "admin-secret-not-real")
    monkeypatch.setenv("NEO4J_USER_PASSWORDS", json.dumps({"analyst": "analyst-secret-not-real",
                                                           "scientist": "scientist-secret-not-real"}))


def in_days(days: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).isoformat().replace("+00:00", "Z")


def test_each_servers_certificate_expiry_is_reported_and_a_near_one_is_flagged(tmp_path, capsys):
    ca = tmp_path / "ca.crt"
    ca.write_text("(recorded runs never open it)\n")
    scenario = load_scenario(ENTERPRISE / "cluster-5.26-healthy.json")
    for name, days in (("core-1", 700.2), ("core-2", 700.2), ("core-3", 12.2), ("replica-1", 700.2)):
        scenario["endpoints"][name]["tls"]["certificate"] = {"subject": f"commonName={name}",
                                                             "not_after": in_days(days)}
    transport = RecordedTransport(scenario, tls=TlsOptions(str(ca)))
    code = main(["--stack", "prod", "--outputs-file", str(ENTERPRISE / "stack-outputs-prod.json"),
                 "--ca-cert", str(ca)], transport=transport)
    out = capsys.readouterr().out
    assert code == 0, out
    line = next(line for line in out.splitlines() if line.startswith("PASS  tls"))
    assert "certificates expire: core-1 " in line and "(700 days)" in line
    assert "core-3 " in line and "(12 days — RENEW: within 30 days)" in line
    assert line.count("RENEW") == 1


def test_days_left():
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    assert days_left("2026-12-31T00:00:00Z", now) == 30
