#!/usr/bin/env bash
# A single Cassandra node on 127.0.0.1 for the app's integration tests, started from the same
# cached distribution and the same role templates the hosts get.
#   scripts/cassandra-local.sh start   # returns once CQL answers (cassandra/cassandra)
#   scripts/cassandra-local.sh stop
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export CASSANDRA_LOCAL_ROOT="${CASSANDRA_LOCAL_ROOT:-${FLEET_CACHE:-$HOME/.cache/fleet-tracing}/it-node}"
pidfile="$CASSANDRA_LOCAL_ROOT/cassandra.pid"
. "$here/scripts/role-defaults.sh"
version=$(cassandra_default cassandra_version)

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "${1:-}" in
  start)
    if running; then echo "already running (pid $(cat "$pidfile"))"; exit 0; fi
    if (exec 3<>/dev/tcp/127.0.0.1/9042) 2>/dev/null; then
      echo "something else already listens on 127.0.0.1:9042" >&2; exit 1
    fi
    tarball=$("$here/scripts/fetch-cassandra.sh")
    rm -rf "$CASSANDRA_LOCAL_ROOT"; mkdir -p "$CASSANDRA_LOCAL_ROOT"
    tar -C "$CASSANDRA_LOCAL_ROOT" -xf "$tarball"
    ln -sfn "$CASSANDRA_LOCAL_ROOT/apache-cassandra-$version" "$CASSANDRA_LOCAL_ROOT/cassandra"
    ANSIBLE_CONFIG="$here/ansible.cfg" "$here/.venv/bin/ansible-playbook" -i localhost, \
      "$here/tests/cassandra-local.yml" >"$CASSANDRA_LOCAL_ROOT/configure.log" \
      || { cat "$CASSANDRA_LOCAL_ROOT/configure.log" >&2; exit 1; }
    nohup java "@$CASSANDRA_LOCAL_ROOT/conf/jvm-server.options" \
      org.apache.cassandra.service.CassandraDaemon >"$CASSANDRA_LOCAL_ROOT/stdout.log" 2>&1 &
    echo $! > "$pidfile"
    for _ in $(seq 1 120); do
      if "$here/.venv/bin/python" - <<'PY' 2>/dev/null; then echo "Cassandra up on 127.0.0.1:9042"; exit 0; fi
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster
c = Cluster(["127.0.0.1"], auth_provider=PlainTextAuthProvider("cassandra", "cassandra"),
            connect_timeout=2, protocol_version=5)
c.connect().execute("SELECT now() FROM system.local")
c.shutdown()
PY
      running || { echo "Cassandra exited:" >&2; tail -30 "$CASSANDRA_LOCAL_ROOT/stdout.log" >&2; exit 1; }
      sleep 1
    done
    echo "Cassandra did not answer CQL within 120 s" >&2; exit 1
    ;;
  stop)
    if running; then
      kill "$(cat "$pidfile")"
      for _ in $(seq 1 60); do running || break; sleep 1; done
    fi
    rm -f "$pidfile"
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
