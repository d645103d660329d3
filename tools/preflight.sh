#!/usr/bin/env bash
# What the Pulumi targets need, checked before make builds anything (the Makefile runs this while it reads
# itself). On the first thing missing: one line on stderr saying what to do, and nothing on stdout; when all
# is there: "ready" on stdout, then, with the stack check, the stack's fully qualified name.
# Usage: preflight.sh "CHECKS" KUBECONFIG BACKEND_URL STACK GOAL PYTHON "DISTRO_KUBECONFIGS", CHECKS being some
# of: cli context passphrase stack storage. KUBECONFIG is the user's KUBECONFIG (a list, as kubectl takes it), or
# ~/.kube/config when unset; BACKEND_URL the backend make chose (or none); STACK make's STACK (or none: the
# selected stack); DISTRO_KUBECONFIGS the kubeconfigs k3s and RKE2 write on their nodes.
# The checks that need no Pulumi call come first, then the CLI's version, then the stack (tools/preflight_stack.py).
checks=" $1 " kubeconfig=$2 backend_url=$3 stack=$4 goal=${5:-up} python=${6:-python3} distro_kubeconfigs=$7
# The oldest CLI whose `preview --expect-no-changes` exits non-zero on changes (make drift, make renew) is v3.226.0;
# `state unprotect` with several URNs (docs/operations.md) needs v3.170.0.
minimum_cli=3.226.0
install=https://www.pulumi.com/docs/iac/download-install/
# Every Pulumi call here on the backend make chose, which a $(shell) of GNU make before 4.4 does not pass on.
if [[ -n $backend_url ]]; then export PULUMI_BACKEND_URL=$backend_url; fi

missing() {
  echo "make: $*" >&2
  exit 0
}

# Whether one of these kubeconfig files names a current context, without kubectl.
names_a_context() {
  local file
  local IFS=:
  for file in $1; do
    grep -qE '^current-context: *"?[^" ]+' "$file" 2>/dev/null && return 0
  done
  return 1
}

if [[ $checks == *" cli "* ]] && ! command -v pulumi >/dev/null; then
  missing "the Pulumi CLI is missing: install it ($install) and run make again"
fi
if [[ $checks == *" context "* ]]; then
  # The Pulumi kubernetes provider reads KUBECONFIG, else ~/.kube/config, and nothing else; kubectl may know
  # more (k3s's kubectl falls back on /etc/rancher/k3s/k3s.yaml), so it is told which file to read.
  if command -v kubectl >/dev/null; then
    KUBECONFIG=$kubeconfig kubectl config current-context >/dev/null 2>&1
  else
    names_a_context "$kubeconfig"
  fi || {
    for distro_kubeconfig in $distro_kubeconfigs; do
      if [[ -e $distro_kubeconfig && :$kubeconfig: != *:$distro_kubeconfig:* ]]; then
        missing "no Kubernetes context in $kubeconfig, which Pulumi reads (KUBECONFIG, else ~/.kube/config);" \
          "this node's cluster has its own: export KUBECONFIG=$distro_kubeconfig and run make again"
      fi
    done
    missing "no Kubernetes context: point KUBECONFIG at your cluster's kubeconfig (or kubectl config use-context NAME) and run make again"
  }
fi
# Unattended, Pulumi cannot ask for the passphrase that encrypts the local backend's secrets.
if [[ $checks == *" passphrase "* && $backend_url == file://* && ! -t 0 ]] &&
  [[ -z "${PULUMI_CONFIG_PASSPHRASE+set}${PULUMI_CONFIG_PASSPHRASE_FILE+set}" ]]; then
  missing "set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE: the local backend encrypts the stack's secrets with it"
fi
if [[ $checks == *" cli "* ]]; then
  version=$(pulumi version 2>/dev/null)
  # A version it cannot read (a build of its own) is let through.
  if [[ $version =~ ^v?([0-9]+)\.([0-9]+)\.([0-9]+) ]]; then
    have=$(printf '%06d%06d%06d' "$((10#${BASH_REMATCH[1]}))" "$((10#${BASH_REMATCH[2]}))" "$((10#${BASH_REMATCH[3]}))")
    IFS=. read -r major minor patch <<<"$minimum_cli"
    if [[ $have < $(printf '%06d%06d%06d' "$major" "$minor" "$patch") ]]; then
      missing "Pulumi CLI $version is older than v$minimum_cli, the oldest this project supports: upgrade it ($install)"
    fi
  fi
fi
name=
if [[ $checks == *" stack "* ]]; then
  stack_checks=stack
  if [[ $checks == *" storage "* ]]; then stack_checks+=" storage"; fi
  name=$("$python" -m tools.preflight_stack "$stack_checks" "$stack" "$goal" "$kubeconfig")
  [[ -n $name ]] || exit 0
fi
echo ready $name
