"""Secrets Manager entries under the fixed names of components/aws/secret_names.py.

The machines read them at boot with their own role, so user data never carries a secret. Values
stay Pulumi secrets on the way in.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.secret_names import SecretNames
from components.program.tls import ServerCertificate, crt_file


@dataclass(frozen=True)
class ClusterSecretsArgs:
    names: SecretNames
    admin_password: pulumi.Input[str]
    admin_auth: pulumi.Input[str] | None = None  # the admin's auth.ini line (passwords.admin_auth_line)
    recovery_window_days: int = 30  # a deleted secret can be restored this long (Secrets Manager allows 7 to 30)
    grafana_admin_password: pulumi.Input[str] | None = None  # None: no monitoring node
    user_passwords: pulumi.Input[str] | None = None  # JSON object name → password; None: no users
    ca_cert_pem: pulumi.Input[str] | None = None  # None: TLS disabled
    certificates: Mapping[str, ServerCertificate] = field(default_factory=dict)  # server name → key + cert
    grafana_certificate: ServerCertificate | None = None  # None: no monitoring node, or TLS disabled
    job_passwords: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)  # job user → its password
    entry_certificate: ServerCertificate | None = None  # HAProxy's (render.entry_terminates_tls); else None
    kms_key_id: pulumi.Input[str] | None = None  # the stack's secrets key (keys.py); None: Secrets Manager's aws/ key
    alias_keystore: pulumi.Input[str] | None = None  # JSON {"keystore", "password"}; None: no remote alias
    gds_license: pulumi.Input[str] | None = None  # neo4j:gdsLicense's text; None: none given (or no GDS)


class ClusterSecrets(pulumi.ComponentResource):
    arns: dict[str, pulumi.Output[str]]  # secret name → ARN

    def __init__(self, name: str, args: ClusterSecretsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("neo4j-cluster:aws:ClusterSecrets", name, None, opts)
        names = args.names
        entries: list[tuple[str, str, pulumi.Input[str]]] = [("admin-password", names.admin_password,
                                                               args.admin_password)]
        if args.admin_auth is not None:
            entries.append(("admin-auth", names.admin_auth, args.admin_auth))
        if args.grafana_admin_password is not None:
            entries.append(("grafana-admin-password", names.grafana_admin_password, args.grafana_admin_password))
        if args.user_passwords is not None:
            entries.append(("user-passwords", names.user_passwords, args.user_passwords))
        for user, password in args.job_passwords.items():
            entries.append((f"neo4j-user-{user.replace('_', '-')}", names.job_users[user], password))
        if args.ca_cert_pem is not None:
            # Plain PEM: HAProxy writes it straight to its CA file.
            entries.append(("tls-ca", names.ca, args.ca_cert_pem))
        for server, certificate in args.certificates.items():
            material = pulumi.Output.json_dumps(
                {"key": certificate.private_key_pem, "cert": certificate.cert_pem, "ca": args.ca_cert_pem})
            entries.append((f"tls-{server}", names.tls[server], material))
        if args.grafana_certificate is not None:
            certificate = args.grafana_certificate
            entries.append(("tls-grafana", names.grafana_tls, pulumi.Output.json_dumps(
                {"key": certificate.private_key_pem, "cert": certificate.cert_pem, "ca": args.ca_cert_pem})))

        if args.entry_certificate is not None:
            # One PEM, the certificate then its key: HAProxy's `crt` file, written as it is (haproxy.yaml.j2).
            certificate = args.entry_certificate
            entries.append(("tls-entry", names.entry_tls, crt_file(certificate)))

        if args.alias_keystore is not None:
            # The stack config's, as it is: the same key at every `pulumi up` (program/stack_config.alias_keystore).
            entries.append(("alias-keystore", names.alias_keystore, args.alias_keystore))
        if args.gds_license is not None:
            entries.append(("gds-license", names.gds_license, args.gds_license))

        self.arns = {}
        for label, secret_name, value in entries:
            secret = aws.secretsmanager.Secret(
                f"{name}-{label}", name=secret_name,
                # A deletion (a destroy, a server removed, a mistaken change) can be undone with
                # `aws secretsmanager restore-secret` for this many days. DeleteSecret (Secrets Manager API
                # Reference): "The minimum recovery window is 7 days. The default recovery window is 30 days."
                # The name stays taken meanwhile: restore the secret (or delete it for good with
                # --force-delete-without-recovery) before re-creating a destroyed stack under the same names.
                recovery_window_in_days=args.recovery_window_days,
                # The stack's own key: only the roles its policy names decrypt, each only its own secrets (keys.py).
                kms_key_id=args.kms_key_id,
                opts=pulumi.ResourceOptions(parent=self))
            version = aws.secretsmanager.SecretVersion(f"{name}-{label}", secret_id=secret.id,
                                                       secret_string=pulumi.Output.secret(value),
                                                       opts=pulumi.ResourceOptions(parent=self))
            # The ARN resolves once the value is stored: a machine reading it at boot (its policy names the
            # ARN, its instance waits for the policy) never asks for a secret that has no version yet.
            self.arns[secret_name] = pulumi.Output.all(secret.arn, version.id).apply(lambda values: values[0])
        self.register_outputs({"arns": self.arns})
