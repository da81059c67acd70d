"""What the machine boots: the user data the Pulumi program renders for one server (scripts/plan.py runs the
program under its recording mocks, as `make plan` does, and the instance's userDataBase64 is decoded as EC2
decodes it), and the NoCloud seed that hands exactly that text to cloud-init; and what the same plan creates in
AWS around that machine (its instance role with the role policies the program renders for it, the stack's Secrets
Manager secrets, the S3 objects the program uploads), for the stand-ins to hold.
"""
from __future__ import annotations

import base64
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.aws.secret_names import secret_names
from components.program.tls import entry_dns_names, server_dns_names
from tests.support.plans import ROOT, Plan, make_plan
from tests.support.rehearsal import apt_standin
from tests.support.rehearsal.aws_standin import MOCK_ARN

# A community single-server AWS stack: dev's stack file with one Community server and no monitoring node (the
# HAProxy pair stays: the next slice boots a node of it in front of the server), installing Neo4j from a private
# apt mirror (neo4j:aptRepositoryUrl, neo4j:aptSigningKey): the apt repository stand-in's.
COMMUNITY_SINGLE = ("dev", {"neo4j:edition": "community", "neo4j:acceptLicense": False, "neo4j:coreCount": 1,
                            "neo4j:replicaCount": 0, "neo4j:monitoring": False,
                            # Community takes no differential backups: dev's schedule is refused there.
                            "neo4j:backupDiffSchedule": None, **apt_standin.STACK_CONFIG})


@dataclass(frozen=True)
class BucketObject:
    bucket: str  # the bucket's name (what the instance tag BackupBucket says)
    key: str
    content: bytes


@dataclass(frozen=True)
class PlannedSecret:
    name: str
    kind: str  # one of SECRET_KINDS: what it holds, as components/aws/secrets.py stores it
    dns_names: tuple[str, ...] = ()  # a certificate's names (components/program/tls.py), () for the others


@dataclass(frozen=True)
class RolePolicy:
    name: str      # the RolePolicy's resource name in the plan (cluster-core-1-access, cluster-core-1-ssm)
    document: str  # its policy exactly as the plan holds it, ARNs of the plan's mocks (arn:aws:mock:::<resource>)


@dataclass(frozen=True)
class PlannedArn:
    """An ARN of the plan's mocks that a role policy names, and what it names: the AWS stand-in puts the ARN of the
    thing it holds in its place."""
    arn: str   # arn:aws:mock:::<resource name>
    kind: str  # one of ARN_KINDS' values
    name: str  # the name AWS knows it by: the secret's, bucket's or log group's name; a KMS key's description


@dataclass(frozen=True)
class RenderedMachine:
    stack: str
    instance: str    # the instance's resource name in the plan
    user_data: str   # its cloud-init text, exactly as the program rendered it
    tags: dict[str, str]  # its instance tags (what IMDS serves under meta-data/tags/instance)
    region: str
    availability_zone: str
    neo4j_version: str = ""
    instance_role: str = ""  # the role of its instance profile (IMDS: meta-data/iam/security-credentials/<role>)
    assume_role_policy: str = ""  # that role's trust policy, as the plan holds it
    role_policies: tuple[RolePolicy, ...] = ()  # every role policy of that role, as the plan holds it
    planned_arns: tuple[PlannedArn, ...] = ()  # the mock ARNs any role policy of the plan names
    # Secrets Manager: every secret the plan creates; their values are the rehearsal's own (the plan records them
    # as "[secret]").
    secrets: tuple[PlannedSecret, ...] = ()
    objects: tuple[BucketObject, ...] = ()  # the S3 objects the program uploads, as the plan holds them
    data_volume_gib: int | None = None  # the size of its data volume (the EBS volume its DataVolumeId tag names)


# What a secret of the plan holds, by its name (components/aws/secret_names.py, components/aws/secrets.py).
SECRET_KINDS = ("admin-password", "tls-ca", "tls-server", "tls-entry")


def _planned_secrets(plan: Plan) -> tuple[PlannedSecret, ...]:
    topology = plan.topology
    names = secret_names(plan.settings, topology)
    known = {names.admin_password: PlannedSecret(names.admin_password, "admin-password"),
             names.ca: PlannedSecret(names.ca, "tls-ca")}
    if topology.haproxy:
        known[names.entry_tls] = PlannedSecret(names.entry_tls, "tls-entry", tuple(entry_dns_names(topology)))
    for server in topology.neo4j_hosts:
        known[names.tls[server.name]] = PlannedSecret(names.tls[server.name], "tls-server",
                                                      tuple(server_dns_names(topology, server)))
    planned = [inputs["name"] for inputs in plan.of_type("aws:secretsmanager/secret:Secret").values()]
    unknown = sorted(set(planned) - set(known))
    if unknown:  # a secret the rehearsal cannot fill yet: said, not skipped
        raise RuntimeError(f"rehearsal: the plan creates secrets the rehearsal does not know how to fill: {unknown}")
    return tuple(known[name] for name in planned)


ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
# What a mock ARN in a role policy may name, by the named resource's type (components/program/recording.py: every
# resource's mock ARN is arn:aws:mock:::<its name>, so a secret and its version share one; the policy means the
# secret).
ARN_KINDS = {"aws:secretsmanager/secret:Secret": "secret", "aws:s3/bucket:Bucket": "bucket",
             "aws:kms/key:Key": "kms-key", "aws:cloudwatch/logGroup:LogGroup": "log-group"}


def _role_policies(plan: Plan, role: str) -> tuple[RolePolicy, ...]:
    # A RolePolicy names its role by the role's id; under the plan's mocks that is the role's name with "-id".
    return tuple(RolePolicy(name, inputs["policy"]) for name, inputs in plan.of_type(ROLE_POLICY).items()
                 if inputs["role"] in (role, f"{role}-id"))


def _planned_arns(plan: Plan) -> tuple[PlannedArn, ...]:
    named = {r["name"]: r for r in plan.resources if r["type"] in ARN_KINDS}
    found = sorted({name for inputs in plan.of_type(ROLE_POLICY).values()
                    for name in MOCK_ARN.findall(inputs["policy"])})
    unknown = [name for name in found if name not in named]
    if unknown:  # a policy naming something the AWS stand-in cannot hold: said, not skipped
        raise RuntimeError(f"rehearsal: the role policies name resources the rehearsal cannot hold: {unknown}")
    planned = []
    for name in found:
        resource = named[name]
        kind = ARN_KINDS[resource["type"]]
        # Under the plan's mocks a bucket's name is its resource name; a key has no name (its description).
        own = {"secret": resource["inputs"].get("name"), "log-group": resource["inputs"].get("name"),
               "kms-key": resource["inputs"].get("description")}.get(kind) or name
        planned.append(PlannedArn(f"arn:aws:mock:::{name}", kind, own))
    return tuple(planned)


def _bucket_objects(plan: Plan) -> tuple[BucketObject, ...]:
    # An object names its bucket by the bucket's id or its name; under the plan's mocks a bucket's id is its
    # resource name with "-id" (as every mocked id), its name the resource name; on AWS both are the name.
    buckets = {alias: name for name in plan.of_type("aws:s3/bucket:Bucket") for alias in (name, f"{name}-id")}
    objects = []
    for inputs in plan.of_type("aws:s3/bucketObjectv2:BucketObjectv2").values():
        content = (base64.b64decode(inputs["contentBase64"]) if "contentBase64" in inputs
                   else inputs["content"].encode())
        objects.append(BucketObject(buckets[inputs["bucket"]], inputs["key"], content))
    return tuple(objects)


def _data_volume_gib(plan: Plan, volume_id: str | None) -> int | None:
    # Under the plan's mocks a volume's id is its resource name with "-id" (as every mocked id).
    sizes = {f"{name}-id": inputs.get("size") for name, inputs in plan.of_type("aws:ebs/volume:Volume").items()}
    size = sizes.get(volume_id) if volume_id else None
    return int(size) if size else None


def _stack_config(base: str, overrides: dict[str, Any]) -> dict[str, Any]:
    config = yaml.safe_load((ROOT / f"Pulumi.{base}.yaml").read_text())["config"]
    return {key: value for key, value in {**config, **overrides}.items() if value is not None}


def rendered_server(variant: tuple[str, dict[str, Any]] = COMMUNITY_SINGLE, out: Path | None = None,
                    server: str = "core-1") -> RenderedMachine:
    """The planned stack's instance of `server`: its user data and tags as the program gave them."""
    base, overrides = variant
    if out is None:  # the plan's files are read here and not needed afterwards
        with tempfile.TemporaryDirectory(prefix="rehearsal-plan-") as tmp:
            return rendered_server(variant, Path(tmp) / "out", server)
    plan = make_plan("rehearsal", base, _stack_config(base, overrides), out)
    instances = plan.of_type("aws:ec2/instance:Instance")
    names = [name for name in instances if name == server or name.endswith(f"-{server}")]
    if len(names) != 1:
        raise RuntimeError(f"rehearsal: the plan has no single instance named {server}: {sorted(instances)}")
    inputs = instances[names[0]]
    profile = plan.of_type("aws:iam/instanceProfile:InstanceProfile")[inputs["iamInstanceProfile"]]
    role = profile["role"]
    return RenderedMachine(plan.stack, names[0], plan.user_data(names[0]), dict(inputs.get("tags") or {}),
                           plan.settings.region, inputs.get("availabilityZone", f"{plan.settings.region}a"),
                           neo4j_version=plan.settings.version, instance_role=role,
                           assume_role_policy=plan.of_type(ROLE)[role]["assumeRolePolicy"],
                           role_policies=_role_policies(plan, role), planned_arns=_planned_arns(plan),
                           secrets=_planned_secrets(plan), objects=_bucket_objects(plan),
                           data_volume_gib=_data_volume_gib(plan, (inputs.get("tags") or {}).get("DataVolumeId")))


def nocloud_seed(machine: RenderedMachine, instance_id: str, directory: Path) -> Path:
    """A NoCloud seed directory (user-data, meta-data) for /var/lib/cloud/seed/nocloud: user-data is the
    rendered text byte for byte."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "user-data").write_text(machine.user_data)
    (directory / "meta-data").write_text(yaml.safe_dump({"instance-id": instance_id,
                                                         "local-hostname": machine.instance}))
    return directory
