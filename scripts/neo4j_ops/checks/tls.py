"""TLS as the stack asks for it: plain Bolt refused when required, Bolt over TLS with the cluster CA working."""
from __future__ import annotations

from typing import Any

from ..bolt import AUTH, Auth, BoltError, TlsOptions, Transport, with_scheme
from ..facts import ServerSpec
from ..parallel import Outcome
from ..target import Target
from .report import FAIL, PASS, SKIP, CheckResult, reason


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
    return outcome


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
    if problems:
        return CheckResult("tls", FAIL, "; ".join(problems))
    if level == "required":
        return CheckResult("tls", PASS, f"required: plain Bolt refused and Bolt over TLS with the cluster CA works on "
                                        f"{', '.join(ok)}")
    plain = ("plain Bolt also accepted" if not plain_refused else
             f"plain Bolt refused by {', '.join(plain_refused)}: stricter than optional")
    return CheckResult("tls", PASS, f"optional: Bolt over TLS with the cluster CA works on {', '.join(ok)} "
                                    f"({plain})")
