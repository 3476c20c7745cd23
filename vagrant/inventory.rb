# The hosts of an Ansible YAML inventory file, with their variables merged as Ansible merges
# them: variables of a host's groups from the shallowest to the deepest (same depth: by name),
# then the host's own. Used by the Vagrantfile so that the VMs are the hosts of
# inventories/vagrant/hosts.yml; tests/unit/test_vagrant.py checks it against ansible-inventory.
# Only what a hosts.yml holds is read (no group_vars/ or host_vars/ files, no templating).
require "yaml"

module FleetInventory
  Host = Struct.new(:name, :groups, :vars, keyword_init: true) do
    def ip = vars.fetch("ansible_host")
    def memory_mb = Integer(vars.fetch("vagrant_memory_mb"))
    def cpus = Integer(vars.fetch("vagrant_cpus"))
  end

  # Hosts in the order they first appear in the file.
  def self.hosts(path)
    data = YAML.safe_load(File.read(path)) || {}
    groups = {}
    order = []
    own_vars = Hash.new { |h, k| h[k] = {} }
    walk = lambda do |name, body, parent|
      group = (groups[name] ||= { vars: {}, parents: [], hosts: [] })
      group[:parents] |= [parent] if parent
      body ||= {}
      group[:vars].merge!(body["vars"] || {})
      (body["hosts"] || {}).each do |host, vars|
        order |= [host]
        group[:hosts] |= [host]
        own_vars[host].merge!(vars || {})
      end
      (body["children"] || {}).each { |child, child_body| walk.call(child, child_body, name) }
    end
    data.each { |name, body| walk.call(name, body, name == "all" ? nil : "all") }
    groups["all"] ||= { vars: {}, parents: [], hosts: [] }

    depth = lambda do |name|
      parents = groups.fetch(name)[:parents]
      parents.empty? ? 0 : parents.map { |p| depth.call(p) }.max + 1
    end
    ancestors = lambda do |name|
      [name] + groups.fetch(name)[:parents].flat_map { |p| ancestors.call(p) }
    end

    order.map do |host|
      names = groups.select { |_, g| g[:hosts].include?(host) }.keys
                    .flat_map { |g| ancestors.call(g) }.uniq
                    .sort_by { |g| [depth.call(g), g] }
      vars = names.map { |g| groups[g][:vars] }.reduce({}, :merge).merge(own_vars[host])
      Host.new(name: host, groups: names, vars: vars)
    end
  end
end
