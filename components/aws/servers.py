"""Neo4jServers: one EC2 instance per server of the topology, in its zone's private subnet; FabricProxies: the same
for 4.4's Fabric proxies."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from components.aws.machine import BucketAccess, DataVolume, Machine, MachineArgs, MachineContext, place_machine
from components.tooling import TOOLING_SHA256_TAG
from components.topology import Server

ROOT_VOLUME_GB = 30  # OS, Neo4j's packages and logs; the store lives on the data volume


@dataclass(frozen=True)
class BackupAccess:
    """The one server that takes scheduled backups, and where it keeps them."""
    server: str
    bucket_name: pulumi.Input[str]
    bucket: BucketAccess
    tooling_sha256: str = ""  # the tooling archive's sha256 (TOOLING_SHA256_TAG); "": no archive


@dataclass(frozen=True)
class Neo4jServersArgs:
    servers: tuple[Server, ...]
    instance_types: Mapping[str, str]  # role (primary | secondary) → EC2 type
    user_data: Mapping[str, str]  # server name → rendered cloud-init.yaml
    subnet_ids: Mapping[str, pulumi.Input[str]]  # zone → private subnet
    security_group_id: pulumi.Input[str]
    data_volume_gb: int
    data_volumes_deletable: bool
    password_arns: Mapping[str, tuple[pulumi.Input[str], ...]]  # server name → the Neo4j passwords it reads
    tls_secret_arns: Mapping[str, pulumi.Input[str]]  # server name → ARN; empty when TLS is off
    backup: BackupAccess
    context: MachineContext
    released: frozenset[str] = frozenset()  # neo4j:rolloutRelease: servers whose rollout step this is


class Neo4jServers(pulumi.ComponentResource):
    private_ips: dict[str, pulumi.Output[str]]  # server name → address

    def __init__(self, name: str, args: Neo4jServersArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("neo4j-cluster:aws:Neo4jServers", name, None, opts)
        self.private_ips = {}
        self.machines: dict[str, Machine] = {}
        for server in args.servers:
            takes_backups = server.name == args.backup.server
            tls = (args.tls_secret_arns[server.name],) if server.name in args.tls_secret_arns else ()
            machine = place_machine(f"{name}-{server.name}", MachineArgs(
                host=server.name, hostname=server.hostname,
                instance_type=args.instance_types[server.role], user_data=args.user_data[server.name],
                subnet_id=args.subnet_ids[server.zone], security_group_id=args.security_group_id,
                root_volume_gb=ROOT_VOLUME_GB,
                data_volume=DataVolume(size_gb=args.data_volume_gb, zone=server.zone,
                                       deletable=args.data_volumes_deletable),
                # Its passwords (components/job_users.py: no secondary reads the admin's) and its own
                # certificate: never another server's key.
                reads_secrets=(*args.password_arns[server.name], *tls),
                backups=args.backup.bucket if takes_backups else None,
                # Read through IMDSv2: setup-neo4j.sh its data volume's id (DataVolumeId, added by
                # place_machine), neo4j-backup.sh its bucket.
                tags={"Role": server.role,
                      **({"BackupBucket": args.backup.bucket_name} if takes_backups else {}),
                      # What refresh-backup-tooling.sh (root) may install: changed in place by each `up`.
                      **({TOOLING_SHA256_TAG: args.backup.tooling_sha256}
                         if takes_backups and args.backup.tooling_sha256 else {})},
                metadata_tags=True,
                # `restore.py --cluster` seeds a database on every member from a backup's s3:// URI: each
                # server reads the stack's backups (read-only; the servers hold the same data anyway).
                seeds_from=None if takes_backups else args.backup.bucket,  # the backup server reads them anyway
                released=server.name in args.released,
            ), args.context, self)
            self.private_ips[server.name] = machine.instance.private_ip
            self.machines[server.name] = machine
        self.register_outputs({"privateIps": self.private_ips})


# A Fabric proxy stores no graph: its data volume holds its own `system` database (users, roles) and transaction
# logs, which outlive the machine as a server's store does (setup-neo4j.sh mounts it the same way).
FABRIC_DATA_VOLUME_GB = 10


@dataclass(frozen=True)
class FabricProxiesArgs:
    """4.4's Fabric proxies (topology.fabric_proxies): standalone DBMSs booted as the servers are."""
    proxies: tuple[Server, ...]
    instance_types: Mapping[str, str]  # proxy name → EC2 type (render.instance_type_of)
    user_data: Mapping[str, str]  # proxy name → rendered cloud-init.yaml
    subnet_ids: Mapping[str, pulumi.Input[str]]  # zone → private subnet
    security_group_id: pulumi.Input[str]
    reads_secrets: Mapping[str, tuple[pulumi.Input[str], ...]]  # proxy name → the admin password, its certificate
    data_volumes_deletable: bool
    context: MachineContext
    released: frozenset[str] = frozenset()


class FabricProxies(pulumi.ComponentResource):
    """One EC2 instance per Fabric proxy, in its zone's private subnet, named and held back as a server is: its
    Name tag <stack>-fabric-<n> is what Prometheus's EC2 discovery looks for (render.ec2_discovery)."""
    private_ips: dict[str, pulumi.Output[str]]  # proxy name → address

    def __init__(self, name: str, args: FabricProxiesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("neo4j-cluster:aws:FabricProxies", name, None, opts)
        self.private_ips = {}
        for proxy in args.proxies:
            machine = place_machine(f"{name}-{proxy.name}", MachineArgs(
                host=proxy.name, hostname=proxy.hostname, instance_type=args.instance_types[proxy.name],
                user_data=args.user_data[proxy.name], subnet_id=args.subnet_ids[proxy.zone],
                security_group_id=args.security_group_id, root_volume_gb=ROOT_VOLUME_GB,
                data_volume=DataVolume(size_gb=FABRIC_DATA_VOLUME_GB, zone=proxy.zone,
                                       deletable=args.data_volumes_deletable),
                reads_secrets=args.reads_secrets[proxy.name],
                tags={"Role": proxy.role},  # the role label Prometheus gives its targets
                released=proxy.name in args.released,
            ), args.context, self)
            self.private_ips[proxy.name] = machine.instance.private_ip
        self.register_outputs({"privateIps": self.private_ips})
