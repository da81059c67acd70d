"""AWS adapter: places the rendered artifacts on EC2 in a VPC of their own.

Reads top to bottom like the stack: the machines' files (the neutral render plus what only EC2 needs,
components/aws/user_data.py), network and security groups, certificates and secrets, the backup bucket,
then the machines (Neo4j servers, HAProxy, monitoring), and the outputs.
"""
from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.aws.backup_store import BackupCopies, BackupStore, BackupStoreArgs, OffsiteAccount, backup_copies
from components.aws.egress import interface_services, package_sources, plan_egress
from components.aws.keys import EncryptionKeys, EncryptionKeysArgs, KeyUsers, MachineKeys, deploy_principal
from components.aws.load_balancer import LoadBalancer, LoadBalancerArgs
from components.aws.machine import HELD_BACK_ON_SERVERS, BucketAccess, MachineContext
from components.aws.monitoring import Monitoring, MonitoringArgs
from components.aws.network import Network, NetworkArgs
from components.aws.secret_names import SecretNames, secret_names
from components.aws.secrets import ClusterSecrets, ClusterSecretsArgs
from components.aws.security import (
    ENDPOINTS,
    ENTRY,
    FABRIC,
    HAPROXY,
    MONITORING,
    NEO4J,
    SecurityGroups,
    SecurityGroupsArgs,
    plan_flows,
    plan_groups,
)
from components.aws.servers import BackupAccess, FabricProxies, FabricProxiesArgs, Neo4jServers, Neo4jServersArgs
from components.aws.sessions import SessionLogging, SessionLoggingArgs
from components.aws.stack import aws_provider, machine_images, stack_outputs
from components.aws.user_data import aws_artifacts, backup_tooling_files, haproxy_needs_the_ca
from components.job_users import job_passwords_read_by, reads_admin_password, sets_password_from_hash
from components.outputs import Deployment
from components.passwords import admin_auth_line, admin_password_problems, job_password
from components.program.stack_config import AliasKeystore, alias_keystore
from components.program.tls import ClusterCertificates
from components.render import GDS_LICENSE_KEY, RenderedCluster, entry_terminates_tls, gds_license_file, instance_type_of
from components.settings import NAMESPACE, Settings
from components.tooling import archive_sha256, tooling_archive_base64
from components.topology import PRIMARY, SECONDARY, ClusterTopology

# What code outside the adapter may use (the offline plan, scripts/neo4j_ops/plan/, reads the last three):
# tests/unit/test_import_direction.py holds scripts/ to this package and away from its modules.
__all__ = ["build_aws", "HELD_BACK_ON_SERVERS", "BackupCopies", "backup_copies"]

NAME = "cluster"  # every component's name; children are named "cluster-…"


def build_aws(settings: Settings, topology: ClusterTopology, rendered: RenderedCluster) -> Deployment:
    if settings.backup_replica_region == settings.region:
        raise pulumi.RunError(f"{NAMESPACE}:backupReplicaRegion: got {settings.region!r}, the cluster's own region; "
                              f"allowed: another region, or empty for no replica")
    # The engine hands the program its secrets decrypted: a missing or bad admin password stops it here, before
    # any resource, not the servers at their first boot.
    config = pulumi.Config(NAMESPACE)
    config.require_secret("adminPassword")
    if problems := admin_password_problems(pulumi.runtime.get_config(config.full_key("adminPassword")), settings):
        raise pulumi.RunError("invalid stack config:\n" + "\n".join(problems))  # no traceback, no password
    keystore = alias_keystore(settings)  # remote aliases: a missing keystore stops the program here too
    artifacts = aws_artifacts(settings, topology, rendered)
    provider = aws_provider(settings)
    opts = pulumi.ResourceOptions(providers=[provider])
    partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(provider=provider))

    network = Network(NAME, NetworkArgs(
        stack=settings.stack, vpc_cidr=settings.vpc_cidr, zones=settings.availability_zones,
        nat_gateway_per_zone=settings.nat_gateway_per_zone, domain=topology.domain,
        s3_service_name=pulumi.Output.concat(partition.reverse_dns_prefix, f".{settings.region}.s3")), opts)
    groups = SecurityGroups(NAME, SecurityGroupsArgs(
        stack=settings.stack, vpc_id=network.vpc_id, groups=plan_groups(topology),
        flows=plan_flows(settings, topology, rendered.servers, rendered.fabric_proxies),
        egress=plan_egress(settings.egress, plan_groups(topology),
                           package_sources(settings.apt_repository_url, settings.apt_signing_key_url)),
        s3_prefix_list_id=network.s3_prefix_list_id), opts)
    # neo4j:egress endpoints: the AWS APIs the machines call, through interface endpoints of the VPC (egress.py).
    if services := interface_services(settings.egress):
        network.add_interface_endpoints([service.name for service in services],
                                        pulumi.Output.concat(partition.reverse_dns_prefix, f".{settings.region}"),
                                        groups.ids[ENDPOINTS])

    # Customer-managed keys for the backups and the secrets (keys.py); the off-site replica's key is the other
    # account's when the replica lives there.
    offsite = (OffsiteAccount(settings.backup_replica_account_id, settings.backup_replica_bucket,
                              settings.backup_replica_key_arn, partition=settings.backup_replica_key_arn.split(":")[1])
               if settings.backup_replica_region and settings.backup_replica_account_id else None)
    keys = EncryptionKeys(NAME, EncryptionKeysArgs(
        stack=settings.stack, replica_region=settings.backup_replica_region if offsite is None else ""), opts)
    names = secret_names(settings, topology)
    certificates = (ClusterCertificates(NAME, topology, grafana=True, entry=entry_terminates_tls(settings))
                    if settings.tls != "disabled" else None)
    secrets = ClusterSecrets(NAME, _secret_values(settings, topology, names, certificates, keys.secrets.arn, keystore),
                             opts)
    # The backup tooling with this stack's backup job (job/): user data cannot hold the job (EC2's 16 KB).
    tooling = tooling_archive_base64(backup_tooling_files(artifacts, topology))
    backups = BackupStore(NAME, BackupStoreArgs(
        stack=settings.stack, retention_days=settings.backup_retention_days, chain_days=settings.backup_chain_days,
        transition_days=settings.backup_transition_days,
        transition_storage_class=settings.backup_transition_storage_class,
        noncurrent_days=settings.backup_noncurrent_days, replica_region=settings.backup_replica_region,
        tooling_archive_base64=tooling, region=settings.region, key_arn=keys.backups.arn,
        replica_key_arn=keys.replica.arn if keys.replica is not None else None, replica_account=offsite), opts)

    network.limit_s3_endpoint(backups.bucket_arns, settings.region, partition.partition)
    sessions = SessionLogging(NAME, SessionLoggingArgs(stack=settings.stack), opts)
    # Objects only under the stack's prefix, where the backup job writes.
    stack_backups = pulumi.Output.concat(backups.bucket_arn, f"/{settings.stack}/*")
    key_users = KeyUsers()  # filled as the machines are placed: each key's policy names exactly these roles
    context = MachineContext(
        stack=settings.stack, images=machine_images(settings, topology, provider), dns_zone_id=network.dns_zone_id,
        backup_bucket_arns=backups.bucket_arns,
        session_log_group_arn=sessions.log_group_arn,
        keys=MachineKeys(region=settings.region, backups_key_arn=keys.backups.arn, secrets_key_arn=keys.secrets.arn,
                         backups_bucket_arn=backups.bucket_arn, users=key_users))
    servers = Neo4jServers(NAME, Neo4jServersArgs(
        servers=topology.servers,
        instance_types={PRIMARY: settings.core_instance_type, SECONDARY: settings.replica_instance_type},
        user_data={s.name: artifacts[s.name]["cloud-init.yaml"] for s in topology.servers},
        subnet_ids=network.private_subnet_ids, security_group_id=groups.ids[NEO4J],
        data_volume_gb=settings.data_volume_size_gb, data_volumes_deletable=settings.data_volumes_deletable,
        # The admin password only where it is used (primaries), and the passwords of the server's own jobs.
        password_arns={s.name: (((secrets.arns[names.admin_password],) if reads_admin_password(topology, s) else ())
                                + ((secrets.arns[names.admin_auth],) if sets_password_from_hash(topology, s) else ())
                                + tuple(secrets.arns[names.job_users[user]]
                                        for user in job_passwords_read_by(settings, topology, s))
                                # Remote aliases: the same keystore on every server, and on no other machine.
                                + ((secrets.arns[names.alias_keystore],) if keystore else ())
                                # The GDS licence on the servers that run GDS alone.
                                + ((secrets.arns[names.gds_license],) if gds_license_file(settings, s) else ()))
                       for s in topology.servers},
        tls_secret_arns={s.name: secrets.arns[names.tls[s.name]] for s in topology.servers if certificates},
        backup=BackupAccess(server=topology.backup_server.name, bucket_name=backups.bucket_name,
                            tooling_sha256=archive_sha256(tooling),
                            bucket=BucketAccess(bucket_arn=backups.bucket_arn, objects_arn=stack_backups,
                                                tooling_arn=backups.tooling_arn)),
        context=context, released=frozenset(settings.rollout_release)), opts)
    private_ips = dict(servers.private_ips)
    if topology.fabric_proxies:
        # 4.4's Fabric proxies: standalone DBMSs booted as the servers are (their user data, setup-neo4j.sh in
        # dbms.mode=SINGLE with the Fabric conf render gave them), each reading the admin password (its own
        # `system` sets it) and its own certificate, in a group of their own (security.py).
        proxies = FabricProxies(NAME, FabricProxiesArgs(
            proxies=topology.fabric_proxies,
            instance_types={p.name: instance_type_of(settings, p) for p in topology.fabric_proxies},
            user_data={p.name: artifacts[p.name]["cloud-init.yaml"] for p in topology.fabric_proxies},
            subnet_ids=network.private_subnet_ids, security_group_id=groups.ids[FABRIC],
            reads_secrets={p.name: ((secrets.arns[names.admin_password],) if reads_admin_password(topology, p) else ())
                           + ((secrets.arns[names.tls[p.name]],) if certificates else ())
                           for p in topology.fabric_proxies},
            data_volumes_deletable=settings.data_volumes_deletable, context=context,
            released=frozenset(settings.rollout_release)), opts)
        private_ips.update(proxies.private_ips)

    haproxy_address = None
    if topology.haproxy:
        # The entry point: an HAProxy pair in two zones behind a Network Load Balancer (load_balancer.py).
        public = settings.haproxy_public
        balancer = LoadBalancer(NAME, LoadBalancerArgs(
            entry=topology.haproxy, nodes=topology.haproxy_nodes, instance_type=settings.haproxy_instance_type,
            user_data={n.name: artifacts[n.name]["cloud-init.yaml"] for n in topology.haproxy_nodes},
            haproxy_cfg=artifacts["haproxy"]["haproxy.cfg"], vpc_id=network.vpc_id,
            node_subnet_ids=network.private_subnet_ids,
            balancer_subnet_ids=network.public_subnet_ids if public else network.private_subnet_ids,
            security_group_id=groups.ids[HAPROXY], balancer_security_group_id=groups.ids[ENTRY],
            config_bucket=backups.bucket_name, config_bucket_arn=backups.bucket_arn,
            # The CA to verify the servers (HTTPS health checks and Bolt, TLS required) and the entry certificate it
            # serves; no other machine reads the entry's key.
            reads_secrets=((secrets.arns[names.ca],) if haproxy_needs_the_ca(rendered) else ())
            + ((secrets.arns[names.entry_tls],) if entry_terminates_tls(settings) else ()),
            context=context, released=frozenset(settings.rollout_release), public=public), opts)
        haproxy_address = balancer.address
    monitoring = None
    if topology.monitoring:
        monitoring = Monitoring(NAME, MonitoringArgs(
            node=topology.monitoring, instance_type=settings.monitoring_instance_type,
            user_data=artifacts["monitoring"]["cloud-init.yaml"],
            subnet_id=network.private_subnet_ids[topology.monitoring.zone], security_group_id=groups.ids[MONITORING],
            reads_secrets=(secrets.arns[names.grafana_admin_password],
                           *((secrets.arns[names.grafana_tls],) if certificates else ())), context=context,
            data_volumes_deletable=settings.data_volumes_deletable, grafana_https=certificates is not None), opts)

    caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=provider))
    keys.apply_policies(
        account_root=pulumi.Output.concat("arn:", partition.partition, ":iam::", caller.account_id, ":root"),
        deploy=deploy_principal(pulumi.InvokeOutputOptions(provider=provider)), region=settings.region,
        users=key_users, bucket_arn=backups.bucket_arn, secret_arns=list(secrets.arns.values()),
        replication=backups.backups_key_uses, replica=backups.replica_key_uses)

    return Deployment(artifacts, stack_outputs(
        settings, topology, private_ips=private_ips, haproxy_address=haproxy_address,
        grafana_url=monitoring.grafana_url if monitoring else None,
        prometheus_url=monitoring.prometheus_url if monitoring else None,
        backup_bucket=backups.bucket_name, secret_arns=secrets.arns,
        ca_cert_pem=certificates.ca_cert_pem if certificates else None,
        offsite_account_policies=backups.offsite_account_policies))


def _secret_values(settings: Settings, topology: ClusterTopology, names: SecretNames,
                   certificates: ClusterCertificates | None, kms_key_id: pulumi.Input[str],
                   keystore: AliasKeystore | None = None) -> ClusterSecretsArgs:
    """Passwords from the stack's secret config; a missing one stops the program with the command to set it."""
    config = pulumi.Config(NAMESPACE)
    return ClusterSecretsArgs(
        names=names,
        recovery_window_days=settings.secret_recovery_window_days,
        kms_key_id=kms_key_id,
        admin_password=config.require_secret("adminPassword"),
        # Its hash, for the primaries that set the initial password but never read it (job_users.py).
        admin_auth=config.require_secret("adminPassword").apply(
            lambda password: admin_auth_line(password, settings.stack)) if settings.core_count > 1 else None,
        grafana_admin_password=config.require_secret("grafanaAdminPassword") if settings.monitoring else None,
        user_passwords=config.require_secret("userPasswords") if settings.users else None,
        ca_cert_pem=certificates.ca_cert_pem if certificates else None,
        certificates=certificates.servers if certificates else {},
        grafana_certificate=certificates.grafana if certificates else None,
        entry_certificate=certificates.entry if certificates else None,
        # Derived from the admin password (components/passwords.job_password): stable, one-way, one per job.
        job_passwords={user: config.require_secret("adminPassword").apply(
            lambda password, user=user: job_password(password, settings.stack, user)) for user in names.job_users},
        alias_keystore=pulumi.Output.json_dumps({"keystore": keystore.keystore_base64, "password": keystore.password})
        if keystore else None,
        gds_license=config.require_secret(GDS_LICENSE_KEY)
        if any(gds_license_file(settings, s) for s in topology.servers) else None,
    )
