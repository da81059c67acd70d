"""REAL TLS MATERIAL from the tls STAND-IN provider (tests/support/engine/standin_provider.py): what pulumi-tls
computes for the four resource types the program uses (components/program/tls.py), made with the `cryptography`
package, so a stack deployed under the engine (the local stack on the tests' dockerd) serves TLS with keys and
certificates that work. The plan's mocks (components/program/recording.py) keep their placeholders: `make plan`
stays offline and repeatable, and a placeholder is what the stand-in answers too while an input is not known yet
(a preview).

What pulumi-tls's schema says each output holds (pulumi-tls 5.x, from terraform-provider-tls v4's docs):
- tls_private_key: `private_key_pem` "Private key data in PEM (RFC 1421) format" — for ECDSA the SEC1 form
  ("EC PRIVATE KEY"), for RSA PKCS#1; `private_key_pem_pkcs8` the PKCS#8 form; `public_key_pem` "Public key data in
  PEM (RFC 1421) format" (PKIX "PUBLIC KEY"). `algorithm` RSA, ECDSA or ED25519; `ecdsa_curve` P224 (default),
  P256, P384, P521; `rsa_bits` (default 2048).
- tls_cert_request: `cert_request_pem`, with the subject, `dns_names`, `ip_addresses` and `uris` given.
- tls_self_signed_cert / tls_locally_signed_cert: `cert_pem`, valid from now for `validity_period_hours`, the key
  usages of `allowed_uses`, a CA (basic constraints) when `is_ca_certificate`; a locally signed certificate takes
  its subject and names from the request and is signed by `ca_private_key_pem`; `validity_start_time`,
  `validity_end_time` (RFC 3339) and `ready_for_renewal`.
Only these outputs are computed; others the provider has (OpenSSH forms, fingerprints) are not: the program reads
none of them.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

import pulumi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pulumi.runtime import rpc

from components.program.recording import RecordingMocks

SECRET_SIG = rpc._special_sig_key
UNKNOWN = rpc.UNKNOWN
CURVES = {"P224": ec.SECP224R1, "P256": ec.SECP256R1, "P384": ec.SECP384R1, "P521": ec.SECP521R1}
SUBJECT = (("commonName", NameOID.COMMON_NAME), ("organization", NameOID.ORGANIZATION_NAME),
           ("organizationalUnit", NameOID.ORGANIZATIONAL_UNIT_NAME), ("country", NameOID.COUNTRY_NAME),
           ("province", NameOID.STATE_OR_PROVINCE_NAME), ("locality", NameOID.LOCALITY_NAME),
           ("postalCode", NameOID.POSTAL_CODE), ("serialNumber", NameOID.SERIAL_NUMBER))
KEY_USAGES = {"digital_signature": "digital_signature", "content_commitment": "content_commitment",
              "key_encipherment": "key_encipherment", "data_encipherment": "data_encipherment",
              "key_agreement": "key_agreement", "cert_signing": "key_cert_sign", "crl_signing": "crl_sign",
              "encipher_only": "encipher_only", "decipher_only": "decipher_only"}
EXTENDED_USAGES = {"server_auth": ExtendedKeyUsageOID.SERVER_AUTH, "client_auth": ExtendedKeyUsageOID.CLIENT_AUTH,
                   "code_signing": ExtendedKeyUsageOID.CODE_SIGNING,
                   "email_protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
                   "timestamping": ExtendedKeyUsageOID.TIME_STAMPING, "ocsp_signing": ExtendedKeyUsageOID.OCSP_SIGNING}


def revealed(value: Any) -> Any:
    """A secret input's value (the engine hands secrets to a provider that accepts them in an envelope)."""
    if isinstance(value, dict) and SECRET_SIG in value:
        return value.get("value")
    return value


def secret(value: Any) -> dict[str, Any]:
    return {SECRET_SIG: rpc._special_secret_sig, "value": value}


def known(*values: Any) -> bool:
    """Every value given and known (in a preview an input computed by another resource is the unknown sentinel)."""
    return all(value not in (None, "", UNKNOWN) for value in values)


class TlsMaterialMocks(RecordingMocks):
    """RecordingMocks whose tls resources hold real keys and certificates (the aws answers are the mocks' own)."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        inputs = {key: revealed(value) for key, value in args.inputs.items()}
        made = {"tls:index/privateKey:PrivateKey": private_key,
                "tls:index/certRequest:CertRequest": cert_request,
                "tls:index/selfSignedCert:SelfSignedCert": self_signed_cert,
                "tls:index/locallySignedCert:LocallySignedCert": locally_signed_cert}.get(args.typ, lambda _: None)(
            inputs)
        resource_id, state = super().new_resource(args)
        return resource_id, {**state, **(made or {})}


def private_key(inputs: dict[str, Any]) -> dict[str, Any] | None:
    algorithm = inputs.get("algorithm")
    if algorithm == "ECDSA":
        key = ec.generate_private_key(CURVES[inputs.get("ecdsaCurve") or "P224"]())
        traditional = serialization.PrivateFormat.TraditionalOpenSSL  # SEC1 "EC PRIVATE KEY"
    elif algorithm == "RSA":
        key = rsa.generate_private_key(65537, int(inputs.get("rsaBits") or 2048))
        traditional = serialization.PrivateFormat.TraditionalOpenSSL  # PKCS#1 "RSA PRIVATE KEY"
    elif algorithm == "ED25519":
        key = ed25519.Ed25519PrivateKey.generate()
        traditional = serialization.PrivateFormat.PKCS8
    else:
        return None

    def pem(form: serialization.PrivateFormat) -> str:
        return key.private_bytes(serialization.Encoding.PEM, form, serialization.NoEncryption()).decode()

    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return {"privateKeyPem": secret(pem(traditional)),
            "privateKeyPemPkcs8": secret(pem(serialization.PrivateFormat.PKCS8)), "publicKeyPem": public}


def _key(pem: str):
    return serialization.load_pem_private_key(pem.encode(), password=None)


def _hash_for(key) -> hashes.HashAlgorithm | None:
    # Go's x509 (the provider's) signs with SHA-256, SHA-384 for P-384 and SHA-512 for P-521 keys; Ed25519 none.
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA512() if key.curve.key_size > 384 else hashes.SHA384()
    return hashes.SHA256()


def _subject(subject: dict[str, Any] | None) -> x509.Name:
    subject = subject or {}
    return x509.Name([x509.NameAttribute(oid, str(subject[field])) for field, oid in SUBJECT if subject.get(field)])


def _names(inputs: dict[str, Any]) -> list[x509.GeneralName]:
    return ([x509.DNSName(name) for name in inputs.get("dnsNames") or []]
            + [x509.IPAddress(ipaddress.ip_address(address)) for address in inputs.get("ipAddresses") or []]
            + [x509.UniformResourceIdentifier(uri) for uri in inputs.get("uris") or []])


def cert_request(inputs: dict[str, Any]) -> dict[str, Any] | None:
    if not known(inputs.get("privateKeyPem")):
        return None
    key = _key(inputs["privateKeyPem"])
    builder = x509.CertificateSigningRequestBuilder().subject_name(_subject(inputs.get("subject")))
    if _names(inputs):
        builder = builder.add_extension(x509.SubjectAlternativeName(_names(inputs)), critical=False)
    return {"certRequestPem": builder.sign(key, _hash_for(key)).public_bytes(serialization.Encoding.PEM).decode()}


def _certificate(inputs: dict[str, Any], subject: x509.Name, names: list[x509.GeneralName], public_key,
                 issuer: x509.Name, signer) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    end = now + dt.timedelta(hours=int(inputs.get("validityPeriodHours") or 0))
    uses = list(inputs.get("allowedUses") or [])
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=bool(inputs.get("isCaCertificate")), path_length=None),
                              critical=True))
    key_usage = {flag: False for flag in KEY_USAGES.values()}
    key_usage.update({KEY_USAGES[use]: True for use in uses if use in KEY_USAGES})
    if any(key_usage.values()):
        builder = builder.add_extension(x509.KeyUsage(**key_usage), critical=True)
    extended = [EXTENDED_USAGES[use] for use in uses if use in EXTENDED_USAGES]
    if extended:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended), critical=False)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if inputs.get("isCaCertificate") or inputs.get("setSubjectKeyId"):
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    certificate = builder.sign(signer, _hash_for(signer))
    return {"certPem": certificate.public_bytes(serialization.Encoding.PEM).decode(),
            "validityStartTime": now.isoformat().replace("+00:00", "Z"),
            "validityEndTime": end.isoformat().replace("+00:00", "Z"), "readyForRenewal": False}


def self_signed_cert(inputs: dict[str, Any]) -> dict[str, Any] | None:
    if not known(inputs.get("privateKeyPem")):
        return None
    key = _key(inputs["privateKeyPem"])
    subject = _subject(inputs.get("subject"))
    return _certificate(inputs, subject, _names(inputs), key.public_key(), subject, key)


def locally_signed_cert(inputs: dict[str, Any]) -> dict[str, Any] | None:
    if not known(inputs.get("certRequestPem"), inputs.get("caPrivateKeyPem"), inputs.get("caCertPem")):
        return None
    request = x509.load_pem_x509_csr(inputs["certRequestPem"].encode())
    ca = x509.load_pem_x509_certificate(inputs["caCertPem"].encode())
    try:
        names = list(request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        names = []
    return _certificate(inputs, request.subject, names, request.public_key(), ca.subject,
                        _key(inputs["caPrivateKeyPem"]))
