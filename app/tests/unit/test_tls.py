"""TLS settings and the driver's SSL context, checked by real handshakes on loopback against
certificates made for the test (the deployment's CA does the same for the nodes)."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest

from fleet.config import ConfigError, load_settings
from fleet.session import tls_context
from tls_material import issue_certificates, serve_tls_once

BASE = {"FLEET_LOCAL_DC": "dc1"}


def _handshake(client: ssl.SSLContext, cert: Path, key: Path, connect_as: str) -> None:
    """One TLS handshake from `client` to a server on 127.0.0.1 presenting cert/key."""
    with (
        serve_tls_once(cert, key) as port,
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        client.wrap_socket(raw, server_hostname=connect_as),
    ):
        pass


def test_no_ca_file_means_plaintext() -> None:
    settings = load_settings(BASE)
    assert settings.tls_ca_file is None and tls_context(settings) is None


def test_the_nodes_certificate_is_checked_against_the_ca_and_its_address(tmp_path: Path) -> None:
    ca, cert, key = issue_certificates(tmp_path, "127.0.0.1")
    context = tls_context(load_settings({**BASE, "FLEET_TLS_CA_FILE": str(ca)}))
    assert context is not None and context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED
    _handshake(context, cert, key, "127.0.0.1")  # the driver connects by address
    with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch"):
        _handshake(context, cert, key, "127.0.0.2")


def test_a_certificate_from_another_ca_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ca_a, _, _ = issue_certificates(tmp_path / "a", "127.0.0.1")
    _, cert_b, key_b = issue_certificates(tmp_path / "b", "127.0.0.1")
    context = tls_context(load_settings({**BASE, "FLEET_TLS_CA_FILE": str(ca_a)}))
    assert context is not None
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        _handshake(context, cert_b, key_b, "127.0.0.1")


def test_hostname_checking_can_be_turned_off_but_not_the_ca(tmp_path: Path) -> None:
    ca, cert, key = issue_certificates(tmp_path, "127.0.0.1")
    env = {**BASE, "FLEET_TLS_CA_FILE": str(ca), "FLEET_TLS_CHECK_HOSTNAME": "false"}
    context = tls_context(load_settings(env))
    assert context is not None and not context.check_hostname
    _handshake(context, cert, key, "127.0.0.2")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"FLEET_TLS_CA_FILE": "/nonexistent/ca.pem"},
            "FLEET_TLS_CA_FILE='/nonexistent/ca.pem': cannot read",
        ),
        (
            {"FLEET_TLS_CHECK_HOSTNAME": "maybe"},
            "FLEET_TLS_CHECK_HOSTNAME='maybe': expected true or false",
        ),
    ],
)
def test_bad_tls_settings_are_refused_up_front(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({**BASE, **env})
    assert any(message in p for p in info.value.problems)


def test_a_file_that_is_not_a_certificate_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="not a PEM certificate bundle"):
        load_settings({**BASE, "FLEET_TLS_CA_FILE": str(junk)})
