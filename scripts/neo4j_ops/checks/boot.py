"""A server that does not answer Bolt: did its boot script fail? setup-neo4j.sh publishes
neo4j_cluster_boot_failed{step="..."} 1 through node exporter's textfile collector (port 9100 on
AWS); when the machine running check can read it, check names the failed step instead of only
"not answering". Where nothing answers on that port (Docker, a security group), nothing is said."""
from __future__ import annotations

import re

from components.ports import PORTS

from ..bolt import BoltError, Transport, host_of
from ..facts import ServerSpec
from ..parallel import run_all

_FAILED = re.compile(r'^neo4j_cluster_boot_failed\{[^}]*step="([^"]+)"[^}]*\}\s+1(?:\.0+)?\s*$', re.MULTILINE)


def failed_step(metrics_text: str) -> str | None:
    match = _FAILED.search(metrics_text)
    return match.group(1) if match else None


def boot_failures(specs: list[ServerSpec], transport: Transport, timeout: float) -> dict[str, str]:
    """{server name: failed step} of the given servers whose node exporter says their boot failed."""
    def ask(spec: ServerSpec) -> str | None:
        host = spec.private_ip or spec.hostname or host_of(spec.uri)
        try:
            status, body = transport.http_get(f"http://{host}:{PORTS.server.node_exporter}/metrics", timeout)
        except BoltError:
            return None
        return failed_step(body) if status == 200 else None

    if not specs:
        return {}
    outcomes = run_all({s.name: (lambda s=s: ask(s)) for s in specs}, timeout + 1)
    return {name: o.value for name, o in outcomes.items() if o.ok and o.value}


def boot_failed_message(name: str, step: str) -> str:
    return (f"{name}: its boot script FAILED at step {step} (node exporter's neo4j_cluster_boot_failed); read "
            f"/var/lib/neo4j-cluster/boot-status and /var/log/cloud-init-output.log on it")
