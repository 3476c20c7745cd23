#!/usr/bin/env bash
# Print how to reach the lab platform after `make lab`.
set -euo pipefail
cd "$(dirname "$0")/.."
inventory=$(ansible-inventory --list)
ips=$(python3 -c '
import json, sys
inv = json.load(sys.stdin)
hv = inv["_meta"]["hostvars"]
labels = {"fleet_etl": "app", "object_store": "backup store"}
for group in ("dc1", "dc2", "fleet_etl", "object_store"):
    for h in inv.get(group, {}).get("hosts", []):
        ip = hv[h].get("ansible_host", "?")
        label = labels.get(group, group)
        if group == "fleet_etl":
            label += " " + hv[h].get("fleet_app_local_dc", "?")
        print(f"  {label:16} {h:12} {ip}")
' <<<"$inventory")
# One dashboard per DC, each reading from its own DC.
dashboards=$(python3 -c '
import json, sys
inv = json.load(sys.stdin)
hv = inv["_meta"]["hostvars"]
for h in inv.get("fleet_dashboard", {}).get("hosts", []):
    dc, ip = hv[h].get("fleet_app_local_dc", "?"), hv[h].get("ansible_host", h)
    print(f"  Dashboard {dc:4}: https://{ip}/   ({h}, reads from {dc})")
' <<<"$inventory")
# Prometheus and Alertmanager on each monitoring host (ports from the roles' defaults).
. scripts/role-defaults.sh
monitoring=$(PROMETHEUS_PORT=$(role_default prometheus prometheus_port) \
             ALERTMANAGER_PORT=$(role_default alertmanager alertmanager_port) python3 -c '
import json, os, sys
inv = json.load(sys.stdin)
hv = inv["_meta"]["hostvars"]
prometheus, alertmanager = os.environ["PROMETHEUS_PORT"], os.environ["ALERTMANAGER_PORT"]
for h in inv.get("monitoring", {}).get("hosts", []):
    ip = hv[h].get("ansible_host", h)
    print(f"  Prometheus    : http://{ip}:{prometheus}/targets   alerts: /alerts   ({h})")
    print(f"  Alertmanager  : http://{ip}:{alertmanager}/")
' <<<"$inventory")
cat <<INFO

Fleet Tracing lab is up.
$ips

$dashboards
$monitoring
  Sign in       : user "operator" (console, admin) or "viewer" (pages only); passwords:
                  ansible-vault view inventories/lab/group_vars/all/vault.yml | grep proxy
  Certificates  : signed by the lab's CA, ~/.cache/fleet-tracing/pki/lab/ca.pem (import it in
                  the browser, or: curl --cacert ~/.cache/fleet-tracing/pki/lab/ca.pem -u operator ...)
  Cluster state : ansible -i inventories/lab cass-dc1-1 -b -m command -a 'nodetool status'
  Backups       : ansible-playbook playbooks/backup.yml (on demand; a timer takes them every 30 min);
                  ansible -i inventories/lab cass-dc1-1 -m command -a 'medusa list-backups --show-all'
  CQL (admin)   : podman exec -it cass-dc1-1 cqlsh \$(podman exec cass-dc1-1 hostname -I)
  Remove        : make lab-down
INFO
