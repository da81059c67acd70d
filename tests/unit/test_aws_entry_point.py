"""The entry point on AWS under the recording mocks (scripts/plan.py as a subprocess, tests/support/plans.py):
an HAProxy pair in two zones behind a Network Load Balancer, haproxy.cfg delivered as an S3 object."""
from __future__ import annotations

import hashlib
import json
import re

import pytest
import yaml

from components.aws.load_balancer import DEREGISTRATION_DELAY, HEALTH_INTERVAL, LISTENERS, TCP_IDLE_TIMEOUT
from components.aws.machine import BACKUP_TAMPERING_ACTIONS, TOOLING_WRITE_ACTIONS
from components.aws.user_data import (
    HAPROXY_CONFIG_KEY,
    HAPROXY_CONFIG_SHA256_TAG,
    HAPROXY_CONFIG_TAG,
    HAPROXY_SYNC_PLACES,
)
from components.ports import PORTS
from components.settings import load_settings
from tests.conftest import stack_config
from tests.support.plans import make_plan
from tests.support.program import run_with_secrets

INSTANCE = "aws:ec2/instance:Instance"
NLB = "aws:lb/loadBalancer:LoadBalancer"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
ATTACHMENT = "aws:lb/targetGroupAttachment:TargetGroupAttachment"
LISTENER = "aws:lb/listener:Listener"
RECORD = "aws:route53/record:Record"
SUBNET = "aws:ec2/subnet:Subnet"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
BUCKET = "aws:s3/bucket:Bucket"
POLICY = "aws:iam/rolePolicy:RolePolicy"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
PAIR = ("cluster-haproxy-1", "cluster-haproxy-2")

VARIANTS = {
    "prod": ("prod", {}),
    "prod-more-replicas": ("prod", {"neo4j:replicaCount": 4}),  # another haproxy.cfg, nothing else for HAProxy
    "public": ("dev", {"neo4j:haproxyPublic": True}),
}


@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    made = {}

    def plan(name):
        if name not in made:
            base, overrides = VARIANTS[name]
            made[name] = make_plan(name, base, {**stack_config(base), **overrides},
                                   tmp_path_factory.mktemp(name) / "out")
        return made[name]

    return plan


def zone_of(plan, subnet_id: str) -> str:
    return {f"{name}-id": inputs["availabilityZone"] for name, inputs in plan.of_type(SUBNET).items()}[subnet_id]


def test_two_haproxy_nodes_in_two_zones_in_private_subnets(plans):
    plan = plans("prod")
    instances = plan.of_type(INSTANCE)
    assert "cluster-haproxy" not in instances  # the single node is gone
    zones = [zone_of(plan, instances[name]["subnetId"]) for name in PAIR]
    assert zones == list(plan.settings.availability_zones[:2]) and len(set(zones)) == 2
    assert all("-private-" in instances[name]["subnetId"] for name in PAIR)
    assert all(instances[name]["associatePublicIpAddress"] is False for name in PAIR)
    records = plan.of_type(RECORD)
    assert [records[name]["name"] for name in PAIR] == [f"haproxy-{i}.{plan.topology.domain}" for i in (1, 2)]


def test_an_internal_nlb_across_the_pairs_zones_forwards_each_bolt_port_to_both_nodes(plans):
    plan = plans("prod")
    [(name, balancer)] = plan.of_type(NLB).items()
    assert balancer["loadBalancerType"] == "network" and balancer["internal"] is True
    assert balancer["enableCrossZoneLoadBalancing"] is True
    assert [zone_of(plan, s) for s in balancer["subnets"]] == list(plan.settings.availability_zones[:2])
    assert all("-private-" in s for s in balancer["subnets"])
    assert balancer["securityGroups"] == ["cluster-entry-id"]
    groups, listeners = plan.of_type(TARGET_GROUP), plan.of_type(LISTENER)
    assert sorted(int(lst["port"]) for lst in listeners.values()) == [PORTS.haproxy.bolt_write, PORTS.haproxy.bolt_read]
    for listener in LISTENERS:
        group = groups[f"cluster-{listener.name}"]
        assert (group["protocol"], int(group["port"]), group["targetType"]) == ("TCP", listener.port, "instance")
        check = group["healthCheck"]
        # HAProxy's own health frontend: 200 only while this node has a server for this port.
        assert (check["protocol"], check["port"], check["path"], check["matcher"]) == \
            ("HTTP", str(PORTS.haproxy.health), listener.health_path, "200")
        assert int(check["interval"]) == HEALTH_INTERVAL
        assert group["deregistrationDelay"] == str(DEREGISTRATION_DELAY) and group["connectionTermination"] is True
        front = listeners[f"cluster-{listener.name}"]
        assert front["protocol"] == "TCP" and int(front["port"]) == listener.port
        assert int(front["tcpIdleTimeoutSeconds"]) == TCP_IDLE_TIMEOUT  # pooled Bolt connections idle long
        assert front["defaultActions"] == [{"type": "forward",
                                            "targetGroupArn": f"arn:aws:mock:::cluster-{listener.name}"}]
        attached = {inputs["targetId"]: int(inputs["port"]) for key, inputs in plan.of_type(ATTACHMENT).items()
                    if key.startswith(f"cluster-{listener.name}-")}
        assert attached == {f"{name}-id": listener.port for name in PAIR}


def test_the_name_clients_use_is_an_alias_of_the_nlb_and_the_outputs_keep_it(plans):
    plan = plans("prod")
    record = plan.of_type(RECORD)["cluster-haproxy"]
    assert record["name"] == f"haproxy.{plan.topology.domain}" and record["type"] == "A"
    assert "records" not in record and "ttl" not in record
    assert record["aliases"] == [{"name": "cluster-nlb-0123456789.elb.mock.example", "zoneId": "ZMOCKELB0123456",
                                  "evaluateTargetHealth": True}]
    outputs = plan.document["outputs"]
    assert outputs["haproxyUri"] == f"bolt://haproxy.{plan.topology.domain}:{PORTS.haproxy.bolt_write}"
    assert outputs["haproxyReadUri"] == f"bolt://haproxy.{plan.topology.domain}:{PORTS.haproxy.bolt_read}"


def test_public_means_an_internet_facing_nlb_in_public_subnets_and_its_dns_name_as_the_address(plans):
    plan = plans("public")
    [balancer] = plan.of_type(NLB).values()
    assert balancer["internal"] is False and all("-public-" in s for s in balancer["subnets"])
    assert not plan.of_type("aws:ec2/eip:Eip").get("cluster-haproxy")  # no Elastic IP any more
    assert all("-private-" in plan.of_type(INSTANCE)[name]["subnetId"] for name in PAIR)  # nodes stay private
    assert plan.document["outputs"]["haproxyUri"] == "bolt://cluster-nlb-0123456789.elb.mock.example:7687"


def test_clients_reach_the_nlb_the_nlb_reaches_haproxy_and_haproxy_the_servers(plans):
    plan = plans("prod")
    ingress = {(r["group"], r["port"], r["peer"]) for r in plan.rules(INGRESS)}
    clients = set(plan.settings.client_cidrs or (plan.settings.vpc_cidr,))
    bolt = (PORTS.haproxy.bolt_write, PORTS.haproxy.bolt_read)
    assert {(g, p, peer) for g, p, peer in ingress if g == "entry"} == {("entry", p, c) for p in bolt for c in clients}
    from_entry = {(p, peer) for g, p, peer in ingress
                  if g == "haproxy" and p not in (PORTS.haproxy.stats, PORTS.server.node_exporter)}  # Prometheus's
    assert from_entry == {(p, "entry") for p in (*bolt, PORTS.haproxy.health)}  # no client reaches a node directly
    assert ("neo4j", PORTS.server.bolt, "haproxy") in ingress
    # The NLB's group sends only to the nodes (no internet egress).
    assert {(r["port"], r["peer"]) for r in plan.rules(EGRESS) if r["group"] == "entry"} == \
        {(p, "haproxy") for p in (*bolt, PORTS.haproxy.health)}


def test_the_config_is_one_s3_object_each_node_may_read_and_nothing_else_in_the_bucket(plans):
    plan = plans("prod")
    assert set(plan.of_type(OBJECT)) == {"cluster-tooling", "cluster-haproxy-cfg"}
    config = plan.of_type(OBJECT)["cluster-haproxy-cfg"]
    assert config["key"] == HAPROXY_CONFIG_KEY and config["key"].startswith("tooling/")
    assert config["content"] == (plan.out / "haproxy" / "haproxy.cfg").read_text()
    # Besides its one Allow, each node carries the Denies every machine role gets (components/aws/machine.py):
    # nothing may tamper with the backup buckets or write what root runs, and it is granted nothing else there.
    buckets = sorted(f"arn:aws:mock:::{name}" for name in plan.of_type(BUCKET))
    assert buckets == ["arn:aws:mock:::cluster-backups", "arn:aws:mock:::cluster-backups-replica"]
    denies = [{"Sid": "NeverTamperWithBackups", "Effect": "Deny", "Action": list(BACKUP_TAMPERING_ACTIONS),
               "Resource": buckets + [f"{arn}/*" for arn in buckets]},
              {"Sid": "NeverWriteWhatRootRuns", "Effect": "Deny", "Action": list(TOOLING_WRITE_ACTIONS),
               "Resource": [f"{arn}/tooling/*" for arn in buckets]}]
    for node in PAIR:
        policy = json.loads(plan.of_type(POLICY)[f"{node}-access"]["policy"])
        s3 = [s for s in policy["Statement"] if any(a.startswith("s3:") for a in _actions(s))]
        assert s3 == [{"Sid": "ReadOwnObjects", "Effect": "Allow", "Action": "s3:GetObject",
                       "Resource": [f"arn:aws:mock:::cluster-backups/{HAPROXY_CONFIG_KEY}"]}, *denies]
        tags = plan.of_type(INSTANCE)[node]["tags"]
        assert tags[HAPROXY_CONFIG_TAG] == f"s3://cluster-backups/{HAPROXY_CONFIG_KEY}"
        assert plan.of_type(INSTANCE)[node]["metadataOptions"]["instanceMetadataTags"] == "enabled"


def _actions(statement):
    return [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]


def test_user_data_holds_no_haproxy_cfg_but_the_sync_job_at_different_minutes(plans):
    plan = plans("prod")
    cfg = (plan.out / "haproxy" / "haproxy.cfg").read_text()
    schedules = []
    for node in PAIR:
        text = plan.user_data(node)
        assert text == (plan.out / node.removeprefix("cluster-") / "cloud-init.yaml").read_text()
        assert "frontend bolt_write" not in text and cfg.splitlines()[3] not in text
        document = yaml.safe_load(text)
        assert {f["path"] for f in document["write_files"]} == set(HAPROXY_SYNC_PLACES.values())
        assert "/etc/haproxy/haproxy.cfg" not in {f["path"] for f in document["write_files"]}
        timer = next(f["content"] for f in document["write_files"] if f["path"].endswith(".timer"))
        schedules.append(re.search(r"^OnCalendar=(.*)$", timer, re.M)[1])
    assert schedules == ["*-*-* *:00/2:00", "*-*-* *:01/2:00"]  # never the same minute


def test_a_haproxy_cfg_change_changes_no_instance(plans):
    before, after = plans("prod"), plans("prod-more-replicas")
    assert (before.out / "haproxy" / "haproxy.cfg").read_text() != (after.out / "haproxy" / "haproxy.cfg").read_text()
    for node in PAIR:
        # Only the pinned sha256 tag follows the new config (tags update in place, commit b813be2); all else is equal.
        was, now = dict(before.of_type(INSTANCE)[node]), dict(after.of_type(INSTANCE)[node])
        was_tags, now_tags = was.pop("tags"), now.pop("tags")
        assert was == now, node
        for plan, tags in ((before, was_tags), (after, now_tags)):
            cfg = (plan.out / "haproxy" / "haproxy.cfg").read_bytes()
            assert tags[HAPROXY_CONFIG_SHA256_TAG] == hashlib.sha256(cfg).hexdigest(), node
        assert {k: v for k, v in was_tags.items() if k != HAPROXY_CONFIG_SHA256_TAG} == \
            {k: v for k, v in now_tags.items() if k != HAPROXY_CONFIG_SHA256_TAG}, node
    assert before.of_type(OBJECT)["cluster-haproxy-cfg"] != after.of_type(OBJECT)["cluster-haproxy-cfg"]


def test_the_pair_holds_back_its_user_data_until_the_rollout_releases_one_node(tmp_path):
    result = run_with_secrets(tmp_path, "t", {**stack_config("dev"), "neo4j:rolloutRelease": ["haproxy-2"]}, {})
    assert result.returncode == 0, result.stderr
    held = set(result.options_of(INSTANCE, "cluster-haproxy-1")["ignoreChanges"])
    assert {"userDataBase64", "ami", "instanceType", "subnetId"} <= held
    assert result.options_of(INSTANCE, "cluster-haproxy-2")["ignoreChanges"] == []
    assert all(result.of_type(INSTANCE)[name]["userDataReplaceOnChange"] is True for name in PAIR)


def test_a_single_zone_stack_with_haproxy_is_refused_by_name():
    config = {**stack_config("dev"), "neo4j:availabilityZones": ["eu-west-1a"]}
    with pytest.raises(Exception, match=r"neo4j:availabilityZones: got only eu-west-1a; the HAProxy pair needs two"):
        load_settings("dev", config)
    load_settings("dev", {**config, "neo4j:haproxy": False})  # without HAProxy one zone is allowed
