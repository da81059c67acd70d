"""The AWS adapter under the recording mocks: scripts/plan.py run as a subprocess per stack variant
(Pulumi's mocks are process-global), with assertions on its plan.json."""
from __future__ import annotations

import base64
import gzip
import json
import re
from collections import Counter
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.aws.egress import interface_services
from components.aws.secret_names import secret_names
from components.aws.servers import FABRIC_DATA_VOLUME_GB
from components.job_users import job_passwords_read_by, job_users
from components.outputs import StackOutputs, wire_name
from components.ports import PORTS
from components.render import alias_keystore
from scripts.neo4j_ops.plan.document import PLACEHOLDER_SECRET
from tests.conftest import stack_config
from tests.support.plans import Plan, commands_target, make_plan
from tests.support.program import run_with_secrets

INSTANCE = "aws:ec2/instance:Instance"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
GROUP = "aws:ec2/securityGroup:SecurityGroup"
SUBNET = "aws:ec2/subnet:Subnet"
NAT = "aws:ec2/natGateway:NatGateway"
ROUTE = "aws:ec2/route:Route"
POLICY = "aws:iam/rolePolicy:RolePolicy"
RECORD = "aws:route53/record:Record"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
BUCKET = "aws:s3/bucket:Bucket"
VOLUME = "aws:ebs/volume:Volume"
ATTACHMENT = "aws:ec2/volumeAttachment:VolumeAttachment"
NEO4J_PORTS = {5000, 6000, 7000, 7688, 6362, 7687, 7474, 7473, 2004, 9100}
CLUSTER_PORTS = {5000, 6000, 7000, 7688, 6362}

# Variants of the real stacks, each changing what decides the resource set.
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "prod": ("prod", {}),
    "dev": ("dev", {}),
    "prod-more-replicas": ("prod", {"neo4j:replicaCount": 4}),
    # Day two: a bigger disk, a bigger primary type and a new patch release (new user data everywhere).
    "prod-day-two": ("prod", {"neo4j:dataVolumeSizeGb": 400, "neo4j:coreInstanceType": "r6i.4xlarge",
                              "neo4j:version": "5.26.31"}),
    "public-replicated": ("dev", {"neo4j:tls": "disabled", "neo4j:haproxyPublic": True,
                                  "neo4j:backupReplicaRegion": "eu-central-1", "neo4j:natGatewayPerZone": False}),
    # Community and 4.4 take no differential backups: dev's neo4j:backupDiffSchedule is refused there (None: drop it).
    "bare": ("dev", {"neo4j:edition": "community", "neo4j:coreCount": 1, "neo4j:replicaCount": 0,
                     "neo4j:haproxy": False, "neo4j:monitoring": False, "neo4j:amiId": "ami-0abc1234def567890",
                     "neo4j:backupDiffSchedule": None}),
    "open-44-arm": ("dev", {"neo4j:version": "4.4.46", "neo4j:coreInstanceType": "r6g.xlarge",
                            "neo4j:replicaInstanceType": "r6g.xlarge",
                            "neo4j:clientCidrs": ["0.0.0.0/0", "2001:db8::/32"], "neo4j:allowWorldAccess": True,
                            "neo4j:tls": "required", "neo4j:backupDiffSchedule": None}),
    # 4.4 with its composite served by two Fabric proxies (standalone machines beside the cluster).
    "fabric-44": ("prod", {"neo4j:version": "4.4.46", "neo4j:databases": [{"name": "books"}],
                           "neo4j:composites": [{"name": "library", "aliases": [
                               {"name": "books", "database": "books"}, {"name": "main", "database": "neo4j"}]}],
                           "neo4j:fabricProxyCount": 2, "neo4j:plugins": ["apoc-core", "graph-data-science"]}),
}


def make_variant(name: str, out: Path) -> Plan:
    base, overrides = VARIANTS[name]
    config = {key: value for key, value in {**stack_config(base), **overrides}.items() if value is not None}
    return make_plan(name, base, config, out)


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> dict[str, Plan]:
    cache: dict[str, Plan] = {}

    class Plans(dict):
        def __missing__(self, name: str) -> Plan:
            cache[name] = make_variant(name, tmp_path_factory.mktemp(name) / "out")
            self[name] = cache[name]
            return cache[name]

    return Plans()


@pytest.fixture(params=sorted(VARIANTS))
def plan(request, plans) -> Plan:
    return plans[request.param]


# --- resource counts -------------------------------------------------------------------------------


def expected_counts(p: Plan) -> dict[str, int]:
    """What each component should hold, counted from the settings the way a reviewer would."""
    s, t = p.settings, p.topology
    zones, servers, proxies = len(s.availability_zones), len(t.servers), len(t.fabric_proxies)
    nats = zones if s.nat_gateway_per_zone else 1
    tls = s.tls != "disabled"
    # With TLS: the CA, each server's and Fabric proxy's certificate and Grafana's.
    secrets = 1 + s.monitoring + bool(s.users) + (1 + servers + proxies + s.monitoring if tls else 0)
    secrets += s.core_count > 1  # the admin's auth.ini line, for the primaries but the first (job_users.py)
    secrets += len(job_users(s, t))  # one password per job user (components/job_users.py)
    entry = s.tls == "required" and s.haproxy  # HAProxy ends TLS with the entry certificate (render.py)
    secrets += entry
    secrets += alias_keystore(s) is not None  # remote aliases' keystore (render.alias_keystore), every server reads
    pair = len(t.haproxy_nodes)
    buckets = 2 if s.backup_replica_region else 1
    counts = {
        # vpc, default group, igw, public route table + route, S3 endpoint and its policy, DNS zone; per zone two
        # subnets, a private route table, two routes' worth of tables/associations; per NAT an EIP.
        # neo4j:egress endpoints adds an interface endpoint per AWS API the machines call (components/aws/egress.py)
        "neo4j-cluster:aws:Network": 8 + 6 * zones + 2 * nats + len(interface_services(s.egress)),
        # per server: role, SSM attachment, access policy, instance profile, instance, A record, data
        # volume and its attachment
        "neo4j-cluster:aws:Neo4jServers": 8 * servers,
        "neo4j-cluster:aws:ClusterSecrets": 2 * secrets,
        # per bucket: bucket, versioning, Object Lock, encryption, public access block, ownership, policy,
        # lifecycle; the backup tooling archive; replication adds a role, its policy and the config
        "neo4j-cluster:aws:BackupStore": 8 * buckets + 1 + (3 if buckets == 2 else 0),
        # session logging: its log group and session document
        "neo4j-cluster:aws:SessionLogging": 2,
        # KMS keys (keys.py): backups and secrets, and the replica's in its region; each with an alias and a policy
        "neo4j-cluster:aws:EncryptionKeys": 3 * (2 + (buckets == 2)),
        # the provider and one per component
        "(stack)": 1 + 7 + tls + s.haproxy + s.monitoring + bool(proxies),
    }
    if tls:
        counts["neo4j-cluster:tls:ClusterCertificates"] = 2 + 3 * (servers + proxies + s.monitoring + entry)
    if proxies:
        counts["neo4j-cluster:aws:FabricProxies"] = 8 * proxies  # a server's 8 each (4.4's Fabric proxies)
    if s.haproxy:
        # per HAProxy node: role, SSM attachment, access policy (its config object), instance profile, instance,
        # A record; the config object, the NLB and its alias record; per Bolt port a target group, a listener and
        # one attachment per node
        counts["neo4j-cluster:aws:LoadBalancer"] = 6 * pair + 3 + 2 * (2 + pair)
    if s.monitoring:
        counts["neo4j-cluster:aws:Monitoring"] = 8  # a machine's 6, Prometheus's data volume and its attachment
    return counts


def test_every_component_holds_the_resources_its_settings_call_for(plan):
    counts = plan.by_parent()
    groups = counts.pop("neo4j-cluster:aws:SecurityGroups")
    assert counts == expected_counts(plan)
    assert groups == len(plan.of_type(GROUP)) + len(plan.of_type(INGRESS)) + len(plan.of_type(EGRESS))


def test_prod_resource_count_per_component(plans):
    # Pinned, so a change in what prod builds shows up in review (see expected_counts for the why).
    assert dict(plans["prod"].by_parent()) == {
        # SecurityGroups 48: the HAProxy group's HTTPS to the Snap Store (the AWS CLI on Ubuntu 24.04) since 24.04;
        # 50: node exporter on the HAProxy pair (its ingress from monitoring and monitoring's egress to it)
        "(stack)": 11, "neo4j-cluster:aws:Network": 38, "neo4j-cluster:aws:SecurityGroups": 50,
        "neo4j-cluster:tls:ClusterCertificates": 29, "neo4j-cluster:aws:ClusterSecrets": 36,
        "neo4j-cluster:aws:BackupStore": 20, "neo4j-cluster:aws:Neo4jServers": 56,
        "neo4j-cluster:aws:LoadBalancer": 23, "neo4j-cluster:aws:Monitoring": 8,
        "neo4j-cluster:aws:SessionLogging": 2, "neo4j-cluster:aws:EncryptionKeys": 9}


def test_components_use_the_documented_type_tokens_and_child_names(plan):
    components = {r["type"] for r in plan.resources if r["type"].startswith("neo4j-cluster:aws:")}
    assert components <= {f"neo4j-cluster:aws:{t}" for t in ("Network", "SecurityGroups", "ClusterSecrets",
                                                            "BackupStore", "Neo4jServers", "LoadBalancer",
                                                            "Monitoring", "SessionLogging", "EncryptionKeys",
                                                            "FabricProxies")}
    children = [r for r in plan.resources if r["parent"].startswith("neo4j-cluster:aws:")]
    assert all(r["name"].startswith(r["parent"].split("::")[1] + "-") for r in children)


# --- security groups -------------------------------------------------------------------------------


def test_cluster_ports_are_open_only_from_the_cluster_group(plan):
    cluster = [r for r in plan.rules(INGRESS) if r["port"] in CLUSTER_PORTS]
    assert bool(cluster) == plan.settings.clustered
    assert all(r["group"] == "neo4j" and r["peer"] == "neo4j" for r in cluster)


def test_neo4j_ports_take_no_cidr_but_the_configured_clients(plan):
    allowed = set(plan.settings.client_cidrs or (plan.settings.vpc_cidr,))
    for rule in plan.rules(INGRESS):
        if rule["group"] == "neo4j" and "/" in rule["peer"]:
            assert rule["peer"] in allowed and rule["port"] in {7687, 7474, 7473}, rule


def test_nothing_is_open_to_the_internet_unless_a_client_cidr_says_so(plan):
    opened = [r for r in plan.rules(INGRESS) if r["peer"] == "0.0.0.0/0"]
    if "0.0.0.0/0" not in plan.settings.client_cidrs:
        assert opened == []
    else:
        assert {(r["group"], r["port"]) for r in opened} <= {("neo4j", p) for p in (7687, 7474, 7473)} | {
            ("entry", 7687), ("entry", 7689)}  # the HAProxy pair's load balancer


def test_metrics_only_from_monitoring_and_haproxy_bolt_only_from_clients(plan):
    clients = set(plan.settings.client_cidrs or (plan.settings.vpc_cidr,))
    for rule in plan.rules(INGRESS):
        if rule["group"] == "neo4j" and rule["port"] in (2004, 9100):
            assert rule["peer"] == "monitoring"
        if rule["group"] == "entry":  # the load balancer in front of the HAProxy pair
            assert rule["port"] in (7687, 7689) and rule["peer"] in clients
        if rule["group"] == "haproxy" and rule["port"] in (7687, 7689, 8405):
            assert rule["peer"] == "entry"
        if rule["group"] == "monitoring" or (rule["group"], rule["port"]) == ("haproxy", 8404):
            assert rule["peer"] in set(plan.settings.admin_cidrs) | {"monitoring"}


def test_haproxy_reaches_every_port_its_rendered_config_uses(plan):
    if not plan.settings.haproxy:
        return
    config = (plan.out / "haproxy" / "haproxy.cfg").read_text()
    used = {int(port) for port in re.findall(r"check port (\d+)", config)} | {PORTS.server.bolt}
    assert used <= {r["port"] for r in plan.rules(INGRESS) if (r["group"], r["peer"]) == ("neo4j", "haproxy")}
    binds = {int(port) for port in re.findall(r"^\s*bind :(\d+)", config, re.M)}
    node_exporter = {PORTS.server.node_exporter} if plan.topology.monitoring else set()  # not HAProxy's: the node's
    assert binds | node_exporter == {r["port"] for r in plan.rules(INGRESS) if r["group"] == "haproxy"}


def test_prod_opens_exactly_these_ingress_rules(plans):
    got = sorted((r["group"], r["port"], r["peer"]) for r in plans["prod"].rules(INGRESS))
    cluster = [("neo4j", p, "neo4j") for p in (6000, 7000, 7688, 6362)]
    # HTTPS serves the cluster status endpoints HAProxy checks: HAProxy's alone, not the clients' range.
    endpoints = [("neo4j", 7687, "haproxy"), ("neo4j", 7687, "10.0.0.0/8"), ("neo4j", 7473, "haproxy")]
    assert got == sorted(cluster + endpoints + [
        ("neo4j", 2004, "monitoring"), ("neo4j", 9100, "monitoring"),
        ("entry", 7687, "10.0.0.0/8"), ("entry", 7689, "10.0.0.0/8"),
        ("haproxy", 7687, "entry"), ("haproxy", 7689, "entry"), ("haproxy", 8405, "entry"),
        ("haproxy", 8404, "monitoring"),  # the stats page answers on the node itself only
        ("haproxy", 9100, "monitoring"),  # node exporter on the pair too
        ("monitoring", 3000, "10.10.0.0/16"),  # Prometheus: the node's loopback only, behind Grafana
        # neo4j:egress endpoints: the interface endpoints take HTTPS from the machines' groups (test_aws_egress.py)
        ("endpoints", 443, "neo4j"), ("endpoints", 443, "haproxy"), ("endpoints", 443, "monitoring")])


def test_ipv6_client_ranges_become_ipv6_rules(plans):
    rules = plans["open-44-arm"].of_type(INGRESS).values()
    ipv6 = sorted((r["fromPort"], r["cidrIpv6"]) for r in rules if r.get("cidrIpv6"))
    # Bolt on the servers and the load balancer; HTTPS (the cluster status endpoints) is HAProxy's alone.
    assert ipv6 == sorted((port, "2001:db8::/32") for port in (7687, 7687, 7689))
    assert not any(":" in (r.get("cidrIpv4") or "") for r in rules)


def test_every_rule_is_one_tcp_port_and_none_is_ssh(plan):
    for kind in (INGRESS, EGRESS):
        for name, rule in plan.of_type(kind).items():
            assert rule["ipProtocol"] == "tcp" and rule["fromPort"] == rule["toPort"], name
            assert int(rule["fromPort"]) != 22, name


def test_group_to_group_ingress_is_matched_by_egress_and_the_rest_goes_out_on_http_s(plan):
    ingress = {(r["peer"], r["port"], r["group"]) for r in plan.rules(INGRESS) if "/" not in r["peer"]}
    egress = [r for r in plan.rules(EGRESS) if r["peer"] is not None]  # None: S3's prefix list (test_aws_egress.py)
    assert {(r["group"], r["port"], r["peer"]) for r in egress if "/" not in r["peer"]} == ingress
    assert {(r["port"], r["peer"]) for r in egress if "/" in r["peer"]} == {(80, "0.0.0.0/0"), (443, "0.0.0.0/0")}


# --- instances -------------------------------------------------------------------------------------


def test_every_instance_requires_imdsv2_and_encrypts_every_volume(plan):
    instances = plan.of_type(INSTANCE)
    assert len(instances) == (len(plan.topology.neo4j_hosts) + len(plan.topology.haproxy_nodes)
                              + plan.settings.monitoring)
    for name, inputs in instances.items():
        assert inputs["metadataOptions"]["httpTokens"] == "required", name
        assert int(inputs["metadataOptions"]["httpPutResponseHopLimit"]) == 1, name
        root = inputs["rootBlockDevice"]
        assert root["encrypted"] is True and root["volumeType"] == "gp3", name
        assert not inputs.get("ebsBlockDevices"), f"{name}: no inline data disk (it would die with the instance)"
        assert "keyName" not in inputs, f"{name}: no SSH key, Session Manager instead"
    for name, inputs in plan.of_type(VOLUME).items():
        assert inputs["encrypted"] is True and inputs["type"] == "gp3", name


def test_each_neo4j_server_has_its_own_data_volume_in_its_zone_attached_to_it(plan):
    instances, volumes, attachments = plan.of_type(INSTANCE), plan.of_type(VOLUME), plan.of_type(ATTACHMENT)
    assert len(volumes) == len(attachments) == len(plan.topology.neo4j_hosts) + plan.settings.monitoring
    for server in plan.topology.neo4j_hosts:
        volume = volumes[f"cluster-{server.name}-data"]
        # A Fabric proxy's holds its own `system` alone (no graph): a small volume of its own.
        assert int(volume["size"]) == (FABRIC_DATA_VOLUME_GB if server.role == "fabric"
                                       else plan.settings.data_volume_size_gb)
        assert volume["availabilityZone"] == server.zone
        assert volume["tags"]["Server"] == server.name
        attachment = attachments[f"cluster-{server.name}-data-attachment"]
        assert attachment["volumeId"] == f"cluster-{server.name}-data-id"  # the mocks' id of that volume
        assert attachment["instanceId"] == f"cluster-{server.name}-id"
        assert attachment["stopInstanceBeforeDetaching"] is True
        # The boot script finds exactly this volume by the id in this tag.
        assert instances[f"cluster-{server.name}"]["tags"]["DataVolumeId"] == f"cluster-{server.name}-data-id"


def test_neo4j_servers_expose_tags_to_imds_and_only_the_backup_server_names_the_bucket(plan):
    backup = f"cluster-{plan.topology.backup_server.name}"
    # Every machine with a data volume reads its id so: the Neo4j servers and the monitoring node.
    servers = {f"cluster-{s.name}" for s in plan.topology.neo4j_hosts} | {"cluster-monitoring"}
    servers |= {f"cluster-{n.name}" for n in plan.topology.haproxy_nodes}  # the HaproxyConfig tag names their config
    buckets = plan.of_type(BUCKET)
    for name, inputs in plan.of_type(INSTANCE).items():
        tags_in_imds = inputs["metadataOptions"]["instanceMetadataTags"] == "enabled"
        assert tags_in_imds == (name in servers), name
        assert ("BackupBucket" in inputs["tags"]) == (name == backup), name
    assert plan.of_type(INSTANCE)[backup]["tags"]["BackupBucket"] in buckets


def test_servers_are_spread_over_the_zones_so_no_zone_holds_a_majority_of_primaries(plan):
    subnets = {f"{name}-id": inputs["availabilityZone"] for name, inputs in plan.of_type(SUBNET).items()
               if "-private-" in name}
    instances = plan.of_type(INSTANCE)
    zones = {s.name: subnets[instances[f"cluster-{s.name}"]["subnetId"]] for s in plan.topology.servers}
    assert zones == {s.name: s.zone for s in plan.topology.servers}
    primaries = Counter(zones[s.name] for s in plan.topology.primaries)
    if len(plan.topology.primaries) >= 3:
        assert max(primaries.values()) <= len(plan.topology.primaries) // 2
    assert set(zones.values()) == set(plan.settings.availability_zones[:len(plan.topology.servers)])


def test_user_data_is_the_rendered_cloud_init_and_holds_no_secret(plan):
    targets = [s.name for s in plan.topology.neo4j_hosts] + [n.name for n in plan.topology.haproxy_nodes] \
        + ["monitoring"] * plan.settings.monitoring
    for target in targets:
        text = plan.user_data(f"cluster-{target}")
        assert text == (plan.out / target / "cloud-init.yaml").read_text()
        assert PLACEHOLDER_SECRET not in text
    assert PLACEHOLDER_SECRET not in plan.text, "a secret value reached plan.json in clear"


def test_every_secret_value_stays_a_pulumi_secret(plan):
    versions = plan.of_type(SECRET_VERSION)
    assert versions and all(v["secretString"] == "[secret]" for v in versions.values())


def test_every_secret_can_be_restored_after_a_deletion_for_the_stacks_recovery_window(plan):
    # Secrets Manager API Reference, DeleteSecret: "The minimum recovery window is 7 days. The default recovery
    # window is 30 days." 0 (deleted at once, nothing to restore) is what a stack must never plan.
    windows = {inputs["recoveryWindowInDays"] for inputs in plan.of_type(SECRET).values()}
    assert windows == {plan.settings.secret_recovery_window_days}
    assert windows <= set(range(7, 31))
    assert plan.settings.secret_recovery_window_days == {"prod": 30, "dev": 7}[VARIANTS[plan.name][0]]


def test_every_machines_gzipped_user_data_fits_ec2s_limit_and_the_backup_job_comes_with_the_tooling(plan):
    from components.aws.machine import USER_DATA_LIMIT
    from components.aws.user_data import SERVER_FILE_PLACES

    sizes = {name.removeprefix("cluster-"): len(base64.b64decode(instance["userDataBase64"]))
             for name, instance in plan.of_type(INSTANCE).items()}
    margins = ", ".join(f"{name} {size} B ({USER_DATA_LIMIT - size} to spare)" for name, size in sorted(sizes.items()))
    assert max(sizes.values()) < USER_DATA_LIMIT, f"over EC2's {USER_DATA_LIMIT} B: {margins}"
    # The backup server's user data holds what fetches the archive, not the job (job/ in the tooling archive).
    backup = plan.user_data(f"cluster-{plan.topology.backup_server.name}")
    assert f"path: {SERVER_FILE_PLACES['backup/refresh-backup-tooling.sh']}" in backup
    assert f"path: {SERVER_FILE_PLACES['backup/neo4j-backup.sh']}" not in backup
    assert "path: /etc/systemd/system/neo4j-backup.service" not in backup


def test_secrets_live_under_the_names_the_user_data_reads(plan):
    names = secret_names(plan.settings, plan.topology)
    created = {inputs["name"] for inputs in plan.of_type(SECRET).values()}
    tls = plan.settings.tls != "disabled"
    expected = {names.admin_password} | ({names.grafana_admin_password} if plan.settings.monitoring else set())
    expected |= ({names.user_passwords} if plan.settings.users else set())
    expected |= ({names.ca, *names.tls.values()} if tls else set())
    expected |= ({names.grafana_tls} if tls and plan.settings.monitoring else set())
    expected |= set(names.job_users.values())
    expected |= {names.admin_auth} if len(plan.topology.primaries) > 1 else set()
    entry = plan.settings.tls == "required" and plan.settings.haproxy
    expected |= {names.entry_tls} if entry else set()
    keystore = alias_keystore(plan.settings) is not None  # a remote alias (prod's library.partner)
    expected |= {names.alias_keystore} if keystore else set()
    assert created == expected
    for server in plan.topology.neo4j_hosts:
        boot = plan.user_data(f"cluster-{server.name}")
        first = server == plan.topology.primaries[0]
        # A 4.4 Fabric proxy sets the admin's password in its own `system` and renews its certificate as the admin.
        assert (names.admin_password in boot) == (first or server.role == "fabric"), server.name
        assert (names.admin_auth in boot) == (server.role == "primary" and not first), server.name
        assert {user for user, name in names.job_users.items() if name in boot} == set(
            job_passwords_read_by(plan.settings, plan.topology, server)), server.name
        assert (names.tls[server.name] in boot) == tls
        assert (names.alias_keystore in boot) == keystore, server.name
    for node in (*plan.topology.haproxy_nodes, *([plan.topology.monitoring] if plan.topology.monitoring else [])):
        assert names.alias_keystore not in plan.user_data(f"cluster-{node.name}"), node.name
    if plan.settings.monitoring:
        assert names.grafana_admin_password in plan.user_data("cluster-monitoring")
        assert (names.grafana_tls in plan.user_data("cluster-monitoring")) == tls
    for node in plan.topology.haproxy_nodes:
        assert (names.ca in plan.user_data(f"cluster-{node.name}")) == (plan.settings.tls == "required")
        assert (names.entry_tls in plan.user_data(f"cluster-{node.name}")) == entry


def actions(statement: dict[str, Any]) -> list[str]:
    return [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]


def policy(plan: Plan, name: str) -> dict[str, Any]:
    return json.loads(plan.of_type(POLICY)[name]["policy"])


def test_each_server_reads_only_its_jobs_passwords_and_its_own_certificate(plan):
    # Issue 26, item 3: a compromised read replica is no cluster admin. Primaries read the admin password (each
    # may bootstrap `system`: set-initial-password); secondaries only the passwords of their jobs' users.
    tls = plan.settings.tls != "disabled"
    enterprise = plan.settings.edition == "enterprise"
    first = plan.topology.primaries[0].name
    for server in plan.topology.servers:
        statements = {s["Sid"]: s for s in policy(plan, f"cluster-{server.name}-access")["Statement"]}
        readable = statements.get("ReadOwnSecrets", {}).get("Resource", [])
        jobs = (["arn:aws:mock:::cluster-neo4j-user-cert-renewal"] if enterprise and tls else []) + (
            ["arn:aws:mock:::cluster-neo4j-user-topology-join"]
            if enterprise and plan.settings.version_line != "4.4" and plan.topology.secondaries
            and (server.role == "secondary" or server.name == first) else []) + (
            ["arn:aws:mock:::cluster-neo4j-user-backup-job"]  # the backup job's user: core-1 runs the job
            if enterprise and server.name == first else [])
        # The admin password: the first primary alone; the other primaries its auth.ini line (a salted hash).
        admin = (["arn:aws:mock:::cluster-admin-password"] if server.name == first else
                 ["arn:aws:mock:::cluster-admin-auth"] if server.role == "primary" else [])
        # Remote aliases: the one keystore every server holds alike.
        keystore = ["arn:aws:mock:::cluster-alias-keystore"] if alias_keystore(plan.settings) else []
        assert readable == admin + jobs + keystore + ([f"arn:aws:mock:::cluster-tls-{server.name}"] if tls else []), \
            server.name
        if readable:
            assert statements["ReadOwnSecrets"]["Action"] == "secretsmanager:GetSecretValue"
    for proxy in plan.topology.fabric_proxies:  # 4.4's: the admin password (its own `system`) and its certificate
        statements = {s["Sid"]: s for s in policy(plan, f"cluster-{proxy.name}-access")["Statement"]}
        assert statements["ReadOwnSecrets"]["Resource"] == ["arn:aws:mock:::cluster-admin-password"] + (
            [f"arn:aws:mock:::cluster-tls-{proxy.name}"] if tls else [])
        assert set(statements) == {"ReadOwnSecrets", "NeverTamperWithBackups", "NeverWriteWhatRootRuns",
                                   "DecryptOwnSecrets"}, proxy.name  # no backup, seed or tooling access


def test_no_replica_reads_the_admin_password(plans):
    # The acceptance line of issue 26: `make plan STACK=prod` shows no replica role that reads the admin password.
    prod = plans["prod"]
    assert prod.topology.secondaries
    for server in prod.topology.secondaries:
        text = json.dumps(policy(prod, f"cluster-{server.name}-access"))
        assert "admin-password" not in text, server.name
        assert "cluster-neo4j-user-topology-join" in text and "cluster-neo4j-user-cert-renewal" in text
        assert "admin-password" not in prod.user_data(f"cluster-{server.name}")


def test_only_the_backup_server_touches_backups_and_only_under_the_stack_prefix(plan):
    backup = f"cluster-{plan.topology.backup_server.name}-access"
    for name in plan.of_type(POLICY):
        if name.endswith("-ssm"):  # Session Manager's own policy (test_every_machine_has_session_manager_…)
            continue
        # What each role may do; the Deny every machine carries is tests/unit/test_backup_lifecycle.py's.
        statements = {s["Sid"]: s for s in policy(plan, name)["Statement"] if s["Effect"] == "Allow"}
        s3 = {sid: s for sid, s in statements.items() if any(a.startswith("s3:") for a in actions(s))}
        if name != backup:
            if name.startswith("cluster-haproxy-"):  # the pair reads its haproxy.cfg, nothing else in the bucket
                assert list(s3) == ["ReadOwnObjects"] and s3["ReadOwnObjects"]["Action"] == "s3:GetObject", name
                assert s3["ReadOwnObjects"]["Resource"] == [
                    "arn:aws:mock:::cluster-backups/tooling/haproxy/haproxy.cfg"]
                continue
            if any(name == f"cluster-{server.name}-access" for server in plan.topology.servers):
                # Every other server only reads (restore --cluster seeds each member from an s3:// URI).
                assert set(s3) == {"ListSeeds", "ReadSeeds"}, name
                assert s3["ListSeeds"]["Action"] == "s3:ListBucket" and s3["ReadSeeds"]["Action"] == "s3:GetObject"
                assert s3["ReadSeeds"]["Resource"] == f"arn:aws:mock:::cluster-backups/{plan.settings.stack}/*"
                continue
            assert not s3 or name.startswith("cluster-backups-replication"), name
            continue
        assert set(s3["ListBackups"]["Action"]) == {"s3:ListBucket", "s3:ListBucketMultipartUploads"}
        assert s3["ListBackups"]["Resource"] == "arn:aws:mock:::cluster-backups"
        assert s3["ReadWriteBackups"]["Resource"] == f"arn:aws:mock:::cluster-backups/{plan.settings.stack}/*"
        assert set(s3["ReadWriteBackups"]["Action"]) == {"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload",
                                                         "s3:ListMultipartUploadParts"}  # the stale-upload abort
        assert not [a for s in s3.values() for a in actions(s) if "Delete" in a], "the lifecycle prunes, not the job"


def test_support_nodes_read_only_what_they_use(plans):
    prod = plans["prod"]  # TLS required: HAProxy checks servers over HTTPS with the CA
    for node in ("haproxy-1", "haproxy-2"):
        reads = {s["Sid"]: s["Resource"] for s in policy(prod, f"cluster-{node}-access")["Statement"]
                 if s["Effect"] == "Allow"}
        # And the two keys those are encrypted under, for exactly those (test_aws_kms_keys.py).
        assert reads == {"ReadOwnSecrets": ["arn:aws:mock:::cluster-tls-ca", "arn:aws:mock:::cluster-tls-entry"],
                         "ReadOwnObjects": ["arn:aws:mock:::cluster-backups/tooling/haproxy/haproxy.cfg"],
                         "DecryptOwnSecrets": "arn:aws:mock:::cluster-secrets-key",
                         "DecryptBackupBucketObjects": "arn:aws:mock:::cluster-backups-key"}
        dev = {s["Sid"] for s in policy(plans["dev"], f"cluster-{node}-access")["Statement"] if s["Effect"] == "Allow"}
        assert dev == set(reads)  # TLS required there too (the default; only the local stack sets optional)
    assert policy(prod, "cluster-monitoring-access")["Statement"][0]["Resource"] == [
        "arn:aws:mock:::cluster-grafana-admin-password", "arn:aws:mock:::cluster-tls-grafana"]


def test_every_machine_has_session_manager_and_a_stable_name(plan):
    # No managed policy at all (AmazonSSMManagedInstanceCore grants ssm:GetParameter* on "*"): Session Manager's own
    # actions, as the Systems Manager User Guide's "Create a custom IAM instance profile for Session Manager" lists
    # them ("ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel",
    # "ssmmessages:OpenDataChannel", "ssm:UpdateInstanceInformation"), and its CloudWatch Logs actions on the
    # stack's session log group.
    assert not plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    (group,) = plan.of_type("aws:cloudwatch/logGroup:LogGroup").values()
    (document,) = plan.of_type("aws:ssm/document:Document").values()
    assert document["documentType"] == "Session"
    inputs = json.loads(document["content"])["inputs"]
    assert inputs["cloudWatchLogGroupName"] == group["name"] and inputs["cloudWatchStreamingEnabled"] is True
    records = plan.of_type(RECORD)
    for name in plan.of_type(INSTANCE):
        statements = {s["Sid"]: s for s in policy(plan, f"{name}-ssm")["Statement"]}
        assert set(statements["SessionManager"]["Action"]) == {
            "ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
            "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"}
        assert statements["WriteSessionLogs"]["Resource"] == ["arn:aws:mock:::cluster-sessions",
                                                               "arn:aws:mock:::cluster-sessions:log-stream:*"]
        every = [a for s in statements.values() for a in actions(s)]
        assert not [a for a in every if a.startswith("ssm:Get") or a.endswith("*")], every
        host = name.removeprefix("cluster-")
        assert records[name]["name"] == f"{host}.{plan.topology.domain}"
        assert records[name]["type"] == "A"


def test_image_is_the_override_when_set(plans):
    images = {i["ami"] for i in plans["bare"].of_type(INSTANCE).values()}
    assert images == {"ami-0abc1234def567890"}


def test_new_user_data_takes_effect_only_on_a_new_instance(plan):
    # Cloud-init reads user data once per instance, so an in-place update would change nothing on the machine.
    # On Neo4j servers ignore_changes holds it back (next test) until the server's rollout step replaces it.
    for name, inputs in plan.of_type(INSTANCE).items():
        assert inputs["userDataReplaceOnChange"] is True, name


# --- network ---------------------------------------------------------------------------------------


def test_vpc_has_dns_hostnames_and_private_dns_zone(plan):
    (vpc,) = plan.of_type("aws:ec2/vpc:Vpc").values()
    assert vpc["enableDnsHostnames"] is True and vpc["cidrBlock"] == plan.settings.vpc_cidr
    (zone,) = plan.of_type("aws:route53/zone:Zone").values()
    assert zone["name"] == plan.topology.domain and zone["vpcs"] == [{"vpcId": "cluster-vpc-id"}]


def test_one_nat_per_zone_or_one_for_all(plans):
    per_zone, single = plans["prod"], plans["public-replicated"]
    assert len(per_zone.of_type(NAT)) == 3
    (nat,) = single.of_type(NAT)
    routes = [r for name, r in single.of_type(ROUTE).items() if name.endswith("-nat")]
    assert len(routes) == 3 and {r["natGatewayId"] for r in routes} == {f"{nat}-id"}


def test_backups_reach_s3_through_a_gateway_endpoint_on_the_private_routes(plan):
    (endpoint,) = [e for e in plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint").values()
                   if e["vpcEndpointType"] == "Gateway"]  # the interface endpoints: test_aws_egress.py
    assert endpoint["serviceName"] == f"com.amazonaws.{plan.settings.region}.s3"
    private_tables = {f"{n}-id" for n in plan.of_type("aws:ec2/routeTable:RouteTable") if "-private-" in n}
    assert set(endpoint["routeTableIds"]) == private_tables


def test_haproxy_is_private_by_default_and_public_on_request(plans):
    # The nodes stay private either way; public means an internet-facing NLB (tests/unit/test_aws_entry_point.py).
    for variant in ("prod", "public-replicated"):
        for node in ("cluster-haproxy-1", "cluster-haproxy-2"):
            private = plans[variant].of_type(INSTANCE)[node]
            assert "-private-" in private["subnetId"] and private["associatePublicIpAddress"] is False
    assert set(plans["prod"].of_type("aws:ec2/eip:Eip")) == {f"cluster-nat-eu-west-1{z}" for z in "abc"}
    public = plans["public-replicated"]
    [balancer] = public.of_type("aws:lb/loadBalancer:LoadBalancer").values()
    assert balancer["internal"] is False and all("-public-" in s for s in balancer["subnets"])
    assert set(public.of_type("aws:ec2/eip:Eip")) == {"cluster-nat-eu-west-1a"}  # no Elastic IP for HAProxy
    assert public.document["outputs"]["boltUri"] == "bolt://cluster-nlb-0123456789.elb.mock.example:7687"


# --- backups ---------------------------------------------------------------------------------------


def test_backup_bucket_is_versioned_encrypted_private_and_tls_only(plan):
    bucket = "cluster-backups"
    assert plan.of_type("aws:s3/bucketVersioning:BucketVersioning")[bucket]["versioningConfiguration"] == {
        "status": "Enabled"}
    (rule,) = plan.of_type("aws:s3/bucketServerSideEncryptionConfiguration:"
                           "BucketServerSideEncryptionConfiguration")[bucket]["rules"]
    # SSE-KMS under the stack's backup key (test_aws_kms_keys.py).
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms",
                                                          "kmsMasterKeyId": "arn:aws:mock:::cluster-backups-key"}
    assert rule["bucketKeyEnabled"] is True
    block = plan.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")[bucket]
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                          "restrictPublicBuckets"))
    (deny,) = [statement for statement in json.loads(
        plan.of_type("aws:s3/bucketPolicy:BucketPolicy")[bucket]["policy"])["Statement"]
        if statement["Sid"] == "DenyInsecureTransport"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == ["arn:aws:mock:::cluster-backups", "arn:aws:mock:::cluster-backups/*"]


def test_backup_lifecycle_follows_the_stack_config(plan):
    s = plan.settings
    # Expiry by age, when the Object Lock ends (tests/unit/test_backup_lifecycle.py), and the delete markers' clean-up.
    rule, markers = plan.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")[
        "cluster-backups"]["rules"]
    lock = plan.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")["cluster-backups"]
    assert int(rule["expiration"]["days"]) == int(lock["rule"]["defaultRetention"]["days"]) > s.backup_retention_days
    assert markers["expiration"] == {"expiredObjectDeleteMarker": True}
    assert int(rule["noncurrentVersionExpiration"]["noncurrentDays"]) == s.backup_noncurrent_days
    assert int(rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"]) >= 1
    transitions = [(int(t["days"]), t["storageClass"]) for t in rule.get("transitions", [])]
    assert transitions == ([(s.backup_transition_days, s.backup_transition_storage_class)]
                           if s.backup_transition_days else [])


def test_replication_to_a_second_region_only_when_configured(plans):
    assert len(plans["dev"].of_type(BUCKET)) == 1
    assert len(plans["prod"].of_type(BUCKET)) == 2  # prod keeps its off-site copy (3-2-1)
    replicated = plans["public-replicated"]
    replica = replicated.of_type(BUCKET)["cluster-backups-replica"]
    assert replica["region"] == "eu-central-1"
    assert replicated.of_type("aws:s3/bucketVersioning:BucketVersioning")["cluster-backups-replica"][
        "region"] == "eu-central-1"
    (config,) = replicated.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig").values()
    (rule,) = config["rules"]
    assert config["bucket"] == "cluster-backups-id"
    assert rule["destination"]["bucket"] == "arn:aws:mock:::cluster-backups-replica"
    assert rule["deleteMarkerReplication"] == {"status": "Disabled"}
    assert rule["filter"] == {"prefix": f"{replicated.settings.stack}/"}


# --- outputs ---------------------------------------------------------------------------------------


def test_outputs_have_the_shape_every_platform_returns(plan):
    outputs = plan.document["outputs"]
    # The keys of the one contract, in its order (components/outputs.py); the first nine are the original ones.
    assert list(outputs) == [wire_name(f.name) for f in fields(StackOutputs)]
    assert list(outputs)[:9] == ["boltUri", "routingUri", "servers", "faultTolerance", "grafanaUrl",
                                 "prometheusUrl", "backupBucket", "secretArns", "caCertPem"]
    first = plan.topology.servers[0].hostname
    assert outputs["routingUri"] == f"neo4j://{first}:7687"
    if plan.settings.haproxy and not plan.settings.haproxy_public:
        assert outputs["boltUri"] == f"bolt://haproxy.{plan.topology.domain}:7687"
        assert outputs["haproxyReadUri"] == f"bolt://haproxy.{plan.topology.domain}:7689"
    if plan.settings.haproxy:
        assert outputs["haproxyUri"] == outputs["boltUri"]
        assert outputs["haproxyReadUri"] == outputs["boltUri"].replace(":7687", ":7689")
    if not plan.settings.haproxy:
        assert outputs["boltUri"] == outputs["routingUri"]
        assert outputs["haproxyUri"] is None and outputs["haproxyReadUri"] is None
    assert outputs["tls"] == plan.settings.tls
    assert outputs["metricsUrls"] == ({s.name: f"http://{s.hostname}:2004/metrics" for s in plan.topology.servers}
                                      if plan.settings.edition == "enterprise" else {})
    assert [s["name"] for s in outputs["servers"]] == [s.name for s in plan.topology.servers]
    assert all(set(s) == {"name", "role", "zone", "hostname", "privateIp", "boltUri"} and s["privateIp"]
               for s in outputs["servers"] + outputs["fabricProxies"])
    # 4.4's Fabric proxies, listed as the servers are (each its instance's address); [] on every other stack.
    assert [(p["name"], p["role"], p["hostname"], p["boltUri"]) for p in outputs["fabricProxies"]] == [
        (p.name, "fabric", p.hostname, f"bolt://{p.hostname}:7687") for p in plan.topology.fabric_proxies]
    addresses = [s["privateIp"] for s in outputs["servers"] + outputs["fabricProxies"]]
    assert len(set(addresses)) == len(addresses)
    assert outputs["faultTolerance"] == plan.topology.fault_tolerance
    assert (outputs["grafanaUrl"] is None) == (not plan.settings.monitoring)
    assert outputs["backupBucket"] == "cluster-backups"
    assert set(outputs["secretArns"]) == {s["name"] for s in plan.of_type(SECRET).values()}
    assert all(arn.startswith("arn:") for arn in outputs["secretArns"].values())
    assert (outputs["caCertPem"] is None) == (plan.settings.tls == "disabled")


def test_the_commands_find_haproxy_tls_and_metrics_in_these_outputs(plan, tmp_path, monkeypatch):
    outputs = plan.document["outputs"]
    target = commands_target(outputs, tmp_path, monkeypatch)
    assert [s.name for s in target.servers] == [s.name for s in plan.topology.servers]
    assert (target.haproxy_uri, target.haproxy_read_uri) == (outputs["haproxyUri"], outputs["haproxyReadUri"])
    assert target.tls_expected == plan.settings.tls
    assert target.metrics_urls == (outputs["metricsUrls"] or None)  # none: Community, where check skips metrics
    assert target.backup_bucket == "cluster-backups" and target.fault_tolerance == plan.topology.fault_tolerance


# --- scaling ---------------------------------------------------------------------------------------


def keyed(p: Plan) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["type"], r["name"]): r for r in p.resources}


def core_resources(p: Plan) -> dict[tuple[str, str], dict[str, Any]]:
    cores = {s.name for s in p.topology.primaries}
    return {key: r for key, r in keyed(p).items() if any(key[1].endswith(f"-{c}") or f"-{c}-" in key[1]
                                                        for c in cores)}


def test_more_replicas_add_replica_resources_only(plans):
    before, after = keyed(plans["prod"]), keyed(plans["prod-more-replicas"])
    assert before.keys() <= after.keys()
    added = {name for _, name in after.keys() - before.keys()}
    assert added and all("replica-3" in name or "replica-4" in name for name in added)


def test_the_s3_endpoint_reaches_only_the_stacks_buckets_and_the_ssm_agents(plan):
    # PrivateLink Guide: "By default, a VPC endpoint allows full access to the service with which it's associated":
    # without a policy, anything in the VPC copies data to any bucket through the endpoint. Systems Manager User
    # Guide: behind a VPC endpoint the SSM agent's AWS-managed buckets need "explicit permission [...] Otherwise,
    # your resources can't access these public buckets."
    [(endpoint, inputs)] = plan.of_type("aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy").items()
    assert endpoint == "cluster-s3" and inputs["vpcEndpointId"] == "cluster-s3-id"  # the gateway endpoint's id
    statements = {s["Sid"]: s for s in json.loads(inputs["policy"])["Statement"]}
    assert set(statements) == {"StackBuckets", "SsmAgentBuckets"}
    assert all(s["Effect"] == "Allow" and s["Principal"] == "*" for s in statements.values())
    buckets = [f"arn:aws:mock:::{name}" for name in plan.of_type("aws:s3/bucket:Bucket")]
    assert len(buckets) == (2 if plan.settings.backup_replica_region else 1)
    assert sorted(statements["StackBuckets"]["Resource"]) == sorted(
        arn for bucket in buckets for arn in (bucket, f"{bucket}/*"))
    region = plan.settings.region
    agent = statements["SsmAgentBuckets"]
    assert agent["Action"] == "s3:GetObject"
    assert f"arn:aws:s3:::amazon-ssm-{region}/*" in agent["Resource"]
    assert f"arn:aws:s3:::{region}-birdwatcher-prod/*" in agent["Resource"]
    assert all(arn.startswith("arn:aws:s3:::") and arn.endswith("/*") and region in arn for arn in agent["Resource"])


def test_more_replicas_leave_network_and_security_groups_untouched(plans):
    before, after = keyed(plans["prod"]), keyed(plans["prod-more-replicas"])
    for key, resource in before.items():
        if resource["parent"].split("::")[0] in ("neo4j-cluster:aws:Network", "neo4j-cluster:aws:SecurityGroups"):
            assert after[key] == resource, key


def test_more_replicas_leave_every_core_resource_name_and_input_unchanged(plans):
    before, after = core_resources(plans["prod"]), core_resources(plans["prod-more-replicas"])
    assert len(before) == 5 * 13  # per core: TLS key, request, cert; secret + version; 8 of its machine
    assert before.keys() == after.keys()
    for key in before:
        old, new = before[key], after[key]
        if key[0] == "aws:ec2/instance:Instance":
            # The conf in a core's user data differs only in initial.* settings (read once, at formation:
            # the new replica count). Running servers ignore new user data, so no core restarts.
            old_conf, new_conf = (core_conf(r["inputs"]["userDataBase64"]) for r in (old, new))
            changed = {line.split("=")[0] for line in set(old_conf) ^ set(new_conf)}
            assert changed == {"initial.dbms.default_secondaries_count"}, (key, changed)
            old = {**old, "inputs": {k: v for k, v in old["inputs"].items() if k != "userDataBase64"}}
            new = {**new, "inputs": {k: v for k, v in new["inputs"].items() if k != "userDataBase64"}}
            if key[1] == f"cluster-{plans['prod'].topology.backup_server.name}":
                # The backup server's tooling archive holds its certificate renewal, which counts the servers
                # (EXPECTED_SERVERS): a new archive, so a new ToolingSha256 tag, changed in place (no restart).
                tags = [r["inputs"]["tags"] for r in (old, new)]
                assert tags[0]["ToolingSha256"] != tags[1]["ToolingSha256"]
                old, new = ({**r, "inputs": {**r["inputs"], "tags": {k: v for k, v in r["inputs"]["tags"].items()
                                                                      if k != "ToolingSha256"}}} for r in (old, new))
        assert new == old, key


def core_conf(user_data_base64: str) -> list[str]:
    """The setting lines of neo4j.conf in an instance's gzipped cloud-init user data."""
    from components.aws.user_data import SERVER_FILE_PLACES

    cloud_config = yaml.safe_load(gzip.decompress(base64.b64decode(user_data_base64)))
    conf = next(f["content"] for f in cloud_config["write_files"] if f["path"] == SERVER_FILE_PLACES["neo4j.conf"])
    return [line for line in conf.splitlines() if line and not line.startswith("#")]


# --- config that cannot deploy ---------------------------------------------------------------------


def test_a_missing_admin_password_stops_the_program_naming_the_command(tmp_path):
    result = run_with_secrets(tmp_path, "t", stack_config("dev"), {}, dropped=("neo4j:adminPassword",))
    assert result.returncode != 0
    assert "neo4j:adminPassword" in result.error and "pulumi config set --secret" in result.error


def test_images_are_canonicals_ubuntu_24_04_for_each_architecture_in_use(tmp_path):
    # Canonical's "Find Ubuntu images on AWS" (canonical/ubuntu-cloud-docs, docs/aws/aws-how-to/instances/
    # find-ubuntu-images.rst): `ubuntu/images/$VIRT_TYPE-$VOL_TYPE/ubuntu-$RELEASE-$ARCH-$PRODUCT-*`, VOL_TYPE
    # `ssd-gp3` (for >=23.10), RELEASE `noble-24.04`, PRODUCT `server`; owner 099720109477.
    from fnmatch import fnmatchcase
    from types import SimpleNamespace

    from components.program.recording import RecordingMocks

    config = {**stack_config("dev"), "neo4j:replicaInstanceType": "r6g.xlarge"}
    result = run_with_secrets(tmp_path, "t", config, {})
    assert result.returncode == 0, result.stderr
    lookups = [c["args"] for c in result.calls if c["token"] == "aws:ec2/getAmi:getAmi"]
    arches = []
    for lookup in lookups:
        assert lookup["owners"] == ["099720109477"] and lookup["mostRecent"] is True
        filters = {f["name"]: f["values"] for f in lookup["filters"]}
        (arch,) = filters["architecture"]
        ubuntu_arch = {"x86_64": "amd64", "arm64": "arm64"}[arch]
        assert filters["name"] == [f"ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-{ubuntu_arch}-server-*"]
        # The plan's mocks answer the lookup with an image the filters select (its architecture, a matching name).
        image = RecordingMocks().call(SimpleNamespace(token="aws:ec2/getAmi:getAmi", args=lookup))
        assert image["architecture"] == arch and fnmatchcase(image["name"], filters["name"][0]), image
        assert not fnmatchcase(f"ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-{ubuntu_arch}-server-20261105",
                               filters["name"][0])
        arches.append(arch)
    assert sorted(arches) == ["arm64", "x86_64"]


def test_replica_region_equal_to_the_cluster_region_is_refused(tmp_path):
    config = {**stack_config("dev"), "neo4j:backupReplicaRegion": "eu-west-1"}
    result = run_with_secrets(tmp_path, "t", config, {})
    assert result.returncode != 0 and "neo4j:backupReplicaRegion" in result.error


def test_backup_server_alone_reads_the_tooling_archive_which_the_lifecycle_spares(plans):
    from components.tooling import TOOLING_KEY, tooling_archive_base64

    plan = plans["prod"]
    [tooling] = [r for r in plan.document["resources"] if r["type"] == "aws:s3/bucketObjectv2:BucketObjectv2"
                 and r["name"] != "cluster-haproxy-cfg"]  # the HAProxy pair's config lies beside it
    assert tooling["inputs"]["key"] == TOOLING_KEY
    from components.aws.user_data import BACKUP_SERVER_ARCHIVED, backup_tooling_files

    # The scripts, the stack's backup job and the server's certificate renewal as the plan rendered them
    # (build/<stack>/<backup server>/backup/ and beside it).
    server = plan.topology.backup_server.name
    job = {f"backup/{path.name}": path.read_text() for path in (plan.out / server / "backup").iterdir()}
    job.update({name: (plan.out / server / name).read_text() for name in BACKUP_SERVER_ARCHIVED})
    assert tooling["inputs"]["contentBase64"] == tooling_archive_base64(backup_tooling_files({server: job},
                                                                                             plan.topology))
    readers = [r["name"] for r in plan.document["resources"] if r["type"] == "aws:iam/rolePolicy:RolePolicy"
               and "ReadBackupTooling" in str(r["inputs"].get("policy"))]
    assert len(readers) == 1 and plan.topology.backup_server.name in readers[0]
    [lifecycle] = [r for r in plan.document["resources"] if r["name"] == "cluster-backups"
                   and r["type"] == "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"]
    for rule in lifecycle["inputs"]["rules"]:
        assert not TOOLING_KEY.startswith((rule["filter"].get("and") or rule["filter"])["prefix"])


@pytest.mark.parametrize("password, rule", [
    ("neo4j", "neo4j:adminPassword: is Neo4j's initial default password; allowed: any other password"),
    ("Horse-9", "neo4j:adminPassword: is shorter than 8 characters; allowed: 8 characters or more"),
])
def test_a_password_neo4j_would_refuse_stops_the_aws_program_before_any_resource(tmp_path, password, rule):
    run = run_with_secrets(tmp_path, "dev", stack_config("dev"), {"neo4j:adminPassword": password})
    assert run.returncode != 0 and run.error_type == "RunError", run.stderr
    header, *problems = run.error.splitlines()
    assert header == "invalid stack config:" and any(problem.startswith(rule) for problem in problems)
    assert run.registered == []  # not a VPC and NAT gateways of a cluster that could not start
    if password != "neo4j":  # the key's own name holds "neo4j"
        assert password not in run.stdout + run.stderr


def test_a_slash_in_the_admin_password_is_fine_on_aws_where_it_stays_a_secret(tmp_path):
    password = "Correct/Horse-9"
    run = run_with_secrets(tmp_path, "dev", stack_config("dev"), {"neo4j:adminPassword": password})
    assert run.returncode == 0, run.stderr + run.stdout
    holders = [r["name"] for r in run.resources if password in str(r["inputs"])]
    assert holders == [next(r["name"] for r in run.resources if r["type"] == SECRET_VERSION
                            and r["inputs"].get("secretString") == {"secret": password})]


# --- day two: data outlives machines, `up` restarts no server ------------------------------------------


def test_day_two_changes_touch_only_held_back_inputs_and_the_volume_size(plans):
    # Under the mocks a plan records inputs; what a changed input does comes from the provider (PULUMI-NOTES):
    # the instances' changed inputs must all be held back (ignore_changes), the volume may change only its
    # size (in place), and the attachments not at all (an attachment's inputs all force a new one).
    from components.aws.machine import HELD_BACK_ON_SERVERS

    held_back = {"ami", "userDataBase64", "instanceType", "subnetId", "availabilityZone"}
    assert len(held_back) == len(HELD_BACK_ON_SERVERS)
    before, after = plans["prod"], plans["prod-day-two"]
    changed_instances = set()
    for server in before.topology.servers:
        old, new = (p.of_type(INSTANCE)[f"cluster-{server.name}"] for p in (before, after))
        changed = {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}
        if "tags" in changed:  # in place, no restart: the backup server's hash of its new tooling archive (job/)
            from components.tooling import TOOLING_SHA256_TAG

            retagged = {k for k in old["tags"].keys() | new["tags"].keys() if old["tags"].get(k) != new["tags"].get(k)}
            assert retagged == {TOOLING_SHA256_TAG} and server == before.topology.backup_server, server.name
            changed -= {"tags"}
        assert changed <= held_back, (server.name, changed - held_back)
        changed_instances |= changed
        old_volume, new_volume = (p.of_type(VOLUME)[f"cluster-{server.name}-data"] for p in (before, after))
        assert {k for k in old_volume if old_volume[k] != new_volume[k]} == {"size"}
        assert int(new_volume["size"]) == 400
        name = f"cluster-{server.name}-data-attachment"
        assert before.of_type(ATTACHMENT)[name] == after.of_type(ATTACHMENT)[name]
    assert {"instanceType", "userDataBase64"} <= changed_instances  # the variant did change them


def run_options(tmp_path, **overrides):
    config = {**stack_config("dev"), **{f"neo4j:{k}": v for k, v in overrides.items()}}
    result = run_with_secrets(tmp_path, "t", config, {})
    assert result.returncode == 0, result.stderr
    return result


def test_data_volumes_are_protected_and_retained_and_attachments_detach_first(tmp_path):
    result = run_options(tmp_path)
    volumes = result.of_type(VOLUME)
    assert volumes
    for name in volumes:
        options = result.options_of(VOLUME, name)
        assert options["protect"] is True and options["retainOnDelete"] is True, name
        assert options["ignoreChanges"] == ["availabilityZone"], name
    for name in result.of_type(ATTACHMENT):
        assert result.options_of(ATTACHMENT, name)["deleteBeforeReplace"] is True, name


def test_data_volumes_may_go_only_when_the_stack_opts_in(tmp_path):
    result = run_options(tmp_path, dataVolumesDeletable=True)
    for name in result.of_type(VOLUME):
        options = result.options_of(VOLUME, name)
        assert options["protect"] is False and options["retainOnDelete"] is False, name


def test_neo4j_servers_hold_back_what_would_restart_or_replace_them(tmp_path):
    result = run_options(tmp_path)
    for name in result.of_type(INSTANCE):
        ignored = set(result.options_of(INSTANCE, name)["ignoreChanges"])
        if name == "cluster-monitoring":
            assert ignored == {"ami"}, name  # stateless: replaced for new user data
        else:
            assert ignored == {"ami", "userDataBase64", "instanceType", "subnetId", "availabilityZone"}, name


def test_the_rollout_releases_exactly_the_servers_of_its_step(tmp_path):
    result = run_options(tmp_path, rolloutRelease=["core-2"])
    for name in result.of_type(INSTANCE):
        ignored = set(result.options_of(INSTANCE, name)["ignoreChanges"])
        if name == "cluster-core-2":
            assert ignored == set(), name  # this step applies image, user data, type and subnet
        elif name != "cluster-monitoring":  # every other server and both HAProxy nodes stay held back
            assert "userDataBase64" in ignored and "instanceType" in ignored, name


def test_a_rollout_release_naming_no_server_shape_is_refused(tmp_path):
    run = run_with_secrets(tmp_path, "t", {**stack_config("dev"), "neo4j:rolloutRelease": ["core-1; rm"]}, {})
    assert run.returncode != 0 and "neo4j:rolloutRelease" in run.error, run.stderr


def test_prometheus_keeps_its_time_series_on_a_protected_volume_that_follows_the_node(plans, tmp_path):
    from components.aws.user_data import MOUNT_PROMETHEUS_DATA_PLACE

    p = plans["prod"]
    volume = p.of_type(VOLUME)["cluster-monitoring-data"]
    assert volume["availabilityZone"] == p.topology.monitoring.zone and volume["encrypted"] is True
    attachment = p.of_type(ATTACHMENT)["cluster-monitoring-data-attachment"]
    assert attachment["instanceId"] == "cluster-monitoring-id"
    assert attachment["volumeId"] == "cluster-monitoring-data-id"
    assert p.of_type(INSTANCE)["cluster-monitoring"]["tags"]["DataVolumeId"] == "cluster-monitoring-data-id"
    cloud_config = yaml.safe_load(p.user_data("cluster-monitoring"))
    runcmd = [c if isinstance(c, list) else [c] for c in cloud_config["runcmd"]]
    mount = runcmd.index(["bash", MOUNT_PROMETHEUS_DATA_PLACE])
    assert mount < runcmd.index(["systemctl", "restart", "prometheus"])
    assert MOUNT_PROMETHEUS_DATA_PLACE in {f["path"] for f in cloud_config["write_files"]}
    result = run_options(tmp_path)
    options = result.options_of(VOLUME, "cluster-monitoring-data")
    assert options["protect"] is True and options["retainOnDelete"] is True


def test_a_machine_boots_only_after_what_its_boot_script_reads_exists(tmp_path):
    # IAM is eventually consistent and cloud-init runs within seconds of launch: each instance waits for its own
    # policy, and the policy (through the ARNs it names) for the secret versions and the tooling object.
    result = run_options(tmp_path)

    def depends(resource_type, name):
        return {urn.rsplit("::", 1)[1] for urn in result.options_of(resource_type, name)["dependencies"]}

    backup_server = next(name for name, inputs in result.of_type(INSTANCE).items()
                         if "BackupBucket" in inputs.get("tags", {}))
    policies = result.of_type("aws:iam/rolePolicy:RolePolicy")
    assert "cluster-core-1-access" in policies
    for name in result.of_type(INSTANCE):
        if f"{name}-access" in policies:  # a machine that reads nothing at boot has no policy to wait for
            assert f"{name}-access" in depends(INSTANCE, name), name
    policy = depends("aws:iam/rolePolicy:RolePolicy", f"{backup_server}-access")
    versions = {n for n in policy if n.startswith("cluster-") and "admin-password" in n}
    assert versions == {"cluster-admin-password"}, policy  # the Secret and its SecretVersion share the name
    assert "cluster-tooling" in policy, policy
    assert sum(1 for urn in result.options_of("aws:iam/rolePolicy:RolePolicy", f"{backup_server}-access")
               ["dependencies"] if urn.endswith("secretVersion:SecretVersion::cluster-admin-password")) == 1


# --- 4.4's Fabric proxies (issue 21, item 3) ---------------------------------------------------------------------
# Standalone DBMSs (dbms.mode=SINGLE) beside the cluster, made from the same topology and render as the Docker
# stack's proxy containers: here an EC2 machine each, booted as a server is.


def write_files(user_data: str) -> dict[str, str]:
    return {f["path"]: f["content"] for f in yaml.safe_load(user_data)["write_files"]}


def test_fabric_proxies_are_private_machines_that_boot_the_rendered_fabric_conf_as_servers_do(plans):
    from components.aws.user_data import SERVER_FILE_PLACES

    p = plans["fabric-44"]
    names = secret_names(p.settings, p.topology)
    subnets = {f"{name}-id": inputs["availabilityZone"] for name, inputs in p.of_type(SUBNET).items()
               if "-private-" in name}
    assert [proxy.name for proxy in p.topology.fabric_proxies] == ["fabric-1", "fabric-2"]
    for proxy in p.topology.fabric_proxies:
        inputs = p.of_type(INSTANCE)[f"cluster-{proxy.name}"]
        # Prometheus's EC2 discovery reads these two tags (render.ec2_discovery).
        assert inputs["tags"]["Name"] == f"{p.stack}-{proxy.name}" and inputs["tags"]["Role"] == "fabric"
        assert subnets[inputs["subnetId"]] == proxy.zone  # its zone's private subnet, as a server's
        assert inputs["vpcSecurityGroupIds"] == ["cluster-fabric-id"]
        assert inputs["instanceType"] == p.settings.replica_instance_type
        assert not inputs["associatePublicIpAddress"]
        assert p.of_type(RECORD)[f"cluster-{proxy.name}"]["name"] == proxy.hostname  # fabric.routing.servers' name
        files = write_files(p.user_data(f"cluster-{proxy.name}"))
        conf = files[SERVER_FILE_PLACES["neo4j.conf"]]
        assert conf == p.rendered.files[proxy.name]["neo4j.conf"]  # render's text, as the Docker upload is
        assert "dbms.mode=SINGLE" in conf and "fabric.database.name=library" in conf
        assert "fabric.routing.servers=fabric-1.prod.neo4j.internal:7687,fabric-2.prod.neo4j.internal:7687" in conf
        # The AWS CLI first (the archive's, or the snap on Ubuntu 24.04), then the servers' boot script.
        runcmd = yaml.safe_load(p.user_data(f"cluster-{proxy.name}"))["runcmd"]
        assert "snap install aws-cli --classic" in runcmd[0][2] and runcmd[1] == [SERVER_FILE_PLACES["setup-neo4j.sh"]]
        setup = files[SERVER_FILE_PLACES["setup-neo4j.sh"]]
        # Its certificate for Bolt, HTTPS and the fabric policy; the admin's initial password in its own `system`.
        assert f'TLS_SECRET="{names.tls[proxy.name]}"' in setup and "SSL_SCOPES=(bolt https fabric)" in setup
        assert f'password=$(secret "{names.admin_password}")' in setup
        assert "run_step set_initial_password" in setup
        for step in ("create_job_users", "join_database_topology", "install_backup_tooling"):
            assert f"run_step {step}" not in setup, step  # not a member: no job users, topology or backups
        renewal = files[SERVER_FILE_PLACES["renew-certificates.sh"]]
        # Its own `system` holds the admin alone, and it asks no cluster before it restarts.
        assert "NEO4J_USER=neo4j\n" in renewal and "CLUSTERED=false" in renewal
        assert f'PASSWORD_SECRET="{names.admin_password}"' in renewal


def test_fabric_proxies_take_client_bolt_and_reach_the_members_bolt_alone(plans):
    p = plans["fabric-44"]
    fabric = {(r["group"], r["port"], r["peer"]) for r in p.rules(INGRESS) if "fabric" in (r["group"], r["peer"])}
    assert fabric == {("fabric", 7687, "10.0.0.0/8"),  # prod's clientCidrs
                      ("fabric", 2004, "monitoring"), ("fabric", 9100, "monitoring"),
                      ("neo4j", 7687, "fabric"),  # the fabric.graph URIs (neo4j:// at the cores)
                      ("endpoints", 443, "fabric")}  # Secrets Manager and the SSM agent, through the VPC's endpoints


def test_prometheus_discovers_the_fabric_proxies_by_their_name_tag(plans):
    from tests.support.prometheus_targets import scrape_targets

    p = plans["fabric-44"]
    config = yaml.safe_load((p.out / "monitoring" / "prometheus" / "prometheus.yml").read_text())
    # Every planned machine as EC2 would describe it: its Name tag (<stack>-<name>) and Role tag.
    machines = [(inputs["tags"]["Name"].removeprefix(f"{p.stack}-"), inputs["tags"].get("Role", ""))
                for inputs in p.of_type(INSTANCE).values()]
    targets = set(scrape_targets(config, stack=p.stack, servers=machines))
    for job, port in (("neo4j", 2004), ("node", 9100)):
        # (the HAProxy pair's node exporters are listed, not discovered)
        listed = {f"{n.hostname}:{port}" for n in p.topology.haproxy_nodes} if job == "node" else set()
        discovered = {f"{s.hostname}:{port}" for s in p.topology.neo4j_hosts}
        assert {t for j, t in targets if j == job} == discovered | listed, job
    # Another stack's monitoring node is left as it was: no fabric pattern without proxies.
    prod = yaml.safe_load((plans["prod"].out / "monitoring" / "prometheus" / "prometheus.yml").read_text())
    assert "prod-fabric-*" not in json.dumps(prod)


def test_fabric_proxies_keep_their_volume_and_are_held_back_as_servers_are(tmp_path):
    base, overrides = VARIANTS["fabric-44"]
    result = run_with_secrets(tmp_path, "t", {**stack_config(base), **overrides}, {})
    assert result.returncode == 0, result.stderr
    for proxy in ("fabric-1", "fabric-2"):
        options = result.options_of(VOLUME, f"cluster-{proxy}-data")
        assert options["protect"] is True and options["retainOnDelete"] is True, proxy
        ignored = set(result.options_of(INSTANCE, f"cluster-{proxy}")["ignoreChanges"])
        assert ignored == {"ami", "userDataBase64", "instanceType", "subnetId", "availabilityZone"}, proxy
