# The two commands of the README: `make plan [STACK=dev]` and `make test`.
STACK ?= dev
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: plan test setup tools neo4j-jars engine-cli engine unit lint clean help

help:
	@echo "make plan [STACK=dev|prod|local]  offline plan: build/<stack>/plan.json and every rendered file"
	@echo "make test                          installs what the tests need, then runs them all"
	@echo "make unit                          only the fast tests (no real tools or servers)"
	@echo "make engine                        the engine tests alone: the program under the real Pulumi CLI (built once)"
	@echo "make lint                          ruff"
	@echo "make rehearse [ARGS=--keep]        boot a community server's rendered user data in a systemd machine container (issue 23, in progress)"
	@echo "make local-server | local-check | local-backup-restore | local-stop   the local tour (README, Quick start)"
	@echo "make neo4j-local [VERSION=4.4|5.26|2025|x.y.z] [ARGS=--background|--stop]  a real Neo4j Community server on loopback"
	@echo "make up|down STACK=local           pulumi up / destroy (needs the Pulumi CLI; docker stacks a Docker engine)"
	@echo "make rollout STACK=prod [FROM=core-2] [DRY_RUN=1] [ARGS=…]  apply what is held back on running servers, one at a time"
	@echo "make upgrade STACK=prod VERSION=2025.10.1 [DRY_RUN=1] [ARGS=…]  version guard, preflight, rollout, check"
	@echo "make migrate FROM=legacy TO=prod [DRY_RUN=1] [ARGS=…]  a 4.4 stack into a new 5.26 stack (databases, users, privileges)"
	@echo "make drill STACK=local [DRY_RUN=1] [YES=1] [ARGS=…]  failover drill: stop the leader under a write load, measure"
	@echo "make scale STACK=prod [DRY_RUN=1] [UP=1] [ARGS=…]  the Cypher that follows a neo4j:replicaCount change (enable, allocate, deallocate, drop)"
	@echo "make databases STACK=prod [DRY_RUN=1] [ARGS=…]  create neo4j:databases and keep their topology (never drops one)"

# The virtualenv is rebuilt when requirements change. pip shows each package as it is fetched (a fresh clone
# takes a few minutes): the installation never looks stuck.
$(VENV)/.installed: requirements.txt
	@echo "make setup: creating $(VENV) with $$($(PYTHON) --version 2>&1) ($(PYTHON))"
	$(PYTHON) -m venv $(VENV)
	@echo "make setup: installing the $$(grep -cEv '^[[:space:]]*(#|$$)' requirements.txt) packages of requirements.txt into $(VENV), with their dependencies"
	$(PY) -m pip install --disable-pip-version-check --progress-bar off -r requirements.txt
	touch $@
	@echo "make setup: $(VENV) is ready"

setup: $(VENV)/.installed

tools:
	scripts/install-tools.sh

# Neo4j Community of every line the tests run (4.4, 5.26, 2025; pinned in tests/support/neo4j_dist.py),
# from Maven Central (cached in ~/.m2), the Java each runs on, and the APOC jar of each line that has one on
# Maven Central (APOC_ARTIFACTS there; the plugin tests lay out the package's labs/ with it), and the class data
# sharing archive the test servers of every line map (tests/support/class_data_sharing.py: once, ~20 s a line).
neo4j-jars: setup
	$(PY) -c "from tests.support.neo4j_dist import NEO4J_VERSIONS as v, neo4j_classpath as c, java_executable as j, apoc_jar as a; \
	[(c(x), j(x), a(x)) for x in v.values()]; print('neo4j-jars: ready:', ', '.join(v.values()))"
	$(PY) -m tests.support.class_data_sharing

plan: setup
	@$(PY) scripts/plan.py --stack $(STACK)

# The boot rehearsal (tests/support/rehearsal, in progress): the user data the program renders for a community
# single-server AWS stack, booted by systemd and cloud-init (NoCloud seed) in a machine container of a private
# dockerd, with stand-ins for what surrounds an EC2 machine; prints each boot step and where the boot stopped
# (exit 1 when it did not finish). The base image is built once (debootstrap, ~3 minutes) and cached.
.PHONY: rehearse
rehearse: setup tools
	$(PY) -m tests.support.rehearsal.rehearse $(ARGS)

# The Pulumi CLI the engine tests run (tests/support/engine/cli.py): built from the Go module proxy once
# (3-9 minutes; it prints the time), then reused from the cache.
engine-cli: setup
	$(PY) -m tests.support.engine.cli

# The engine tests alone (tests/engine): the program under the real Pulumi CLI and engine, stand-in providers.
engine: tools engine-cli
	$(PY) -m pytest -m engine -n 2 --dist loadscope

# The fast tests on three workers (pytest-xdist: each worker its own process, so Pulumi's process-global mocks
# stay apart; a module's tests on one worker, so its module fixtures, the plans among them, are made once: 108-114 s
# against 132 s, measured 2026-12-07), then the integration tests on three workers too (two kept the two CPUs only 86-90% busy: the waits
# on servers, boots and subprocesses leave CPU a third worker uses; measured 2026-12-06: unit 115 s -> 101 s,
# integration 1,115 s -> 990 s), a module's tests on one worker (--dist loadscope: servers
# shared per module stay shared; each worker starts its own session servers, on its own slice of the test ports,
# tests/support/neo4j_dist.free_port; measured 976 s against 1,920 s one at a time, both beside other work), then the engine
# tests in a process of their own: their gRPC servers (the stand-in providers) leave gRPC's fork handlers in the
# process, and a server started after them by fork (the Neo4j launchers) aborted before exec (rc -6, measured); on
# both CPUs too (each test its own backend, CLI and stand-ins; one at a time they kept 56% of two CPUs busy: 459 s,
# against 278 s on two workers, measured 2026-12-06; three workers took longer, 221 s against 204 s), a module's
# tests on one worker (--dist loadscope: the command module's deployed prod is made once, not once per worker; the
# two modules take about as long: 137 s against 185 s with xdist's default split, measured 2026-12-07).
# --durations=15: each part's 15 slowest tests end the log (CI's too: .ci/run is `make test`).
test: setup tools neo4j-jars engine-cli
	$(PY) -m ruff check .
	$(PY) -m pytest -m "not integration" -n 3 --dist loadscope --durations=15
	$(PY) -m pytest -m "integration and not engine" -n 3 --dist loadscope --durations=15
	$(PY) -m pytest -m engine -n 2 --dist loadscope --durations=15

unit: setup
	$(PY) -m pytest -m "not integration" -n 3 --dist loadscope

lint: setup
	$(PY) -m ruff check .

clean:
	rm -rf build .pytest_cache

# `make up|down STACK=<stack>`: `pulumi up` / `pulumi destroy` of a stack, on the project's one state
# backend (`backend.url` in Pulumi.yaml, where CI keeps its state too). A PULUMI_BACKEND_URL naming
# another backend is refused for AWS stacks (it would create a second copy of dev or prod); a Docker
# stack (local) may keep its state elsewhere, e.g. PULUMI_BACKEND_URL=file://~. PULUMI_FLAGS adds
# flags, e.g. PULUMI_FLAGS=--yes. A stack on the docker platform also needs a running Docker engine.
PROJECT_BACKEND = sed -n 's/^  url: *//p' Pulumi.yaml
PULUMI_FLAGS ?=
.PHONY: up down
up down:
	@command -v pulumi >/dev/null 2>&1 || { echo "make $@: the Pulumi CLI is not installed (no pulumi on PATH); install it: https://www.pulumi.com/docs/install/" >&2; exit 1; }
	@test -f Pulumi.$(STACK).yaml || { echo "make $@: no stack file Pulumi.$(STACK).yaml; name a stack with STACK=<name>" >&2; exit 2; }
	@if grep -Eq '^[[:space:]]*neo4j:platform:[[:space:]]*docker' Pulumi.$(STACK).yaml; then \
	  command -v docker >/dev/null 2>&1 || { echo "make $@: stack $(STACK) runs on Docker, but the docker CLI is not installed" >&2; exit 1; }; \
	  docker info >/dev/null 2>&1 || { echo "make $@: stack $(STACK) runs on Docker, but no Docker engine answers (docker info failed); start Docker and try again" >&2; exit 1; }; \
	elif [ -n "$$PULUMI_BACKEND_URL" ] && [ "$$PULUMI_BACKEND_URL" != "$$($(PROJECT_BACKEND))" ]; then \
	  echo "make $@: PULUMI_BACKEND_URL=$$PULUMI_BACKEND_URL, but stack $(STACK) keeps its state in $$($(PROJECT_BACKEND)) (Pulumi.yaml backend.url, as CI does); unset PULUMI_BACKEND_URL" >&2; exit 2; \
	fi
	@$(MAKE) --no-print-directory setup
	@export PULUMI_BACKEND_URL="$${PULUMI_BACKEND_URL:-$$($(PROJECT_BACKEND))}"; \
	if [ $@ = up ]; then pulumi stack select --create $(STACK) && pulumi up --stack $(STACK) $(PULUMI_FLAGS); \
	else pulumi destroy --stack $(STACK) $(PULUMI_FLAGS); fi

# `make rollout STACK=<stack>`: what `pulumi up` holds back on running Neo4j servers (image, user data,
# instance type, subnet), applied one server at a time through Pulumi's Automation API (scripts/rollout.py
# --help); on AWS the HAProxy pair follows, haproxy-1 then haproxy-2, each gated on the NLB's target health
# (AWS credentials needed). FROM=<server> starts there (FROM=haproxy-2 too); DRY_RUN=1 prints the order and
# why; ARGS adds flags (--timeout 30m).
# NEO4J_PASSWORD must hold the admin password (the gates log in over Bolt). Same backend rule as `up`.
.PHONY: rollout
# DRY_RUN=1 with ARGS=--pending … asks Pulumi for nothing (rollout.py --help): no CLI check then; the stack's
# outputs still come from `pulumi stack output` unless ARGS gives --outputs-file or --uri/--servers.
rollout:
	@$(if $(and $(DRY_RUN),$(findstring --pending,$(ARGS))),true,command -v pulumi) >/dev/null 2>&1 || { echo "make $@: the Pulumi CLI is not installed (no pulumi on PATH): the rollout drives Pulumi through its Automation API, which needs it (DRY_RUN=1 ARGS='--pending SERVERS …' needs none); install it: https://www.pulumi.com/docs/install/" >&2; exit 1; }
	@test -f Pulumi.$(STACK).yaml || { echo "make $@: no stack file Pulumi.$(STACK).yaml; name a stack with STACK=<name>" >&2; exit 2; }
	@if ! grep -Eq '^[[:space:]]*neo4j:platform:[[:space:]]*docker' Pulumi.$(STACK).yaml && [ -n "$$PULUMI_BACKEND_URL" ] && [ "$$PULUMI_BACKEND_URL" != "$$($(PROJECT_BACKEND))" ]; then \
	  echo "make $@: PULUMI_BACKEND_URL=$$PULUMI_BACKEND_URL, but stack $(STACK) keeps its state in $$($(PROJECT_BACKEND)) (Pulumi.yaml backend.url, as CI does); unset PULUMI_BACKEND_URL" >&2; exit 2; \
	fi
	@$(MAKE) --no-print-directory setup
	@export PULUMI_BACKEND_URL="$${PULUMI_BACKEND_URL:-$$($(PROJECT_BACKEND))}"; \
	$(PY) scripts/rollout.py --stack $(STACK) $(if $(FROM),--from $(FROM)) $(if $(DRY_RUN),--dry-run) $(ARGS)

# `make upgrade STACK=<stack> VERSION=<x.y.z> [DRY_RUN=1]`: the version guard, the preflight (a verified recent
# backup of every database, databases and hosting as requested, the cluster status check, discovery v2 for
# 5.26 -> 2025), then the rollout and the full check (scripts/upgrade.py --help). DRY_RUN=1 changes nothing and
# needs no Pulumi CLI when ARGS gives --outputs-file (or --replay a recorded scenario).
.PHONY: upgrade
upgrade:
	@test -n "$(VERSION)" || { echo "make $@: name the release to upgrade to: VERSION=x.y.z (e.g. make upgrade STACK=prod VERSION=2025.10.1 DRY_RUN=1)" >&2; exit 2; }
	@test -f Pulumi.$(STACK).yaml || { echo "make $@: no stack file Pulumi.$(STACK).yaml; name a stack with STACK=<name>" >&2; exit 2; }
	@$(if $(DRY_RUN),true,command -v pulumi) >/dev/null 2>&1 || { echo "make $@: the Pulumi CLI is not installed (no pulumi on PATH): the upgrade's rollout drives Pulumi through its Automation API (DRY_RUN=1 needs none); install it: https://www.pulumi.com/docs/install/" >&2; exit 1; }
	@$(MAKE) --no-print-directory setup
	@export PULUMI_BACKEND_URL="$${PULUMI_BACKEND_URL:-$$($(PROJECT_BACKEND))}"; \
	$(PY) scripts/upgrade.py --stack $(STACK) --version $(VERSION) $(if $(DRY_RUN),--dry-run) $(ARGS)

# `make migrate FROM=<4.4 stack> TO=<5.26 stack> [DRY_RUN=1]`: the Upgrade and Migration Guide's migration from 4.4
# into a new 5.26 stack (scripts/migrate.py --help): per database its backup, restored and migrated on one 5.26 server,
# the seed in TO's bucket, CREATE DATABASE from it; users, roles and privileges. FROM is only read. The shell steps run
# on TO's first server over SSM (AWS stacks; each printed first; a re-run skips what is done); ARGS=--users-only
# re-creates only users, roles and privileges. Not yet: a run on real Enterprise servers.
.PHONY: migrate
migrate:
	@test -n "$(FROM)" -a -n "$(TO)" || { echo "make $@: name both stacks: FROM=<4.4 stack> TO=<5.26 stack> (e.g. make migrate FROM=legacy TO=prod DRY_RUN=1)" >&2; exit 2; }
	@$(MAKE) --no-print-directory setup
	$(PY) scripts/migrate.py --from $(FROM) --to $(TO) $(if $(DRY_RUN),--dry-run) $(ARGS)

# `make drill STACK=<stack> [DRY_RUN=1] [YES=1]`: the failover drill (scripts/drill.py --help): the leader of system and
# the default database stopped (SSM on aws, docker stop locally) under a write load through the entry point; the time
# until a new leader accepts writes, writes failed, retried and lost, the time until the server is back and caught up;
# exit 1 over the stack's neo4j:drillMax* keys. Refused at fault tolerance 0, and on prod without YES=1. The stack's
# outputs come from Pulumi (ARGS=--outputs-file FILE instead). NEO4J_PASSWORD must hold the admin password.
.PHONY: drill
drill:
	@test -f Pulumi.$(STACK).yaml || { echo "make $@: no stack file Pulumi.$(STACK).yaml; name a stack with STACK=<name>" >&2; exit 2; }
	@$(MAKE) --no-print-directory setup
	@export PULUMI_BACKEND_URL="$${PULUMI_BACKEND_URL:-$$($(PROJECT_BACKEND))}"; \
	$(PY) scripts/drill.py --stack $(STACK) $(if $(DRY_RUN),--dry-run) $(if $(YES),--yes) $(ARGS)

# `make scale STACK=<stack>`: the Cypher that follows a neo4j:replicaCount change (scripts/scale.py --help). After
# raising it and `make up`, the new servers are enabled and host the databases; after lowering it, the databases
# move off the servers that go, then `make up` removes their machines (UP=1 runs it through the Automation API).
# DRY_RUN=1 prints the Cypher; ARGS adds flags (--ca-cert ca.crt). NEO4J_PASSWORD must hold the admin password.
.PHONY: scale
scale:
	@test -f Pulumi.$(STACK).yaml || { echo "make $@: no stack file Pulumi.$(STACK).yaml; name a stack with STACK=<name>" >&2; exit 2; }
	@$(MAKE) --no-print-directory setup
	@export PULUMI_BACKEND_URL="$${PULUMI_BACKEND_URL:-$$($(PROJECT_BACKEND))}"; \
	$(PY) scripts/scale.py --stack $(STACK) $(if $(DRY_RUN),--dry-run) $(if $(UP),--up) $(ARGS)

# `make databases STACK=<stack>`: the stack's neo4j:databases created where missing and their topology corrected,
# after a deploy (scripts/databases.py --help); never drops a database, reports the unmanaged ones. DRY_RUN=1 prints
# the statements in order; ARGS adds flags (--ca-cert ca.crt). NEO4J_PASSWORD must hold the admin password.
.PHONY: databases
databases:
	@test -f Pulumi.$(STACK).yaml || { echo "make $@: no stack file Pulumi.$(STACK).yaml; name a stack with STACK=<name>" >&2; exit 2; }
	@$(MAKE) --no-print-directory setup
	@export PULUMI_BACKEND_URL="$${PULUMI_BACKEND_URL:-$$($(PROJECT_BACKEND))}"; \
	$(PY) scripts/databases.py --stack $(STACK) $(if $(DRY_RUN),--dry-run) $(ARGS)

# One real Neo4j Community server on 127.0.0.1, configured by our own templates; prints its URI and
# password. VERSION: a line (4.4, 5.26, 2025: the release the tests pin) or a release x.y.z; default 5.26.
# Foreground (Ctrl-C stops it); ARGS=--background returns once it is up, ARGS=--stop stops that.
.PHONY: neo4j-local
neo4j-local: neo4j-jars
	$(PY) -m tests.support.neo4j_local $(if $(VERSION),--version $(VERSION)) $(ARGS)

# The local tour of the README's quick start, each step one target (tests/support/local_tour.py):
#   make local-server          a real Neo4j Community server (VERSION=4.4|5.26|2025, default 5.26) on loopback, in the background
#   make local-check           scripts/check.py against it (its URI and NEO4J_PASSWORD supplied)
#   make local-backup-restore  backup.py then restore.py against moto's S3 on loopback (endpoint, bucket, staging and
#                              work directories, neo4j-admin supplied; all removed afterwards)
#   make local-stop            stops the server (its temporary NEO4J_HOME goes with it)
# ARGS adds flags to the step's command (e.g. ARGS=--json).
.PHONY: local-server local-check local-backup-restore local-stop
local-server: neo4j-jars
	@$(PY) -m tests.support.neo4j_local --background $(if $(VERSION),--version $(VERSION))

local-check: setup
	@$(PY) -m tests.support.local_tour check $(ARGS)

local-backup-restore: setup
	@$(PY) -m tests.support.local_tour backup-restore $(ARGS)

local-stop: setup
	@$(PY) -m tests.support.neo4j_local --stop
