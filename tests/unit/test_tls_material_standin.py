"""The tls STAND-IN's real material (tests/support/engine/tls_material.py): keys and certificates that work, in the
forms pulumi-tls documents, made from the inputs components/program/tls.py gives; placeholders while an input is not
known (a preview)."""
from __future__ import annotations

import datetime as dt
import ipaddress

import pulumi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.engine.tls_material import UNKNOWN, TlsMaterialMocks, revealed, secret


def made(mocks: TlsMaterialMocks, typ: str, name: str, **inputs) -> dict:
    _, state = mocks.new_resource(pulumi.runtime.MockResourceArgs(typ, name, inputs, provider=None, resource_id=None,
                                                                  custom=True))
    return {key: revealed(value) for key, value in state.items()}


@pytest.fixture(scope="module")
def cluster_ca():
    """A CA and a server certificate with the inputs ClusterCertificates gives pulumi-tls."""
    mocks = TlsMaterialMocks()
    ca_key = made(mocks, "tls:index/privateKey:PrivateKey", "ca", algorithm="ECDSA", ecdsaCurve="P384")
    ca = made(mocks, "tls:index/selfSignedCert:SelfSignedCert", "ca", privateKeyPem=secret(ca_key["privateKeyPem"]),
              isCaCertificate=True, validityPeriodHours=87600, earlyRenewalHours=8760,
              allowedUses=["cert_signing", "crl_signing", "digital_signature"],
              subject={"commonName": "neo4j-cluster local.neo4j.internal CA", "organization": "neo4j-cluster"})
    key = made(mocks, "tls:index/privateKey:PrivateKey", "core-1", algorithm="ECDSA", ecdsaCurve="P256")
    request = made(mocks, "tls:index/certRequest:CertRequest", "core-1", privateKeyPem=secret(key["privateKeyPem"]),
                   dnsNames=["core-1.local.neo4j.internal", "core-1"], ipAddresses=["127.0.0.1"],
                   subject={"commonName": "core-1.local.neo4j.internal", "organization": "neo4j-cluster"})
    cert = made(mocks, "tls:index/locallySignedCert:LocallySignedCert", "core-1",
                certRequestPem=request["certRequestPem"], caPrivateKeyPem=secret(ca_key["privateKeyPem"]),
                caCertPem=ca["certPem"], validityPeriodHours=8760, earlyRenewalHours=720,
                allowedUses=["digital_signature", "key_encipherment", "server_auth", "client_auth"])
    return ca_key, ca, key, cert


def test_an_ecdsa_key_is_sec1_pem_with_its_pkcs8_and_public_forms(cluster_ca):
    _, _, key, _ = cluster_ca
    # pulumi-tls: private_key_pem "Private key data in PEM (RFC 1421) format" (for ECDSA, SEC1).
    assert key["privateKeyPem"].startswith("-----BEGIN EC PRIVATE KEY-----")
    assert key["privateKeyPemPkcs8"].startswith("-----BEGIN PRIVATE KEY-----")
    private = serialization.load_pem_private_key(key["privateKeyPem"].encode(), None)
    assert isinstance(private, ec.EllipticCurvePrivateKey) and private.curve.name == "secp256r1"
    public = serialization.load_pem_public_key(key["publicKeyPem"].encode())
    assert public.public_numbers() == private.public_key().public_numbers()


def test_the_ca_is_self_signed_a_ca_and_may_sign_certificates(cluster_ca):
    ca_key, ca, _, _ = cluster_ca
    certificate = x509.load_pem_x509_certificate(ca["certPem"].encode())
    certificate.verify_directly_issued_by(certificate)
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and usage.digital_signature and not usage.key_encipherment
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == \
        "neo4j-cluster local.neo4j.internal CA"
    ca_private = serialization.load_pem_private_key(ca_key["privateKeyPem"].encode(), None)
    assert certificate.public_key().public_numbers() == ca_private.public_key().public_numbers()
    assert certificate.not_valid_after_utc - certificate.not_valid_before_utc == dt.timedelta(hours=87600)


def test_a_server_certificate_is_signed_by_the_ca_for_the_requests_key_names_and_uses(cluster_ca):
    _, ca, key, cert = cluster_ca
    certificate = x509.load_pem_x509_certificate(cert["certPem"].encode())
    certificate.verify_directly_issued_by(x509.load_pem_x509_certificate(ca["certPem"].encode()))
    private = serialization.load_pem_private_key(key["privateKeyPem"].encode(), None)
    assert certificate.public_key().public_numbers() == private.public_key().public_numbers()
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["core-1.local.neo4j.internal", "core-1"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert not certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert list(certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
    assert cert["validityEndTime"] > cert["validityStartTime"] and cert["readyForRenewal"] is False


def test_while_an_input_is_unknown_the_outputs_are_the_plans_placeholders():
    mocks = TlsMaterialMocks()
    request = made(mocks, "tls:index/certRequest:CertRequest", "core-1", privateKeyPem=UNKNOWN,
                   subject={"commonName": "core-1"})
    assert request["certRequestPem"] == "-----BEGIN CERTIFICATE REQUEST-----\nmock certificate request of core-1\n" \
                                        "-----END CERTIFICATE REQUEST-----\n"
