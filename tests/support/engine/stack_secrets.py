"""The secrets the engine tests give dev and prod (with `pulumi config set --secret` semantics, engine_stack's
`secrets=`): test values only, shared by tests/engine/test_engine_aws_stacks.py and test_engine_rollout_scale.py."""
from __future__ import annotations

BASE = {"neo4j:adminPassword": "engine-test-admin-1", "neo4j:grafanaAdminPassword": "engine-test-grafana-1"}
SECRETS = {
    "dev": {**BASE, "neo4j:userPasswords": '{"analyst": "engine-test-analyst-1"}'},
    "prod": {**BASE, "neo4j:userPasswords": '{"analyst": "engine-test-analyst-1", "scientist": "engine-test-sci-1"}',
             "neo4j:aliasPasswords": '{"library.partner": "engine-test-partner-1"}',
             # Any base64 stands in for the keystore here: the stand-in providers store it and nothing reads it.
             "neo4j:aliasKeystore": "ZW5naW5lLXRlc3Qta2V5c3RvcmU=", "neo4j:aliasKeystorePassword": "engine-test-ks-1"},
}
