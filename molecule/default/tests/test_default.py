"""One node, the roles on their own: service, files, cluster state, authentication."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "lib"))

import cluster_checks as cc

testinfra_hosts = cc.hosts("cassandra")


def test_java_17_is_installed(host):
    assert host.package("openjdk-17-jre-headless").is_installed
    assert 'version "17.' in host.run("java -version").stderr


def test_release_is_installed_from_the_pinned_tarball(host):
    link = host.file("/opt/cassandra")
    assert link.is_symlink
    assert link.linked_to == "/opt/apache-cassandra-5.0.9"
    marker = host.file("/opt/apache-cassandra-5.0.9/SHA256SUMS.tarball").content_string.strip()
    assert len(marker) == 64
    assert host.file("/opt/apache-cassandra-5.0.9/lib/cassandra-all-5.0.9.jar").exists


def test_nodetool_and_cqlsh_are_on_the_path_and_the_jvm_loads_the_releases_jamm(host):
    assert host.run("nodetool version").stdout.startswith("ReleaseVersion: 5.0.9")
    assert host.run("cqlsh --version").stdout.startswith("cqlsh ")
    jamm = host.run("ls /opt/cassandra/lib/ | grep '^jamm-.*[.]jar$'").stdout.split()
    assert len(jamm) == 1
    # The JVM reads its options from this file (@argument file) and would not start without the
    # agent's jar.
    options = host.file("/etc/cassandra/jvm-server.options").content_string.splitlines()
    assert f"-javaagent:/opt/cassandra/lib/{jamm[0]}" in options
    assert host.service("cassandra").is_running


def test_service_runs_as_cassandra_with_explicit_heap(host):
    service = host.service("cassandra")
    assert service.is_running
    assert service.is_enabled
    java = host.process.get(comm="java")
    assert java.user == "cassandra"
    options = host.file("/etc/cassandra/jvm-server.options").content_string
    assert "-Xmx768M" in options and "-Xms768M" in options


def test_configuration_is_private_to_cassandra(host):
    for name in ("cassandra.yaml", "cassandra-rackdc.properties", "jvm-server.options"):
        f = host.file(f"/etc/cassandra/{name}")
        assert f.mode == 0o640
        assert f.group == "cassandra"
    assert host.file("/root/.cassandra/credentials").mode == 0o600


def test_ports(host):
    ip = cc.address(host)
    assert host.socket(f"tcp://{ip}:9042").is_listening
    assert host.socket(f"tcp://{ip}:7000").is_listening
    assert host.socket("tcp://127.0.0.1:7199").is_listening


def test_node_is_up_normal_in_its_dc_and_rack(host):
    nodes = cc.status(host)
    variables = host.ansible.get_variables()
    assert [(n["address"], n["status_state"], n["dc"], n["rack"]) for n in nodes] == [
        (cc.address(host), "UN", variables["cassandra_dc"], variables["cassandra_rack"])
    ]


def test_admin_logs_in_and_default_superuser_is_refused(host):
    cc.assert_only_admin_logs_in(host)


def test_system_keyspaces_use_network_topology(host):
    cc.assert_system_replication(host, cc.topology()["replication"])  # one node: RF 1


def test_cql_is_tls_only_with_the_deployment_ca(host):
    address = cc.address(host)
    # root's cqlsh uses TLS (its cqlshrc) and checks the node's certificate against the CA.
    assert "ssl = true" in host.file("/root/.cassandra/cqlshrc").content_string
    assert cc.cql(host, "SELECT now() FROM system.local").rc == 0
    plain = host.run(
        f"{cc.CQLSH} --cqlshrc=/dev/null {address} 9042 -e 'SELECT now() FROM system.local'"
    )
    assert plain.rc != 0
    served = host.check_output(
        f"openssl s_client -connect {address}:9042 -CAfile /etc/fleet-tls/ca.pem "
        f"-verify_return_error -verify_ip {address} </dev/null 2>&1 || true"
    )
    assert "Verify return code: 0 (ok)" in served and "Fleet Tracing CA" in served
