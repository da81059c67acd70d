"""TLS as the stack asks for it: plain Bolt refused when required, Bolt over TLS with the cluster CA working."""
from __future__ import annotations

import datetime as dt
from typing import Any

from ..bolt import AUTH, Auth, BoltError, TlsOptions, Transport, with_scheme
from ..facts import ServerSpec
from ..parallel import Outcome
from ..target import Target
from .results import FAIL, PASS, SKIP, CheckResult, reason

CERTIFICATE_WARNING_DAYS = 30  # as the Neo4jCertificateExpiresSoon alert


def tls_probe(transport: Transport, spec: ServerSpec, auth: Auth, ca: TlsOptions) -> dict[str, Any]:
    """Does the server accept plain Bolt? Does Bolt over TLS with our CA work?"""
    plain_uri = with_scheme(spec.uri, "bolt")
    outcome: dict[str, Any] = {}
    try:
        transport.client(plain_uri, auth, tls=TlsOptions()).verify()
        outcome["plain"] = "accepted"
    except BoltError as error:
        outcome["plain"] = "accepted" if error.kind == AUTH else "refused"
        outcome["plain_error"] = error.message
    try:
        transport.client(plain_uri, auth, tls=ca).verify()
        outcome["encrypted"] = "ok"
    except BoltError as error:
        outcome["encrypted"] = "ok" if error.kind == AUTH else "failed"
        outcome["encrypted_error"] = error.message
    reader = getattr(transport, "peer_certificate", None)
    if reader is not None and outcome["encrypted"] == "ok":
        try:
            outcome["certificate"] = reader(plain_uri, ca)
        except BoltError as error:
            outcome["certificate_error"] = error.message
    return outcome


def days_left(not_after: str, now: dt.datetime | None = None) -> float:
    end = dt.datetime.fromisoformat(not_after.replace("Z", "+00:00"))
    return (end - (now or dt.datetime.now(dt.UTC))).total_seconds() / 86400


def expiry_text(outcomes: dict[str, Any]) -> str:
    """'; certificates expire: core-1 2028-11-20 (719 days), ...' (soon ones shouted), or ''."""
    parts = []
    for name, probe in outcomes.items():
        certificate = probe.get("certificate") if isinstance(probe, dict) else None
        if not certificate:
            continue
        left = days_left(certificate["not_after"])
        soon = " — RENEW: within 30 days" if left < CERTIFICATE_WARNING_DAYS else ""
        parts.append(f"{name} {certificate['not_after'][:10]} ({left:.0f} days{soon})")
    return "; certificates expire: " + ", ".join(parts) if parts else ""


def tls_result(target: Target, outcome: Outcome | None) -> CheckResult:
    level = target.tls_expected
    if level is None:
        return CheckResult("tls", SKIP, "TLS level not known (give --tls required|optional|disabled, or --stack)")
    if level == "disabled":
        return CheckResult("tls", SKIP, "TLS is disabled in the stack config")
    if outcome is None:
        return CheckResult("tls", SKIP, "no CA certificate to verify the servers with (--ca-cert)")
    if not outcome.ok:
        return CheckResult("tls", FAIL, reason(outcome))
    problems, ok, plain_refused = [], [], []
    for name, server_outcome in outcome.value.items():
        if not server_outcome.ok:
            problems.append(f"{name}: {reason(server_outcome)}")
            continue
        probe, mine = server_outcome.value, []
        if probe["plain"] == "refused":
            plain_refused.append(name)
        if probe["encrypted"] != "ok":
            mine.append(f"{name}: Bolt over TLS with the cluster CA failed: {probe.get('encrypted_error')}")
        if level == "required" and probe["plain"] == "accepted":
            mine.append(f"{name} accepts plain (unencrypted) Bolt although TLS is required "
                        f"(server.bolt.tls_level should be REQUIRED)")
        problems += mine
        if not mine:
            ok.append(name)
    expiry = expiry_text({name: o.value for name, o in outcome.value.items() if o.ok})
    if problems:
        return CheckResult("tls", FAIL, "; ".join(problems) + expiry)
    if level == "required":
        return CheckResult("tls", PASS, f"required: plain Bolt refused and Bolt over TLS with the cluster CA works on "
                                        f"{', '.join(ok)}{expiry}")
    plain = ("plain Bolt also accepted" if not plain_refused else
             f"plain Bolt refused by {', '.join(plain_refused)}: stricter than optional")
    return CheckResult("tls", PASS, f"optional: Bolt over TLS with the cluster CA works on {', '.join(ok)} "
                                    f"({plain}){expiry}")
