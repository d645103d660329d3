SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
CHECKOV_VENV := .venv-checkov
STACK ?= dev
# Pulumi's local file backend (what `pulumi login --local` uses) unless you chose another.
export PULUMI_BACKEND_URL ?= file://$(HOME)
# What the end-to-end tests run: the real registry, a real client, a real image.
DEBIAN_PACKAGES := docker-registry skopeo busybox-static apache2-utils openssl curl iptables iproute2 util-linux
KUBECONFIG_FILE := $(firstword $(subst :, ,$(KUBECONFIG)) $(HOME)/.kube/config)

.PHONY: help up preview destroy test lint debian-packages pulumi-ready

help:
	@echo "make up       create the virtualenv, select or create the '$(STACK)' stack, pulumi up"
	@echo "make preview  the same, but pulumi preview --diff (what a pull request shows)"
	@echo "make test     install what the tests need, then lint, type-check and run every test"
	@echo "STACK=prod make up   works on another stack"

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

$(CHECKOV_VENV)/.installed: tests/requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet -r tests/requirements-checkov.txt
	touch $@

pulumi-ready: $(VENV)/.runtime
	@command -v pulumi >/dev/null || { echo "make: the Pulumi CLI is missing: install it (https://www.pulumi.com/docs/iac/download-install/) and run make again" >&2; exit 1; }
	@if command -v kubectl >/dev/null; then kubectl config current-context >/dev/null 2>&1; \
	 else grep -qE '^current-context: *"?[^" ]+' "$(KUBECONFIG_FILE)" 2>/dev/null; fi \
	 || { echo "make: no Kubernetes context: point KUBECONFIG at your cluster's kubeconfig (or kubectl config use-context NAME) and run make again" >&2; exit 1; }
	@if [[ "$$PULUMI_BACKEND_URL" == file://* && -z "$${PULUMI_CONFIG_PASSPHRASE+set}$${PULUMI_CONFIG_PASSPHRASE_FILE+set}" && ! -t 0 ]]; then \
	 echo "make: set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE: the local backend encrypts the stack's secrets with it" >&2; exit 1; fi
	pulumi stack select --create $(STACK)

up: pulumi-ready
	pulumi up --stack $(STACK)

preview: pulumi-ready
	pulumi preview --diff --stack $(STACK)

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

test: $(VENV)/.dev $(CHECKOV_VENV)/.installed debian-packages lint
	$(VENV)/bin/python -m pytest
