"""The REHEARSAL CA: one certificate authority per rehearsal run, which signs what stands in for a public certificate
on AWS (the TLS of the AWS API stand-in and of the apt repository stand-in) and the stack's own TLS material (the
certificates the program would create with pulumi-tls and store in Secrets Manager).

Its certificate goes into the machine's trust store (machine.py: /usr/local/share/ca-certificates, then the
machine's own update-ca-certificates), as a company CA does in an AMI: the boot scripts' curl, apt and AWS CLI then
verify the stand-ins as they verify Amazon's and Neo4j's certificates, with nothing turned off.
"""
from __future__ import annotations

import datetime
import ipaddress
import json
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 30


@dataclass(frozen=True)
class Issued:
    cert_pem: str
    key_pem: str

    def crt_file(self) -> str:
        """HAProxy's `crt` file as the program stores it (components/program/tls.py crt_file): certificate, key."""
        return self.cert_pem + self.key_pem


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "neo4j-cluster boot rehearsal"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass(frozen=True)
class RehearsalCA:
    cert_pem: str
    key_pem: str

    @classmethod
    def create(cls) -> RehearsalCA:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        name = _name("neo4j-cluster rehearsal CA")
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        return cls(cert.public_bytes(serialization.Encoding.PEM).decode(), _key_pem(key))

    def issue(self, names: tuple[str, ...]) -> Issued:
        """A server certificate for `names` (DNS names; IP addresses become IP SANs), the first its CN."""
        ca_key = serialization.load_pem_private_key(self.key_pem.encode(), password=None)
        ca_cert = x509.load_pem_x509_certificate(self.cert_pem.encode())
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        sans: list[x509.GeneralName] = []
        for name in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        cert = (x509.CertificateBuilder().subject_name(_name(names[0])).issuer_name(ca_cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                      ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        return Issued(cert.public_bytes(serialization.Encoding.PEM).decode(), _key_pem(key))

    def server_material(self, names: tuple[str, ...]) -> str:
        """A server's TLS secret as components/aws/secrets.py stores it: JSON with key, cert and ca."""
        issued = self.issue(names)
        return json.dumps({"key": issued.key_pem, "cert": issued.cert_pem, "ca": self.cert_pem})
