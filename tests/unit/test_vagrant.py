"""vagrant/Vagrantfile and inventories/vagrant describe the same machines.

The Vagrantfile builds its VMs from inventories/vagrant/hosts.yml (vagrant/inventory.rb). These
tests load the real Vagrantfile with Ruby under a stand-in for Vagrant's configuration API that
records every setting, and compare the machines with what Ansible reads from the inventory
(``ansible-inventory``), so neither side can drift. `make vagrant-validate` runs Vagrant itself
on the file; it cannot check the provider blocks without a hypervisor, which is done here.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess

import pytest
import yaml
from ansible_run import ROOT, group_hosts, inventory_list

VAGRANT_INVENTORY = ROOT / "inventories" / "vagrant"
LAB_INVENTORY = ROOT / "inventories" / "lab"

# Vagrant's configuration API, as much as the Vagrantfile uses: every setting is recorded, a
# misspelt one fails as it would in `vagrant validate`.
RECORDER = r"""
require "json"

class Settings
  ALLOWED = %w[box hostname name memory cpus compatibility_mode playbook_command config_file
               playbook inventory_path limit].freeze
  def initialize = @values = {}
  def to_h = @values
  def method_missing(name, *args)
    key = name.to_s.chomp("=")
    return super unless name.to_s.end_with?("=") && args.size == 1 && ALLOWED.include?(key)
    @values[key] = args.first
  end
  def respond_to_missing?(name, include_private = false) = name.to_s.end_with?("=") || super
end

class VM < Settings
  def initialize
    super
    @machines = {}
    @extra = { "networks" => [], "synced_folders" => [], "providers" => {}, "provisioners" => [] }
  end
  attr_reader :machines
  def to_h = super.merge(@extra)
  def strings(options) = options.transform_keys(&:to_s)
  def network(type, **options)
    @extra["networks"] << { "type" => type, **strings(options) }
  end
  def synced_folder(src, dest, **options)
    @extra["synced_folders"] << { "src" => src, "dest" => dest, **strings(options) }
  end
  def provider(name)
    yield(@extra["providers"][name] ||= Settings.new)
  end
  def provision(type, **options)
    settings = Settings.new
    yield settings if block_given?
    @extra["provisioners"] << { "type" => type, **strings(options), "settings" => settings.to_h }
  end
  def define(name, **options)
    machine = Config.new
    yield machine
    @machines[name.to_s] = machine.vm
  end
end

class Config
  attr_reader :vm
  def initialize = @vm = VM.new
end

module Vagrant
  def self.configure(version)
    raise "configuration version #{version}" unless version == "2"
    config = Config.new
    yield config
    dump = lambda do |value|
      case value
      when Settings then value.to_h.transform_values { |v| dump.call(v) }
      when Hash then value.transform_values { |v| dump.call(v) }
      when Array then value.map { |v| dump.call(v) }
      else value
      end
    end
    puts JSON.generate({
      "config" => dump.call(config.vm),
      "machines" => config.vm.machines.map { |name, vm| { "name" => name, **dump.call(vm) } },
    })
  end
end

Dir.chdir(File.dirname(ARGV[0])) { load File.basename(ARGV[0]) }
"""


@pytest.fixture(scope="module")
def vagrant() -> dict:
    ruby = shutil.which("ruby")
    assert ruby, "no ruby: Debian's vagrant package brings it (scripts/install-host-packages.sh)"
    result = subprocess.run(
        [ruby, "-e", RECORDER, str(ROOT / "vagrant" / "Vagrantfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def listing() -> dict:
    return inventory_list(VAGRANT_INVENTORY)


def test_the_vms_are_the_inventory_hosts_in_its_order(vagrant, listing):
    assert [m["name"] for m in vagrant["machines"]] == group_hosts(listing, "all")
    assert len(vagrant["machines"]) == 7
    assert group_hosts(listing, "object_store") == ["backup-1"]
    assert group_hosts(listing, "dc1") == ["cass-dc1-1", "cass-dc1-2"]
    assert group_hosts(listing, "dc2") == ["cass-dc2-1", "cass-dc2-2"]
    app_hosts = ["app-1", "app-2"]
    assert group_hosts(listing, "fleet_etl") == group_hosts(listing, "fleet_dashboard") == app_hosts
    assert [listing["_meta"]["hostvars"][h]["fleet_app_local_dc"] for h in app_hosts] == [
        "dc1",
        "dc2",
    ]


def test_each_vm_has_its_hosts_address_name_and_size(vagrant, listing):
    hostvars = listing["_meta"]["hostvars"]
    # Inside VirtualBox 7's default host-only range (192.168.56.0/21).
    network = ipaddress.ip_network("192.168.56.0/24")
    addresses = []
    for machine in vagrant["machines"]:
        host = hostvars[machine["name"]]
        assert machine["hostname"] == machine["name"]
        assert machine["networks"] == [{"type": "private_network", "ip": host["ansible_host"]}]
        assert ipaddress.ip_address(host["ansible_host"]) in network
        addresses.append(host["ansible_host"])
        for provider in ("virtualbox", "libvirt"):
            settings = machine["providers"][provider]
            assert settings["memory"] == host["vagrant_memory_mb"], (machine["name"], provider)
            assert settings["cpus"] == host["vagrant_cpus"], (machine["name"], provider)
    assert len(set(addresses)) == len(addresses)


def test_cassandra_vms_have_room_for_their_heap(vagrant, listing):
    hostvars = listing["_meta"]["hostvars"]
    for name in group_hosts(listing, "cassandra"):
        host = hostvars[name]
        assert host["cassandra_heap_size"] == "{{ (vagrant_memory_mb | int) // 3 }}M"
        assert host["vagrant_memory_mb"] >= 3072, name
        assert host["cassandra_dc"] in ("dc1", "dc2") and host["cassandra_rack"], name


def test_debian_12_box_without_shared_folder(vagrant):
    assert vagrant["config"]["box"] == "debian/bookworm64"
    assert vagrant["config"]["synced_folders"] == [
        {"src": ".", "dest": "/vagrant", "disabled": True}
    ]


def test_ansible_runs_site_yml_once_on_every_host_after_the_last_vm(vagrant):
    provisioners = [(m["name"], p) for m in vagrant["machines"] for p in m["provisioners"]]
    assert [name for name, _ in provisioners] == [vagrant["machines"][-1]["name"]]
    _, provisioner = provisioners[0]
    assert provisioner["type"] == "ansible"
    settings = provisioner["settings"]
    assert settings["playbook"] == str(ROOT / "playbooks" / "site.yml")
    assert settings["inventory_path"] == str(VAGRANT_INVENTORY)
    assert settings["config_file"] == str(ROOT / "ansible.cfg")
    assert settings["limit"] == "all"
    for key in ("playbook", "config_file"):
        assert (ROOT / settings[key]).is_file()


# Settings only the lab has: its podman network, its shorter gossip waits and the system
# keyspaces' factor kept at 2 for its spare host (inventories/lab-spare).
LAB_ONLY = {"lab"}
LAB_ONLY_KEYS = {"cassandra_jvm_extra_opts", "cassandra_system_keyspaces_max_rf"}


def test_group_vars_mirror_the_labs(listing):
    """Same group_vars files defining the same settings, the lab's own ones excepted."""
    lab = LAB_INVENTORY / "group_vars"
    vagrant = VAGRANT_INVENTORY / "group_vars"
    for group_dir in sorted(p for p in lab.iterdir() if p.name not in LAB_ONLY):
        for lab_file in sorted(group_dir.glob("*.yml")):
            if lab_file.name == "vault.yml":
                continue
            vagrant_file = vagrant / group_dir.name / lab_file.name
            assert vagrant_file.is_file(), f"{vagrant_file} is missing"
            lab_keys = set(yaml.safe_load(lab_file.read_text())) - LAB_ONLY_KEYS
            missing = lab_keys - set(yaml.safe_load(vagrant_file.read_text()))
            assert not missing, f"{vagrant_file} lacks {sorted(missing)}"


def test_the_vms_use_the_labs_vault(listing):
    vault = VAGRANT_INVENTORY / "group_vars" / "all" / "vault.yml"
    assert vault.is_symlink()
    assert vault.resolve() == (LAB_INVENTORY / "group_vars" / "all" / "vault.yml").resolve()
    hostvars = listing["_meta"]["hostvars"]["app-1"]
    for secret in ("cassandra_admin", "fleet_etl", "fleet_dashboard"):
        assert len(hostvars[f"vault_{secret}_password"]) >= 12
