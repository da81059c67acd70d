"""The boot rehearsal's AWS stand-in (tests/support/rehearsal/aws_standin.py) enforces each machine's instance role:
seeded as for the rehearsed stack, the role made from the plan's own role policies and assumed, then every request
checked by moto's IAM enforcement (with the stand-in's two corrections). Run here against moto's server on
127.0.0.1 (no TLS, no machine): what the rehearsal's machines are allowed and refused, in seconds.

AWS rules relied on (IAM User Guide, "The difference between explicit and implicit denies": "Because an IAM
principal is denied access by default, they must be explicitly allowed to perform an action", "the Deny statement
trumps the Allow statement"; S3 API Reference, HeadBucket: "you must have permissions to perform the s3:ListBucket
action"; Service Authorization Reference, Secrets Manager: GetSecretValue's resource type is "Secret").
"""
from __future__ import annotations

import json

import pytest

from tests.support.moto_aws import moto_server
from tests.support.rehearsal.aws_standin import (
    iam_enforced,
    instance_role_credentials,
    seed_resources,
    stand_in_policy,
)
from tests.support.rehearsal.haproxy_node import rendered_node
from tests.support.rehearsal.user_data import RenderedMachine, rendered_server


def _role(rendered: RenderedMachine, session: str) -> dict:
    return {"name": rendered.instance_role, "assume_role_policy": rendered.assume_role_policy, "session": session,
            "policies": [{"name": p.name, "document": p.document} for p in rendered.role_policies]}


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    """moto's server seeded as the rehearsal seeds its AWS stand-in, with core-1's and haproxy-1's roles assumed:
    (server rendered, node rendered, endpoint, {machine: credentials})."""
    server, node = rendered_server(), rendered_node()
    work = tmp_path_factory.mktemp("aws-standin")
    objects = []
    for index, entry in enumerate(server.objects):
        path = work / f"object-{index}"
        path.write_bytes(entry.content)
        objects.append({"bucket": entry.bucket, "key": entry.key, "file": str(path)})
    seed = {"region": server.region, "secrets": {s.name: f"value of {s.name}" for s in server.secrets},
            "objects": objects, "arns": [{"arn": a.arn, "kind": a.kind, "name": a.name} for a in server.planned_arns]}
    with moto_server() as endpoint:
        arns = seed_resources(endpoint, False, seed)
        credentials = {m.instance: instance_role_credentials(endpoint, False, _role(m, f"i-{m.instance}"), arns)
                       for m in (server, node)}
        yield server, node, endpoint, credentials


def _client(standin, machine: str, service: str):
    import boto3

    server, _, endpoint, credentials = standin
    given = credentials[machine]
    return boto3.client(service, endpoint_url=endpoint, region_name=server.region,
                        aws_access_key_id=given["AccessKeyId"], aws_secret_access_key=given["SecretAccessKey"],
                        aws_session_token=given["Token"])


def _refused(call) -> str:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as refused:
        call()
    return json.dumps(refused.value.response.get("Error", {})) + str(refused.value)


def test_role_policies_are_the_plans_documents_with_only_the_arns_replaced(standin):
    server, node, _, _ = standin
    assert sorted(p.name for p in server.role_policies) == ["cluster-core-1-access", "cluster-core-1-ssm"]
    assert sorted(p.name for p in node.role_policies) == ["cluster-haproxy-1-access", "cluster-haproxy-1-ssm"]
    arns = {a.arn.removeprefix("arn:aws:mock:::"): f"arn:test:::{a.name}" for a in server.planned_arns}
    for policy in server.role_policies:
        placed = json.loads(stand_in_policy(policy.document, arns))
        assert "arn:aws:mock" not in json.dumps(placed)
        # Statements, effects, actions and conditions' keys are the plan's; only resources' names differ.
        original = json.loads(policy.document)
        assert [(s["Sid"], s["Effect"], s["Action"]) for s in placed["Statement"]] == [
            (s["Sid"], s["Effect"], s["Action"]) for s in original["Statement"]]
    with pytest.raises(RuntimeError, match="does not hold"):
        stand_in_policy('{"Resource": "arn:aws:mock:::not-in-the-stand-in"}', arns)


def test_server_role_reads_its_own_secrets_and_is_refused_the_nodes(standin):
    secrets = {s.kind: s.name for s in standin[0].secrets}
    with iam_enforced():
        client = _client(standin, "cluster-core-1", "secretsmanager")
        assert client.get_secret_value(SecretId=secrets["admin-password"])["SecretString"].startswith("value of")
        assert client.get_secret_value(SecretId=secrets["tls-server"])["SecretString"].startswith("value of")
        for kind in ("tls-entry", "tls-ca"):
            error = _refused(lambda kind=kind: client.get_secret_value(SecretId=secrets[kind]))
            assert "AccessDenied" in error and "assumed-role/cluster-core-1-role/i-cluster-core-1" in error, error


def test_node_role_reads_the_ca_and_entry_secrets_and_its_config_only(standin):
    server = standin[0]
    secrets = {s.kind: s.name for s in server.secrets}
    bucket = server.tags["BackupBucket"]
    keys = {o.key for o in server.objects}
    (config,) = [k for k in keys if k.endswith("haproxy.cfg")]
    (tooling,) = [k for k in keys if k.endswith(".tar.gz")]
    with iam_enforced():
        client = _client(standin, "cluster-haproxy-1", "secretsmanager")
        for kind in ("tls-ca", "tls-entry"):
            assert client.get_secret_value(SecretId=secrets[kind])["SecretString"].startswith("value of")
        assert "AccessDenied" in _refused(lambda: client.get_secret_value(SecretId=secrets["admin-password"]))
        s3 = _client(standin, "cluster-haproxy-1", "s3")
        assert s3.get_object(Bucket=bucket, Key=config)["Body"].read()
        assert s3.head_object(Bucket=bucket, Key=config)["ContentLength"] > 0
        assert "AccessDenied" in _refused(lambda: s3.get_object(Bucket=bucket, Key=tooling))


def test_server_role_backs_up_under_its_prefix_and_never_deletes_or_writes_what_root_runs(standin):
    server = standin[0]
    bucket = server.tags["BackupBucket"]
    (tooling,) = [o.key for o in server.objects if o.key.endswith(".tar.gz")]
    key = f"{server.stack}/neo4j/probe.backup"
    with iam_enforced():
        s3 = _client(standin, "cluster-core-1", "s3")
        s3.head_bucket(Bucket=bucket)  # the backup job's check_bucket: s3:ListBucket, as on AWS
        s3.put_object(Bucket=bucket, Key=key, Body=b"backup")
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == 6
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"{server.stack}/")["Contents"]] == [key]
        assert s3.get_object(Bucket=bucket, Key=tooling)["Body"].read()
        # The explicit Denies win over the prefix's Allow: no delete, no write where root's tooling lives.
        assert "AccessDenied" in _refused(lambda: s3.delete_object(Bucket=bucket, Key=key))
        assert "AccessDenied" in _refused(lambda: s3.put_object(Bucket=bucket, Key=tooling, Body=b"x"))
        assert "AccessDenied" in _refused(lambda: s3.put_object(Bucket=bucket, Key="other/x", Body=b"x"))
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == 6
