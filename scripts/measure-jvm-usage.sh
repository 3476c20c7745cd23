#!/usr/bin/env bash
# CPU and memory of each lab node's Cassandra JVM over a window, read from /proc inside the hosts
# (podman exec): CPU as a share of one core (utime+stime ticks over the window), resident memory
# at the end. For docs/benchmarks.md's exporter cost (the JMX exporter agent on, then off with
# -e cassandra_metrics_port=0), with the same ETL load.
#   scripts/measure-jvm-usage.sh [seconds, default 180]
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF="$PWD/lab/containers.conf"
window=${1:-180}
nodes=$(ansible-inventory --list | python3 -c 'import json,sys; inv=json.load(sys.stdin); print(" ".join(h for g in ("dc1","dc2") for h in inv[g]["hosts"]))')
ticks() { podman exec "$1" sh -c 'pid=$(systemctl show -p MainPID --value cassandra); awk "{print \$14+\$15}" /proc/$pid/stat'; }
declare -A before
for n in $nodes; do before[$n]=$(ticks "$n"); done
sleep "$window"
hz=$(getconf CLK_TCK)
total=0
for n in $nodes; do
  after=$(ticks "$n")
  rss=$(podman exec "$n" sh -c 'pid=$(systemctl show -p MainPID --value cassandra); awk "/VmRSS/ {print \$2}" /proc/$pid/status')
  cpu=$(python3 -c "print(round(100 * ($after - ${before[$n]}) / $hz / $window, 1))")
  total=$(python3 -c "print(round($total + $cpu, 1))")
  printf '%-12s cpu %5s %% of a core   rss %6d MiB\n' "$n" "$cpu" $((rss / 1024))
done
echo "all nodes: $total % of a core over ${window} s"
