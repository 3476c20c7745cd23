"""TLS as deployed (cassandra_tls: required): every node refuses plaintext clients, serves a
certificate from the deployment's CA for its own address on the native and storage ports, and
the app reaches it over TLS only."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "lib"))

import cluster_checks as cc

testinfra_hosts = cc.hosts("cassandra")

BUNDLE = "/etc/fleet-tls/ca.pem"
CERT = "/etc/fleet-tls/host.crt"
KEY = "/etc/fleet-tls/keystore.d/10-host.key"
APP_PYTHON = "/opt/fleet/venv/bin/python"

# The app's own driver, from the app host: plaintext, then TLS checked against the CA and the
# node's address, both without credentials (a TLS session reaches the login step).
CONNECT = f"""
import ssl, sys
from cassandra.cluster import Cluster, NoHostAvailable
address, tls = sys.argv[1], sys.argv[2] == "tls"
context = ssl.create_default_context(cafile="{BUNDLE}") if tls else None
cluster = Cluster([address], ssl_context=context, connect_timeout=5, control_connection_timeout=5)
try:
    cluster.connect()
    print("CONNECTED")
except NoHostAvailable as exc:
    print("REFUSED", *(type(e).__name__ + ": " + str(e) for e in exc.errors.values()))
finally:
    cluster.shutdown()
"""


def _app_host():
    return cc.get_host(cc.hosts("fleet_app")[0])


def _served(from_host, address: str, port: int, mutual: bool) -> str:
    client_cert = f"-cert {CERT} -key {KEY}" if mutual else ""
    return from_host.check_output(
        f"openssl s_client -connect {address}:{port} -CAfile {BUNDLE} -verify_return_error "
        f"-verify_ip {address} {client_cert} </dev/null 2>&1"
    )


def _ca_subject(host) -> str:
    return host.check_output(f"openssl x509 -in {BUNDLE} -noout -subject").removeprefix("subject=")


def test_plaintext_cql_is_refused_and_tls_reaches_the_login(host):
    app = _app_host()
    address = cc.address(host)
    plain = app.run(f"{APP_PYTHON} - {address} plain <<'EOF'\n{CONNECT}\nEOF")
    assert plain.stdout.startswith("REFUSED"), plain.stdout + plain.stderr
    assert "AuthenticationFailed" not in plain.stdout and "Bad credentials" not in plain.stdout
    tls = app.run(f"{APP_PYTHON} - {address} tls <<'EOF'\n{CONNECT}\nEOF")
    # TLS handshake done and verified: the node then asks for credentials, which we withheld.
    assert "AuthenticationFailed" in tls.stdout or "requires authentication" in tls.stdout, (
        tls.stdout + tls.stderr
    )


def test_native_port_serves_the_deployment_ca_certificate_for_the_node_address(host):
    app = _app_host()
    out = _served(app, cc.address(host), 9042, mutual=False)
    assert "Verify return code: 0 (ok)" in out, out
    assert f"issuer={_ca_subject(host)}" in out.replace("i:", "issuer=").replace(" = ", "=") or (
        "Fleet Tracing CA" in out
    ), out


def test_storage_port_requires_and_verifies_a_peer_certificate(host):
    peer_name = next(h for h in cc.hosts("cassandra") if h != host.backend.get_hostname())
    peer = cc.get_host(peer_name)
    address = cc.address(host)
    out = _served(peer, address, 7000, mutual=True)
    assert "Verify return code: 0 (ok)" in out, out
    assert "Fleet Tracing CA" in out, out
    # Without a client certificate the node ends the handshake once the client answers
    # (require_client_auth): TLS 1.3 alert 116, "certificate required".
    anonymous = peer.run(
        f"sleep 1 | openssl s_client -connect {address}:7000 -CAfile {BUNDLE} 2>&1"
    )
    assert "alert certificate required" in anonymous.stdout, anonymous.stdout


def test_the_nodes_key_is_readable_by_cassandra_only_and_the_ca_key_is_not_on_the_node(host):
    key = host.file(KEY)
    assert key.user == "root" and key.group == "cassandra" and key.mode == 0o640
    keystore = host.file("/etc/fleet-tls/keystore.pem")
    assert keystore.group == "cassandra" and keystore.mode == 0o640
    found = host.run(
        "grep -rl 'Fleet Tracing CA' /etc 2>/dev/null | xargs -r grep -l 'PRIVATE KEY'"
    )
    assert found.stdout.strip() in ("", "/etc/fleet-tls/keystore.pem"), found.stdout
    # The node's own key (PKCS#8, what Cassandra's PEM keystore reads) is the only key there.
    assert host.check_output(f"grep -c 'BEGIN PRIVATE KEY' {KEY}") == "1"
