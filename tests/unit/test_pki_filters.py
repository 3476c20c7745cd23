"""The pki role's parser of openssl's certificate fields (served certificates, CA files)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[2] / "roles" / "pki" / "filter_plugins"
sys.path.insert(0, str(PLUGINS))

import pki_filters as pf


def test_x509_fields_read_openssl_output_with_an_issuer_holding_equals_signs():
    out = (
        "serial=5A1F03\n"
        "notAfter=Dec  2 19:30:00 2027 GMT\n"
        "issuer=CN=Fleet Tracing CA (lab) 2026-12-02T193000Z\n"
    )
    assert pf.pki_x509_fields(out) == {
        "serial": "5A1F03",
        "not_after": "Dec  2 19:30:00 2027 GMT",
        "issuer": "CN=Fleet Tracing CA (lab) 2026-12-02T193000Z",
    }


def test_x509_fields_name_what_is_missing_when_no_certificate_came_back():
    with pytest.raises(ValueError, match="issuer, not_after, serial"):
        pf.pki_x509_fields("unable to load certificate\n")


def test_expiry_series_of_a_certificate_for_the_textfile_collector():
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cass-dc1-1")])
    not_after = datetime(2027, 12, 6, 1, 0, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(not_after - timedelta(days=365))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    assert pf.pki_expiry_series({"certificate": "host", "pem": pem}) == {
        "name": "fleet_certificate_expiry_timestamp_seconds",
        "help": "When the certificate expires (epoch seconds).",
        "labels": {"certificate": "host", "subject": "CN=cass-dc1-1"},
        "value": int(not_after.timestamp()),
    }
    with pytest.raises(ValueError):
        pf.pki_expiry_series({"certificate": "host", "pem": "not a certificate"})
