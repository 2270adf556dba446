# paas on a Debian 12 host, as root. Every target is idempotent.
#   make up      install what is missing, start the control plane, print how to use it
#   make down    stop what `make up` started
#   make status  show the control plane's processes
#   make test    install what the suite needs and run it (unit + end-to-end)
#   make bench   the benchmarks against a real stack, with same-run baselines (bench/README.md)

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Debian's own Python 3.11, the one a fresh Debian 12 machine has.
SYSTEM_PYTHON := /usr/bin/python3
# chromium: the dashboard's browser tests; wrk: the zero-downtime load test; docker-registry:
# the registry a swarm's nodes pull from (PAAS_SCHEDULER=swarm).
APT_PACKAGES := docker.io redis-server nginx debootstrap git iptables ca-certificates \
	python3 python3-venv chromium wrk libnginx-mod-http-lua docker-registry

.PHONY: up down status test bench lint system-deps venv prepare controlplane-image compose-plugin

system-deps:
	@missing=""; \
	for package in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' "$$package" 2>/dev/null | grep -q "install ok installed" \
			|| missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(SYSTEM_PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

# dockerd running and the stack image built (debootstrap, no registry needed).
prepare: system-deps venv
	$(PY) -m paas.hostctl prepare

up: prepare
	ln -sf $(CURDIR)/$(VENV)/bin/paas /usr/local/bin/paas
	$(PY) -m paas.hostctl up

down:
	@if [ -x $(PY) ]; then $(PY) -m paas.hostctl down --stop-docker; fi

status:
	$(PY) -m paas.hostctl status

# Docker Compose v2 (the docker CLI plugin) for docker-compose.yml and its test: trixie's
# Debian package, since bookworm's docker-compose is the old 1.29 (see the script).
compose-plugin: system-deps
	bash deploy/install-compose-plugin.sh

# The control plane's images, for docker-compose.yml (host mode does not need them), built as
# `docker compose up` builds them: FROM the stack image, with Debian's packages.
controlplane-image: prepare compose-plugin
	/usr/bin/docker compose build

# mypy reads its settings from pyproject.toml. Its Django plugin imports paas.settings, which
# creates PAAS_HOME's directories and secret key: point it at a scratch home, not the real one.
lint: venv
	$(VENV)/bin/ruff check .
	PAAS_HOME=$(CURDIR)/.mypy_cache/paas-home $(VENV)/bin/mypy

# pebble: Let's Encrypt's ACME test server and its DNS stand-in (pebble-challtestsrv), which
# the certificate tests run on loopback; a test CA has no place on a production host.
test: APT_PACKAGES += pebble
test: prepare compose-plugin lint
	$(VENV)/bin/pytest

# fcgiwrap runs C git's http-backend for the git push baseline (wrk, git and nginx are needed
# already). BENCH_ARGS passes options on: make bench BENCH_ARGS="--only router --runs 5".
BENCH_ARGS ?=
bench: APT_PACKAGES += fcgiwrap
bench: prepare
	$(PY) -m bench $(BENCH_ARGS)
