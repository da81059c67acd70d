"""The recorded scaling scenarios (tests/fixtures/enterprise/scaling/, DERIVED by derive.py there) as a
stand-in transport, shared by tests/unit/test_scaling_cli.py and tests/engine/test_engine_rollout_scale.py."""
from __future__ import annotations

from scripts.neo4j_ops.recorded import RecordedTransport, load_scenario
from tests.conftest import ENTERPRISE


def transport(scenario: str, version: str, edition: str = "enterprise") -> RecordedTransport:
    """A RecordedTransport replaying `scenario`, its core-1 answering dbms.components() as Neo4j `version` of
    `edition`."""
    document = load_scenario(ENTERPRISE / "scaling" / scenario)
    document["endpoints"]["core-1"]["responses"]["components"] = {
        "records": [{"name": "Neo4j Kernel", "versions": [version], "edition": edition}]}
    return RecordedTransport(document)
