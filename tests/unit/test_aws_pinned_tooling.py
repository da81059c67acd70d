"""What runs as root is pinned (issue 26, item 4), in the offline plan of every AWS stack: the deploy puts the
sha256 of each object root runs or loads (the backup tooling archive, haproxy.cfg) in an instance tag of the
machines that fetch it, where only the deploy can write (no machine role may ec2:CreateTags; a tag changes in
place, replacing nothing), with instance metadata tags on so the scripts read it through IMDSv2; and every machine
role carries an explicit Deny on writes under tooling/ (the scripts that check the hash against the downloaded
object are run in tests/unit/test_setup_script.py and tests/unit/test_aws_entry_point_sync.py).

EC2 User Guide, "View tags for your EC2 instances using instance metadata": "If you add or remove an instance tag,
the instance metadata is updated while the instance is running, without needing to stop and then start the
instance." So each `up` that changes an object changes its tag in place, and the scripts read the new hash.

IAM User Guide, "The difference between explicit and implicit denies": "If policies that apply to a request include
an Allow statement and a Deny statement, the Deny statement trumps the Allow statement", so a later grant of
s3:PutObject on the bucket to a machine cannot open tooling/ again.
"""
from __future__ import annotations

import base64
import hashlib
import json

import pytest

from components.aws.machine import TOOLING_WRITE_ACTIONS
from components.aws.user_data import HAPROXY_CONFIG_KEY, HAPROXY_CONFIG_SHA256_TAG
from components.tooling import TOOLING_KEY, TOOLING_PREFIX, TOOLING_SHA256_TAG

INSTANCE = "aws:ec2/instance:Instance"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"


def of_type(plan: dict, resource_type: str) -> dict[str, dict]:
    return {r["name"]: r["inputs"] for r in plan["resources"] if r["type"] == resource_type}


def object_bytes(plan: dict, key: str) -> bytes:
    (inputs,) = [i for i in of_type(plan, OBJECT).values() if i["key"] == key]
    return base64.b64decode(inputs["contentBase64"]) if "contentBase64" in inputs else inputs["content"].encode()


def test_the_backup_server_is_tagged_with_the_sha256_of_the_tooling_archive_it_installs(aws_stack_plan):
    settings, plan = aws_stack_plan
    instances = of_type(plan, INSTANCE)
    tagged = {name: inputs for name, inputs in instances.items() if TOOLING_SHA256_TAG in inputs.get("tags", {})}
    assert len(tagged) == 1 and "BackupBucket" in next(iter(tagged.values()))["tags"], "the backup server alone"
    (inputs,) = tagged.values()
    assert inputs["tags"][TOOLING_SHA256_TAG] == hashlib.sha256(object_bytes(plan, TOOLING_KEY)).hexdigest()
    assert inputs["metadataOptions"]["instanceMetadataTags"] == "enabled"


def test_each_haproxy_node_is_tagged_with_the_sha256_of_the_haproxy_cfg_it_loads(aws_stack_plan):
    settings, plan = aws_stack_plan
    if not settings.haproxy:
        pytest.skip("no HAProxy in this stack")
    tagged = [i for i in of_type(plan, INSTANCE).values() if HAPROXY_CONFIG_SHA256_TAG in i.get("tags", {})]
    assert len(tagged) == 2, "both nodes of the pair"
    expected = hashlib.sha256(object_bytes(plan, HAPROXY_CONFIG_KEY)).hexdigest()
    for inputs in tagged:
        assert inputs["tags"][HAPROXY_CONFIG_SHA256_TAG] == expected
        assert inputs["metadataOptions"]["instanceMetadataTags"] == "enabled"


def test_no_machine_may_write_what_root_runs_and_none_may_tag_instances(aws_stack_plan):
    settings, plan = aws_stack_plan
    assert TOOLING_KEY.startswith(TOOLING_PREFIX) and HAPROXY_CONFIG_KEY.startswith(TOOLING_PREFIX)
    policies = {name: json.loads(inputs["policy"]) for name, inputs in of_type(plan, ROLE_POLICY).items()}
    access = {name: document for name, document in policies.items() if name.endswith("-access")}
    assert {name.removesuffix("-access") for name in access} == set(of_type(plan, INSTANCE))
    for name, document in access.items():
        (deny,) = [s for s in document["Statement"] if s.get("Sid") == "NeverWriteWhatRootRuns"]
        assert deny["Effect"] == "Deny" and "s3:PutObject" in deny["Action"]
        assert set(deny["Action"]) == set(TOOLING_WRITE_ACTIONS)
        resources = deny["Resource"] if isinstance(deny["Resource"], list) else [deny["Resource"]]
        assert resources and all(r.endswith(f"/{TOOLING_PREFIX}*") for r in resources), name
    for name, document in policies.items():
        allowed = [a for s in document["Statement"] if s["Effect"] == "Allow"
                   for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
        assert not [a for a in allowed if a in ("ec2:CreateTags", "ec2:DeleteTags", "ec2:*", "*")], name


def test_every_backup_buckets_policy_denies_writes_under_tooling_with_instance_credentials(aws_stack_plan):
    # Whatever any role policy grants, now or later: the bucket's own explicit Deny, for every request signed with
    # EC2 instance credentials (aws:EC2InstanceSourceVPC is in their request context); the deploy signs with none.
    settings, plan = aws_stack_plan
    policies = of_type(plan, BUCKET_POLICY)
    assert set(policies) == set(of_type(plan, BUCKET))
    for name, inputs in policies.items():
        (deny,) = [s for s in json.loads(inputs["policy"])["Statement"]
                   if s.get("Sid") == "DenyMachinesWritingWhatRootRuns"]
        assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
        assert set(deny["Action"]) == set(TOOLING_WRITE_ACTIONS)
        assert deny["Resource"] == f"arn:aws:mock:::{name}/{TOOLING_PREFIX}*"
        assert deny["Condition"] == {"Null": {"aws:EC2InstanceSourceVPC": "false"}}
