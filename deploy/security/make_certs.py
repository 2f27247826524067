"""A private CA and one certificate per Kafka broker (PEM), for SASL_SSL clients and the mutual-TLS
controller listener of deploy/security/kafka-sasl-ssl.properties.

    python deploy/security/make_certs.py OUT_DIR --host kafka-0.kafka --host kafka-1.kafka [--days 365]

Writes OUT_DIR/ca.pem (give it to clients: KAFKA_SSL_CAFILE), OUT_DIR/ca-key.pem (keep offline) and, per
host, OUT_DIR/<host>.pem: the private key (PKCS#8, unencrypted: protect the file, mode 0600) followed by
its certificate and the CA's, which is what Kafka's PEM keystore expects. The certificate's subject is
CN=<host> and it names the host (and 127.0.0.1 when --loopback) as subjectAltName.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mednet"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_ca(days: int) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    name = _name("mednet kafka CA")
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                content_commitment=False, key_encipherment=False,
                                                data_encipherment=False, key_agreement=False, encipher_only=False,
                                                decipher_only=False), critical=True)
                   .sign(key, hashes.SHA256()))
    return key, certificate


def make_host(host: str, ca_key, ca: x509.Certificate, days: int, loopback: bool):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    names: list[x509.GeneralName] = [x509.DNSName(host)]
    if loopback:
        names += [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    certificate = (x509.CertificateBuilder().subject_name(_name(host)).issuer_name(ca.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
                   .add_extension(x509.SubjectAlternativeName(names), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                         ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                   .sign(ca_key, hashes.SHA256()))
    return key, certificate


def write(out: Path, hosts: list[str], days: int = 365, loopback: bool = False) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    ca_key, ca = make_ca(days)
    (out / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    _private(out / "ca-key.pem", _key_pem(ca_key))
    written = {"ca": out / "ca.pem"}
    for host in hosts:
        key, certificate = make_host(host, ca_key, ca, days, loopback)
        _private(out / f"{host}.pem", _key_pem(key) + certificate.public_bytes(serialization.Encoding.PEM)
                 + ca.public_bytes(serialization.Encoding.PEM))
        written[host] = out / f"{host}.pem"
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--host", action="append", required=True, help="a broker's host name (repeat per broker)")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--loopback", action="store_true", help="also valid for localhost and 127.0.0.1")
    arguments = parser.parse_args()
    for name, path in write(arguments.out, arguments.host, arguments.days, arguments.loopback).items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
