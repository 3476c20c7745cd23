"""The certificate each node serves on the native port, read by a TLS handshake like the
driver's (same CA, same address check): serial, issuer and expiry for the Cluster page."""

from __future__ import annotations

import socket
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

# validate.yml warns below the same number of days (playbooks/validate.yml).
EXPIRY_WARNING_DAYS = 30
HANDSHAKE_TIMEOUT_S = 3.0


@dataclass(frozen=True, slots=True)
class ServedCertificate:
    address: str
    serial: str | None
    issuer: str | None
    not_after: datetime | None
    error: str | None = None

    def days_left(self, now: datetime) -> float | None:
        if self.not_after is None:
            return None
        return round((self.not_after - now).total_seconds() / 86400, 1)

    def expires_soon(self, now: datetime) -> bool:
        days = self.days_left(now)
        return days is not None and days < EXPIRY_WARNING_DAYS


def _issuer(cert: dict[str, object]) -> str:
    parts = cert.get("issuer") or ()
    return ", ".join(f"{k}={v}" for rdn in parts for k, v in rdn)  # type: ignore[union-attr]


def served_certificate(
    context: ssl.SSLContext, address: str, port: int, timeout_s: float = HANDSHAKE_TIMEOUT_S
) -> ServedCertificate:
    """One handshake; a failure (refused, untrusted, timeout) is reported, not raised."""
    try:
        with (
            socket.create_connection((address, port), timeout=timeout_s) as raw,
            context.wrap_socket(raw, server_hostname=address) as tls,
        ):
            cert = tls.getpeercert() or {}
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "verify_message", None) or getattr(exc, "strerror", None) or exc
        return ServedCertificate(address, None, None, None, error=str(reason))
    not_after = cert.get("notAfter")
    return ServedCertificate(
        address,
        str(cert.get("serialNumber")) if cert.get("serialNumber") else None,
        _issuer(cert),
        datetime.fromtimestamp(ssl.cert_time_to_seconds(str(not_after)), UTC)
        if not_after
        else None,
    )


def served_certificates(
    context: ssl.SSLContext, addresses: list[str], port: int
) -> list[ServedCertificate]:
    """Every node's, in parallel: a node that does not answer costs one timeout, not one each."""
    if not addresses:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(addresses))) as pool:
        return list(pool.map(lambda a: served_certificate(context, a, port), addresses))


def certificates_rows(certs: list[ServedCertificate], now: datetime) -> list[dict[str, object]]:
    return [
        {
            "address": c.address,
            "serial": c.serial or "-",
            "issuer": c.issuer or "-",
            "valid until": c.not_after.strftime("%Y-%m-%d %H:%M UTC") if c.not_after else "-",
            "days left": c.days_left(now),
            "problem": c.error
            or (f"expires in under {EXPIRY_WARNING_DAYS} days" if c.expires_soon(now) else ""),
        }
        for c in sorted(certs, key=lambda c: c.address)
    ]
