#!/usr/bin/env bash
# What the Pulumi targets need, checked before make builds anything (the Makefile runs this while it reads
# itself). On the first thing missing: one line on stderr saying what to do, and nothing on stdout; when all
# is there: "ready" on stdout.
# Usage: preflight.sh "CHECKS" KUBECONFIG_FILE BACKEND_URL, CHECKS being some of: cli context passphrase.
checks=" $1 " kubeconfig_file=$2 backend_url=$3

if [[ $checks == *" cli "* ]] && ! command -v pulumi >/dev/null; then
  echo "make: the Pulumi CLI is missing: install it (https://www.pulumi.com/docs/iac/download-install/) and run make again" >&2
  exit 0
fi
if [[ $checks == *" context "* ]]; then
  if command -v kubectl >/dev/null; then
    kubectl config current-context >/dev/null 2>&1
  else
    grep -qE '^current-context: *"?[^" ]+' "$kubeconfig_file" 2>/dev/null
  fi || {
    echo "make: no Kubernetes context: point KUBECONFIG at your cluster's kubeconfig (or kubectl config use-context NAME) and run make again" >&2
    exit 0
  }
fi
# Unattended, Pulumi cannot ask for the passphrase that encrypts the local backend's secrets.
if [[ $checks == *" passphrase "* && $backend_url == file://* && ! -t 0 ]] &&
  [[ -z "${PULUMI_CONFIG_PASSPHRASE+set}${PULUMI_CONFIG_PASSPHRASE_FILE+set}" ]]; then
  echo "make: set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE: the local backend encrypts the stack's secrets with it" >&2
  exit 0
fi
echo ready
