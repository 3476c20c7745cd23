#!/usr/bin/env bash
# Print how to reach the lab platform after `make lab`.
set -euo pipefail
cd "$(dirname "$0")/.."
ips=$(ansible-inventory --list | python3 -c '
import json, sys
inv = json.load(sys.stdin)
hv = inv["_meta"]["hostvars"]
for group in ("dc1", "dc2", "fleet_dashboard"):
    for h in inv.get(group, {}).get("hosts", []):
        ip = hv[h].get("ansible_host", "?")
        print(f"  {group:16} {h:12} {ip}")
')
cat <<INFO

Fleet Tracing lab is up.
$ips

  Dashboard     : http://$(ansible-inventory --host app-1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["ansible_host"])'):8501/
  Cluster state : ansible -i inventories/lab cass-dc1-1 -b -m command -a '/opt/cassandra/bin/nodetool status'
  CQL (admin)   : podman exec -it cass-dc1-1 cqlsh \$(podman exec cass-dc1-1 hostname -I)
  Remove        : make lab-down
INFO
