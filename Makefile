SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
CHECKOV_VENV := .venv-checkov
# The stack the Pulumi targets work on: STACK when given (make up STACK=prod), else the one selected for this project
# (pulumi stack init NAME or pulumi stack select NAME; `pulumi stack --show-name` says which). make never creates or
# selects a stack itself.
STACK ?=
# What the end-to-end tests run: the real registry, a real client, a real image, a real ingress hop,
# and a node's own clients (containerd and its CRI, Docker, Podman).
DEBIAN_PACKAGES := docker-registry skopeo busybox-static apache2-utils openssl curl iptables iproute2 util-linux nginx haproxy \
  containerd docker.io podman
# What the Pulumi kubernetes provider reads: KUBECONFIG (a list, as kubectl takes it), else ~/.kube/config.
KUBECONFIG_PATHS := $(or $(KUBECONFIG),$(HOME)/.kube/config)
# Where k3s and RKE2 write their kubeconfig on a node: kubectl may find it there by itself, Pulumi does not.
DISTRO_KUBECONFIGS ?= /etc/rancher/k3s/k3s.yaml /etc/rancher/rke2/rke2.yaml

# The backend you chose wins: PULUMI_BACKEND_URL, then Pulumi.yaml's backend.url, then
# `pulumi login` (credentials.json's "current"; an encrypted file counts as chosen), then Pulumi Cloud
# when PULUMI_ACCESS_TOKEN is set (the CLI logs in with it, as in CI).
# Only when there is none does `make up` use Pulumi's local file backend, as `pulumi login --local`.
PULUMI_CREDENTIALS := $(or $(PULUMI_CREDENTIALS_PATH),$(PULUMI_HOME),$(HOME)/.pulumi)/credentials.json
CHOSEN_BACKEND := $(strip $(PULUMI_BACKEND_URL)$(if $(PULUMI_ACCESS_TOKEN),pulumi-cloud)$(shell grep -sE '^backend:' Pulumi.yaml)$(shell \
  $(PYTHON) -c 'import json,sys; print(json.load(open(sys.argv[1])).get("current") or "")' \
  '$(PULUMI_CREDENTIALS)' 2>/dev/null || test ! -e '$(PULUMI_CREDENTIALS)' || echo encrypted))
ifeq ($(CHOSEN_BACKEND),)
export PULUMI_BACKEND_URL := file://$(HOME)
endif

# What the Pulumi targets need is checked here, while make reads this file, so that nothing is built
# first: the CLI, v3.226.0 or later; a Kubernetes context in the kubeconfig Pulumi reads, but for `outputs`,
# which only reads the state; a passphrase when the local backend runs unattended; the stack (STACK, or the
# selected one), which must exist; for up and preview, a default StorageClass when the data claim names no
# class. tools/preflight.sh says what is missing in one line; then -q (run no recipe, print nothing, exit 1)
# stops make without a "make: *** … Error" line of its own.
PULUMI_GOALS := up preview drift destroy renew pulumi-ready
PREFLIGHT := $(strip $(if $(filter $(PULUMI_GOALS) outputs pulumi-cli,$(MAKECMDGOALS)),cli) \
  $(if $(filter $(PULUMI_GOALS),$(MAKECMDGOALS)),context) \
  $(if $(filter $(PULUMI_GOALS) outputs,$(MAKECMDGOALS)),passphrase stack) \
  $(if $(filter up preview,$(MAKECMDGOALS)),storage))
ifneq ($(PREFLIGHT),)
PREFLIGHT_RESULT := $(shell bash tools/preflight.sh '$(PREFLIGHT)' '$(KUBECONFIG_PATHS)' '$(PULUMI_BACKEND_URL)' \
  '$(STACK)' '$(firstword $(filter $(PULUMI_GOALS) outputs,$(MAKECMDGOALS)))' '$(PYTHON)' '$(DISTRO_KUBECONFIGS)')
ifneq ($(firstword $(PREFLIGHT_RESULT)),ready)
MAKEFLAGS += -q
endif
endif
# The stack by name, for the tools that need one (make up's notice, make renew): STACK, else the selected stack's
# fully qualified name. Pulumi itself is given --stack only when STACK is: else it works on the selected stack.
STACK_NAME := $(or $(STACK),$(word 2,$(PREFLIGHT_RESULT)))
ON_STACK := $(if $(STACK),--stack $(STACK))

.PHONY: help up preview drift renew outputs destroy test test-real bench lint schema debian-packages pulumi-cli pulumi-ready \
  toolchain cluster-up cluster-down

help:
	@echo "make up       create the virtualenv, then pulumi up on the selected stack (pulumi stack --show-name says which)"
	@echo "make preview  pulumi preview --diff with the policy pack (what a pull request shows)"
	@echo "make drift    pulumi preview --refresh --expect-no-changes: fails when the cluster drifted"
	@echo "make renew    renew the certificates that are due, and roll what uses them; refuses any other change"
	@echo "make outputs  the stack's outputs, secrets hidden (pulumi stack output --json)"
	@echo "make destroy  pulumi destroy (the CA and the data claim are protected: docs/operations.md)"
	@echo "make test     install what the tests need, then lint, type-check and run every test"
	@echo "make lint     ruff, mypy, the stack files against their schema, the workflows (what make test runs first)"
	@echo "make test-real  only the real-engine tests: the built Pulumi CLI and providers against the built control plane"
	@echo "make toolchain  build (or reuse) the test toolchain from the Go module proxy; prints its bin folder last"
	@echo "make cluster-up    start a local control plane (kwok nodes) from the toolchain; prints its kubeconfig last"
	@echo "make cluster-down  stop it"
	@echo "make bench    the secured registry against the plain one, and the program's cost: bench/RESULTS.md"
	@echo "make schema   regenerate the stack-config JSON Schema and docs/configuration.md from the settings models"
	@echo "make up STACK=prod   works on the stack prod instead. make never creates or selects a stack: pulumi stack"
	@echo "              init NAME (or pulumi stack select NAME) first. What is missing (the stack, the Pulumi CLI v3.226.0+,"
	@echo "              a Kubernetes context, a default StorageClass for the data claim) it says in one line, building nothing"

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

# The policy pack's own virtualenv (PulumiPolicy.yaml names it): its pins are not the program's.
policy/venv/.installed: policy/requirements.txt
	$(PYTHON) -m venv policy/venv
	policy/venv/bin/pip install --quiet -r policy/requirements.txt
	touch $@

$(CHECKOV_VENV)/.installed: tests/requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet -r tests/requirements-checkov.txt
	touch $@

# The checks themselves run while make reads this file (PREFLIGHT, above).
pulumi-cli:
	@pulumi version

pulumi-ready: $(VENV)/.runtime

# Every target works on a stack that exists (the preflight says which, or that none does): none creates one.
# A notice when the stack still serves the example hostnames; pulumi up asks before it changes anything.
up: pulumi-ready
	@$(PYTHON) -m tools.example_hostnames $(STACK_NAME) || true
	pulumi up $(ON_STACK)

preview: pulumi-ready policy/venv/.installed
	pulumi preview --diff $(ON_STACK) --policy-pack policy

drift: pulumi-ready
	pulumi preview --refresh --expect-no-changes --diff $(ON_STACK)

# What .github/workflows/renew.yml runs every day (tools/renew.py says how it refuses other changes).
renew: pulumi-ready policy/venv/.installed
	$(VENV)/bin/python -m tools.renew --stack $(STACK_NAME) --policy-pack policy

outputs:
	pulumi stack output --json $(ON_STACK)

destroy: pulumi-ready
	pulumi destroy $(ON_STACK)

debian-packages:
	@missing=$$(for package in $(DEBIAN_PACKAGES); do dpkg -s $$package >/dev/null 2>&1 || echo $$package; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "make: the tests need: sudo apt-get install $$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The stack files are checked against the stack-config schema by components/settings/check.py: one line
# per problem, naming the key, never a secret's value.
lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy examples/consumer/__main__.py
	$(VENV)/bin/mypy policy/__main__.py
	$(VENV)/bin/python -m components.settings.check Pulumi.*.yaml examples/stacks/*.yaml
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(VENV)/bin/zizmor --offline .github/workflows

# Regenerate the stack-config JSON Schema and docs/configuration.md from the settings models (a test fails
# when either is stale).
schema: $(VENV)/.runtime
	$(VENV)/bin/python -m components.settings.schema
	$(VENV)/bin/python -m components.settings.reference

# The toolchain (tools/toolchain/build.sh): the Pulumi CLI, its Python language host, the providers, a control
# plane and the registry release, built from the Go module proxy into ~/.cache/image-registry/toolchain, once per
# version. Its last line (its only line on stdout) is the folder of every binary: a failed build stops the recipe.
WITH_TOOLCHAIN = bin=$$(tools/toolchain/build.sh) && IMAGE_REGISTRY_TOOLCHAIN_BIN=$$bin
CLUSTER_STATE ?= $(HOME)/.cache/image-registry/cluster

toolchain:
	@tools/toolchain/build.sh

# A control plane of your own to try the stack on, as with kind: KUBECONFIG=<the last line> make up.
cluster-up: $(VENV)/.dev
	@bin=$$(tools/toolchain/build.sh) && $(VENV)/bin/python -m harness.control_plane up --state $(CLUSTER_STATE) --bin $$bin

cluster-down: $(VENV)/.dev
	@$(VENV)/bin/python -m harness.control_plane down --state $(CLUSTER_STATE)

TEST_PREREQUISITES := $(VENV)/.dev $(CHECKOV_VENV)/.installed policy/venv/.installed debian-packages lint

# The real-engine tests last, each named (-v): what CI shows of the real engine.
test: $(TEST_PREREQUISITES)
	$(WITH_TOOLCHAIN) $(VENV)/bin/python -m pytest -m "not real_engine"
	$(WITH_TOOLCHAIN) $(VENV)/bin/python -m pytest -m real_engine -v

test-real: $(TEST_PREREQUISITES)
	$(WITH_TOOLCHAIN) $(VENV)/bin/python -m pytest -m real_engine

# About seven minutes, as root (the pods run in Linux namespaces); not part of CI (`make test` runs its short version).
bench: $(VENV)/.dev debian-packages
	$(VENV)/bin/python -m bench
