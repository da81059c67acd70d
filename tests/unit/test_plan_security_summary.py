"""make plan shows issue 26's acceptance on the plan itself: Bolt TLS required with no neo4j:tls key in the
prod stack file, and no secondary whose role may read the admin password (read from the plan's own policies)."""
from __future__ import annotations

import json

from scripts.neo4j_ops.plan.summary import secret_reader_lines, secret_readers, summary
from tests.conftest import ROOT, stack_config
from tests.support.plans import make_plan


def test_prod_plan_says_tls_required_and_that_no_secondary_reads_the_admin_password(tmp_path):
    assert "neo4j:tls" not in stack_config("prod")  # the default, not a key of the stack file
    plan = make_plan("prod", "prod", stack_config("prod"), tmp_path / "out")
    text = summary(plan.settings, plan.topology, plan.rendered, plan.document, plan.out)
    assert "TLS: required (neo4j:tls)" in text
    # The first primary alone (it creates the job users); the others write the admin's hash (admin-auth).
    assert f"  admin password: {plan.topology.primaries[0].name}; no secondary" in text
    readers = secret_readers(plan.document)
    assert {s.name for s in plan.topology.secondaries} <= set(readers)
    assert (ROOT / "Pulumi.prod.yaml").exists()


def policy(name: str, *secrets: str) -> dict:
    statement = {"Sid": "ReadOwnSecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                 "Resource": [f"arn:aws:mock:::cluster-{s}" for s in secrets]}
    return {"type": "aws:iam/rolePolicy:RolePolicy", "name": f"cluster-{name}-access",
            "inputs": {"policy": json.dumps({"Statement": [statement]})}}


def test_a_secondary_that_may_read_the_admin_password_is_a_warning():
    document = {"resources": [policy("core-1", "admin-password", "tls-core-1"),
                              policy("replica-1", "admin-password", "tls-replica-1")]}
    assert secret_readers(document) == {"core-1": ["admin-password", "tls-core-1"],
                                        "replica-1": ["admin-password", "tls-replica-1"]}
    assert secret_reader_lines(document, ["replica-1"])[-1] == \
        "  admin password: core-1, replica-1; WARNING: secondaries replica-1 read it"
