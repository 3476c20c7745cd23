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


class FilterModule:
    def filters(self) -> dict[str, object]:
        return {"pki_x509_fields": pki_x509_fields}
