SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
CHECKOV_VENV := .venv-checkov
STACK ?= dev
# What the end-to-end tests run: the real registry, a real client, a real image, a real ingress hop,
# and a node's own clients (containerd and its CRI, Docker, Podman).
DEBIAN_PACKAGES := docker-registry skopeo busybox-static apache2-utils openssl curl iptables iproute2 util-linux nginx haproxy \
  containerd docker.io podman
KUBECONFIG_FILE := $(firstword $(subst :, ,$(KUBECONFIG)) $(HOME)/.kube/config)
SCHEMA := components/settings/stack-config.schema.json

# The backend you chose wins: PULUMI_BACKEND_URL, then Pulumi.yaml's backend.url, then
# `pulumi login` (credentials.json's "current"; an encrypted file counts as chosen).
# Only when there is none does `make up` use Pulumi's local file backend, as `pulumi login --local`.
PULUMI_CREDENTIALS := $(or $(PULUMI_CREDENTIALS_PATH),$(PULUMI_HOME),$(HOME)/.pulumi)/credentials.json
CHOSEN_BACKEND := $(strip $(PULUMI_BACKEND_URL)$(shell grep -sE '^backend:' Pulumi.yaml)$(shell \
  $(PYTHON) -c 'import json,sys; print(json.load(open(sys.argv[1])).get("current") or "")' \
  '$(PULUMI_CREDENTIALS)' 2>/dev/null || test ! -e '$(PULUMI_CREDENTIALS)' || echo encrypted))
ifeq ($(CHOSEN_BACKEND),)
export PULUMI_BACKEND_URL := file://$(HOME)
endif

.PHONY: help up preview drift outputs destroy test bench lint schema debian-packages pulumi-cli pulumi-ready stack-selected

help:
	@echo "make up       create the virtualenv, select or create the '$(STACK)' stack, pulumi up"
	@echo "make preview  pulumi preview --diff with the policy pack (what a pull request shows)"
	@echo "make drift    pulumi preview --refresh --expect-no-changes: fails when the cluster drifted"
	@echo "make outputs  the stack's outputs, secrets hidden (pulumi stack output --json)"
	@echo "make destroy  pulumi destroy (the CA and the data claim are protected: see README)"
	@echo "make test     install what the tests need, then lint, type-check and run every test"
	@echo "make bench    the secured registry against the plain one, and the program's cost: bench/RESULTS.md"
	@echo "make schema   regenerate the stack-config JSON Schema from the settings models"
	@echo "STACK=prod make up   works on another stack"

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

# Said at once, before the virtualenv is built.
pulumi-cli:
	@command -v pulumi >/dev/null || { echo "make: the Pulumi CLI is missing: install it (https://www.pulumi.com/docs/iac/download-install/) and run make again" >&2; exit 1; }

pulumi-ready: pulumi-cli $(VENV)/.runtime
	@if command -v kubectl >/dev/null; then kubectl config current-context >/dev/null 2>&1; \
	 else grep -qE '^current-context: *"?[^" ]+' "$(KUBECONFIG_FILE)" 2>/dev/null; fi \
	 || { echo "make: no Kubernetes context: point KUBECONFIG at your cluster's kubeconfig (or kubectl config use-context NAME) and run make again" >&2; exit 1; }
	@if [[ "$$PULUMI_BACKEND_URL" == file://* && -z "$${PULUMI_CONFIG_PASSPHRASE+set}$${PULUMI_CONFIG_PASSPHRASE_FILE+set}" && ! -t 0 ]]; then \
	 echo "make: set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE: the local backend encrypts the stack's secrets with it" >&2; exit 1; fi

# up and preview start a stack that does not exist yet; drift, outputs and destroy need one that does.
stack-selected: pulumi-ready
	pulumi stack select --create $(STACK)

up: stack-selected
	pulumi up --stack $(STACK)

preview: stack-selected policy/venv/.installed
	pulumi preview --diff --stack $(STACK) --policy-pack policy

drift: pulumi-ready
	pulumi preview --refresh --expect-no-changes --diff --stack $(STACK)

outputs: pulumi-ready
	pulumi stack output --json --stack $(STACK)

destroy: pulumi-ready
	pulumi destroy --stack $(STACK)

debian-packages:
	@missing=$$(for package in $(DEBIAN_PACKAGES); do dpkg -s $$package >/dev/null 2>&1 || echo $$package; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "make: the tests need: sudo apt-get install $$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy examples/consumer/__main__.py
	$(VENV)/bin/mypy policy/__main__.py
	$(VENV)/bin/check-jsonschema --schemafile $(SCHEMA) Pulumi.*.yaml
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(VENV)/bin/zizmor --offline .github/workflows

# Regenerate the stack-config JSON Schema from the settings models (a test fails when it is stale).
schema: $(VENV)/.runtime
	$(VENV)/bin/python -m components.settings.schema

test: $(VENV)/.dev $(CHECKOV_VENV)/.installed debian-packages lint
	$(VENV)/bin/python -m pytest

# About five minutes, as root (the pods run in Linux namespaces); not part of CI (`make test` runs its short version).
bench: $(VENV)/.dev debian-packages
	$(VENV)/bin/python -m bench
