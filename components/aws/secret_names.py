"""Names of the secrets a stack keeps in AWS Secrets Manager.

Fixed, derivable names let the rendered user data fetch its secrets at boot without holding
them, or even their ARNs: the adapter creates secrets under exactly these names.
"""
from __future__ import annotations

from dataclasses import dataclass

from components.job_users import job_users
from components.settings import Settings
from components.topology import ClusterTopology


@dataclass(frozen=True)
class SecretNames:
    admin_password: str
    admin_auth: str  # the admin's auth.ini line (salted hash), for the primaries but the first
    grafana_admin_password: str
    user_passwords: str
    ca: str  # the cluster CA certificate (public, kept beside the keys for one lookup path)
    tls: dict[str, str]  # server name → secret holding {"key", "cert", "ca"} PEMs
    grafana_tls: str  # the monitoring node's Grafana certificate, {"key", "cert", "ca"} PEMs
    entry_tls: str  # the entry certificate HAProxy serves: its certificate and key PEMs in one (HAProxy's crt)
    job_users: dict[str, str]  # job user (components/job_users.py) → secret holding its password
    # The remote aliases' keystore, {"keystore": <PKCS12, base64>, "password": …}, read by every Neo4j server alone
    alias_keystore: str = ""
    # neo4j:gdsLicense, the licence's text, read by the roles of the servers that run GDS alone
    gds_license: str = ""


def alias_keystore_secret(stack: str) -> str:
    return f"neo4j-cluster/{stack}/alias-keystore"


def gds_license_secret(stack: str) -> str:
    return f"neo4j-cluster/{stack}/gds-license"


def secret_names(settings: Settings, topology: ClusterTopology) -> SecretNames:
    prefix = f"neo4j-cluster/{settings.stack}"
    return SecretNames(
        admin_password=f"{prefix}/admin-password",
        admin_auth=f"{prefix}/admin-auth",
        grafana_admin_password=f"{prefix}/grafana-admin-password",
        user_passwords=f"{prefix}/user-passwords",
        ca=f"{prefix}/tls/ca",
        tls={s.name: f"{prefix}/tls/{s.name}" for s in topology.neo4j_hosts},  # 4.4's Fabric proxies too
        grafana_tls=f"{prefix}/tls/grafana",
        entry_tls=f"{prefix}/tls/entry",
        job_users={u.name: f"{prefix}/neo4j-users/{u.name}" for u in job_users(settings, topology)},
        alias_keystore=alias_keystore_secret(settings.stack),
        gds_license=gds_license_secret(settings.stack),
    )
