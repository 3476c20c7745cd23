"""Filters of the pki role: reading what openssl prints about a certificate."""

from __future__ import annotations

_X509_FIELDS = {"serial": "serial", "notAfter": "not_after", "issuer": "issuer"}


def pki_x509_fields(text: str) -> dict[str, str]:
    """The fields `openssl x509 -noout -serial -enddate -issuer` prints, one `key=value` per line
    (the issuer may itself contain `=`): {serial, not_after, issuer}. Raises ValueError naming the
    missing fields when the output is not a certificate (e.g. s_client got none)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() in _X509_FIELDS:
            fields[_X509_FIELDS[key.strip()]] = value.strip()
    missing = sorted(set(_X509_FIELDS.values()) - fields.keys())
    if missing:
        raise ValueError(f"no {', '.join(missing)} in openssl's output: {text.strip()[:200]!r}")
    return fields


EXPIRY_METRIC = "fleet_certificate_expiry_timestamp_seconds"


def pki_expiry_series(item: dict[str, str]) -> dict[str, object]:
    """{certificate: its role (host, ca, ca_next), pem: the PEM text} -> the textfile series of
    when it expires (filter fleet_textfile), labelled with its role and subject. Raises
    ValueError when the PEM is not a certificate."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(str(item["pem"]).encode())
    return {
        "name": EXPIRY_METRIC,
        "help": "When the certificate expires (epoch seconds).",
        "labels": {
            "certificate": str(item["certificate"]),
            "subject": cert.subject.rfc4514_string(),
        },
        "value": int(cert.not_valid_after_utc.timestamp()),
    }


class FilterModule:
    def filters(self) -> dict[str, object]:
        return {"pki_x509_fields": pki_x509_fields, "pki_expiry_series": pki_expiry_series}
