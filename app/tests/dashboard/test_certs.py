"""The Cluster page's certificate table: real handshakes on loopback against certificates made
for the test (tls_material)."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from pathlib import Path

from fleet.dashboard.certs import (
    EXPIRY_WARNING_DAYS,
    certificates_rows,
    served_certificate,
    served_certificates,
)
from tls_material import issue_certificates, serve_tls_once


def _context(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


def test_the_served_certificate_is_read_with_its_serial_issuer_and_expiry(tmp_path: Path) -> None:
    ca, cert, key = issue_certificates(tmp_path, "127.0.0.1", days=365)
    with serve_tls_once(cert, key) as port:
        served = served_certificate(_context(ca), "127.0.0.1", port)
    assert served.error is None and served.serial and served.issuer == "commonName=test CA"
    now = datetime.now(UTC)
    assert 364 < (served.days_left(now) or 0) <= 365
    row = certificates_rows([served], now)[0]
    assert row["problem"] == "" and row["serial"] == served.serial


def test_a_certificate_expiring_soon_is_flagged(tmp_path: Path) -> None:
    ca, cert, key = issue_certificates(tmp_path, "127.0.0.1", days=EXPIRY_WARNING_DAYS - 3)
    with serve_tls_once(cert, key) as port:
        served = served_certificate(_context(ca), "127.0.0.1", port)
    now = datetime.now(UTC)
    assert served.expires_soon(now)
    assert certificates_rows([served], now)[0]["problem"] == (
        f"expires in under {EXPIRY_WARNING_DAYS} days"
    )


def test_an_untrusted_or_absent_node_is_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ca_a, _, _ = issue_certificates(tmp_path / "a", "127.0.0.1")
    _, cert_b, key_b = issue_certificates(tmp_path / "b", "127.0.0.1")
    with serve_tls_once(cert_b, key_b) as port:
        untrusted = served_certificate(_context(ca_a), "127.0.0.1", port)
    assert untrusted.serial is None and "certificate" in (untrusted.error or "")
    # Nothing listens on port 1: refused, reported per node, the others still read.
    both = served_certificates(_context(ca_a), ["127.0.0.1", "127.0.0.1"], 1)
    assert [c.error is not None for c in both] == [True, True]
    rows = certificates_rows(both, datetime.now(UTC))
    assert all(r["days left"] is None and r["problem"] for r in rows)
