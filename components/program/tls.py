"""The cluster's own CA and one certificate per server (pulumi-tls), shared by AWS and Docker.

Each server certificate names the server's stable DNS name (and `localhost` for checks run on the
machine itself). Private keys are Pulumi secrets end to end.
"""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_tls as tls

from components.topology import ClusterTopology

# Renewed by `pulumi up` when fewer than 30 days remain.
CA_VALIDITY_HOURS = 10 * 365 * 24
SERVER_VALIDITY_HOURS = 2 * 365 * 24
EARLY_RENEWAL_HOURS = 30 * 24


@dataclass(frozen=True)
class ServerCertificate:
    private_key_pem: pulumi.Output[str]  # secret
    cert_pem: pulumi.Output[str]


class ClusterCertificates(pulumi.ComponentResource):
    """CA + per-server certificates. `ca_cert_pem` is public; every private key is a secret."""

    ca_cert_pem: pulumi.Output[str]
    servers: dict[str, ServerCertificate]

    def __init__(self, name: str, topology: ClusterTopology, opts: pulumi.ResourceOptions | None = None):
        super().__init__("neo4j-cluster:tls:ClusterCertificates", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ca_key = tls.PrivateKey(f"{name}-ca", algorithm="ECDSA", ecdsa_curve="P384", opts=child)
        ca = tls.SelfSignedCert(
            f"{name}-ca", private_key_pem=ca_key.private_key_pem, is_ca_certificate=True,
            validity_period_hours=CA_VALIDITY_HOURS, early_renewal_hours=EARLY_RENEWAL_HOURS,
            allowed_uses=["cert_signing", "crl_signing", "digital_signature"],
            subject={"common_name": f"neo4j-cluster {topology.domain} CA", "organization": "neo4j-cluster"},
            opts=child)
        self.ca_cert_pem = ca.cert_pem
        self.servers = {}
        for server in topology.servers:
            key = tls.PrivateKey(f"{name}-{server.name}", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
            request = tls.CertRequest(
                f"{name}-{server.name}", private_key_pem=key.private_key_pem,
                # HAProxy passes TLS through, so clients reaching it see the server's certificate.
                dns_names=[server.hostname, server.name, "localhost",
                           *([topology.haproxy.hostname] if topology.haproxy else [])],
                ip_addresses=["127.0.0.1"],
                subject={"common_name": server.hostname, "organization": "neo4j-cluster"}, opts=child)
            cert = tls.LocallySignedCert(
                f"{name}-{server.name}", cert_request_pem=request.cert_request_pem,
                ca_private_key_pem=ca_key.private_key_pem, ca_cert_pem=ca.cert_pem,
                validity_period_hours=SERVER_VALIDITY_HOURS, early_renewal_hours=EARLY_RENEWAL_HOURS,
                # Servers are both TLS servers and, inside the cluster, TLS clients of each other.
                allowed_uses=["digital_signature", "key_encipherment", "server_auth", "client_auth"],
                opts=child)
            self.servers[server.name] = ServerCertificate(pulumi.Output.secret(key.private_key_pem), cert.cert_pem)
        self.register_outputs({"caCertPem": self.ca_cert_pem})
