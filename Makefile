# Fleet Tracing — everything an operator or CI runs starts here.
#   make lab    bring the platform up on local lab hosts (podman containers running systemd)
#   make test   lint, unit tests, Molecule scenarios
SHELL := /bin/bash
.DEFAULT_GOAL := help

export FLEET_CACHE ?= $(HOME)/.cache/fleet-tracing
export CONTAINERS_CONF := $(CURDIR)/lab/containers.conf
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/.venv/bin:$(PATH)
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt app/pyproject.toml | sha256sum | cut -c1-12)
IMAGE = $$(scripts/build-base-image.sh)

.PHONY: help prereqs host-packages venv cassandra-dist jars wheels app-wheelhouse image lab lab-up lab-down \
        site lint vagrant-validate unit integration test molecule molecule-default molecule-app molecule-multi-dc \
        report clean bench

help:
	@echo "make lab        build the lab hosts and deploy the platform (prints how to reach it)"
	@echo "make lab-down   remove the lab hosts"
	@echo "make bench      the ETL side by side with latte and cqlsh COPY, on the running lab"
	@echo "make test       lint + unit tests + Molecule scenarios (what CI runs)"
	@echo "make lint | vagrant-validate | unit | integration | molecule-default | molecule-app | molecule-multi-dc"
	@echo "make report     render docs/report.md to docs/report.pdf"

host-packages:
	@scripts/install-host-packages.sh

$(STAMP): requirements-dev.txt app/pyproject.toml
	@[ -x $(VENV)/bin/python ] || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt -e 'app[test,dashboard]'
	@rm -f $(VENV)/.installed-*; touch $@

venv: $(STAMP)

cassandra-dist: host-packages
	@scripts/fetch-cassandra.sh --all >/dev/null

# The jars the roles install (the backups' store, the JMX exporter agent), pinned in their defaults.
jars: host-packages
	@scripts/fetch-jar.sh s3proxy >/dev/null
	@scripts/fetch-jar.sh jmx-exporter >/dev/null

wheels: venv
	@scripts/fetch-wheels.sh >/dev/null
	@scripts/fetch-wheels.sh medusa >/dev/null

app-wheelhouse: venv
	@scripts/build-app-wheelhouse.sh >/dev/null

image: host-packages
	@scripts/build-base-image.sh >/dev/null

prereqs: host-packages venv cassandra-dist jars wheels app-wheelhouse image

lab-up: prereqs
	FLEET_LAB_IMAGE=$(IMAGE) ansible-playbook playbooks/lab_up.yml

site:
	ansible-playbook playbooks/site.yml

# `make lab CASSANDRA_VERSION=5.0.8`: the lab at another pinned release (cassandra_releases), e.g.
# to try playbooks/upgrade.yml; a later plain `make lab` then refuses until the upgrade is done.
lab: lab-up
	@start=$$(date +%s) && ansible-playbook playbooks/site.yml \
	  $(if $(CASSANDRA_VERSION),-e cassandra_version=$(CASSANDRA_VERSION)) && \
	  echo "site.yml took $$(( $$(date +%s) - start )) s"
	@scripts/lab-info.sh

# The ingestion benchmark on the running lab (make lab first): latte and cqlsh are built or
# installed into the cache once; playbooks/bench.yml stops the app meanwhile.
BENCH_RUNS ?= 3
bench: venv
	@latte=$$(scripts/fetch-latte.sh) && cqlsh=$$(scripts/fetch-cqlsh.sh) && \
	  ansible-playbook playbooks/bench.yml -e bench_latte=$$latte -e bench_cqlsh=$$cqlsh \
	    -e bench_runs=$(BENCH_RUNS)

lab-down: venv
	ansible-playbook -i inventories/lab -i inventories/lab-spare playbooks/lab_down.yml

lint: venv
	yamllint --strict .
	ansible-lint --profile production
	ruff check roles plugins molecule tests app
	ruff format --check roles plugins molecule tests app

# vagrant/Vagrantfile with Debian's vagrant, offline: no box, no hypervisor. --ignore-provider skips
# the VirtualBox/libvirt blocks (checking them needs that provider installed); tests/unit/test_vagrant.py
# checks their values against the inventory. Vagrant's own state goes to the cache, not the clone.
vagrant-validate: host-packages
	cd vagrant && VAGRANT_HOME=$(FLEET_CACHE)/vagrant/home VAGRANT_DOTFILE_PATH=$(FLEET_CACHE)/vagrant/validate \
	  VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_BOX_UPDATE_CHECK_DISABLE=1 vagrant validate --ignore-provider

# The alert rules' tests run Debian's promtool (unpacked from the prometheus package, not installed).
unit: venv host-packages
	FLEET_PROMTOOL=$$(scripts/fetch-prometheus-tools.sh) pytest -q tests/unit app/tests/unit app/tests/dashboard

# App integration, dashboard AppTest and headless-Chromium tests against a real single Cassandra node on 127.0.0.1 (same distribution
# and role templates as the hosts), stopped whatever the outcome.
integration: venv cassandra-dist wheels
	@scripts/cassandra-local.sh start
	@rc=0; FLEET_IT_CONTACT_POINTS=127.0.0.1 FLEET_IT_LOCAL_DC=dc1 FLEET_IT_USERNAME=cassandra \
	  FLEET_IT_PASSWORD=cassandra FLEET_E2E_SCREENSHOTS=$$(mktemp -d) \
	  FLEET_IT_CQLSH=$$(scripts/fetch-cqlsh.sh) \
	  pytest -q -m integration app/tests/integration app/tests/dashboard || rc=$$?; \
	  scripts/cassandra-local.sh stop; exit $$rc

# Each scenario through scripts/molecule-test.sh: a failed one ends with what failed, again.
molecule-default: prereqs
	FLEET_LAB_IMAGE=$(IMAGE) scripts/molecule-test.sh default

# Side-effect steps `make test` leaves out to keep CI under 75 minutes: their playbooks run on
# the lab and on a converged scenario (ANSIBLE_RUN_TAGS=rolling_restart molecule side-effect -s
# multi_dc); `make molecule-multi-dc MULTI_DC_SKIP=` runs them all.
MULTI_DC_SKIP ?= rolling_restart,repair
molecule-multi-dc: prereqs
	FLEET_LAB_IMAGE=$(IMAGE) ANSIBLE_SKIP_TAGS=$(MULTI_DC_SKIP) scripts/molecule-test.sh multi_dc

molecule-app: prereqs
	FLEET_LAB_IMAGE=$(IMAGE) scripts/molecule-test.sh app

molecule: molecule-default molecule-app molecule-multi-dc

test: prereqs lint vagrant-validate unit integration molecule

# docs/report.md -> docs/report.pdf (pandoc, Graphviz for its Mermaid diagrams, WeasyPrint).
report: host-packages
	@scripts/build-report.sh
