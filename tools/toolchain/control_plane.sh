# shellcheck shell=bash
# Piece `control_plane`: a Kubernetes control plane with no kubelet, for the real-engine tests.
# kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from k8s.io/kubernetes; etcd at the
# release that Kubernetes release pins (its go.mod's go.etcd.io/etcd/server/v3); kwok to play the nodes
# and move pods to Running/Ready. Sourced by build.sh, which runs build_control_plane in an empty folder.

# 1.34.4: the newest 1.34 patch the module proxy serves; its etcd is the one its go.mod pins.
control_plane_kubernetes=v1.34.4
control_plane_etcd=v3.6.4
control_plane_kwok=v0.8.0
control_plane_version="k8s${control_plane_kubernetes}-etcd${control_plane_etcd}-kwok${control_plane_kwok}"

# Kubernetes' own go.mod requires every staging module at v0.0.0 and replaces it with ./staging/src/...,
# which only exists in its repository; the same release of each is published as k8s.io/<name> v0.<minor>.<patch>.
_control_plane_kubernetes_module() {
  local staging_version=v0.${control_plane_kubernetes#v1.}
  local kubernetes_mod
  kubernetes_mod=$(go mod download -json "k8s.io/kubernetes@$control_plane_kubernetes" |
    sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
  # `go 1.24.0` as Kubernetes' own go.mod: the same GODEBUG defaults as its release binaries.
  {
    printf 'module image-registry.test/control-plane\n\ngo 1.24.0\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' \
      "$control_plane_kubernetes"
    # Only the staging modules Kubernetes requires: some others (sample-controller, ...) are not served.
    awk -v v="$staging_version" '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" { printf "\t%s => %s %s\n", $1, $1, v }' \
      "$kubernetes_mod" | sort -u
    printf ')\n'
  } >go.mod
}

# The version strings hack/lib/version.sh would stamp, so `kubectl version` and /version tell the release.
_control_plane_kubernetes_ldflags() {
  local minor=${control_plane_kubernetes#v1.}
  minor=${minor%%.*}
  local flags="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$control_plane_kubernetes -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  printf '%s' "$flags"
}

build_control_plane() {
  local out=$1
  mkdir -p "$out/bin" kubernetes etcd kwok
  local commands=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
  local packages=("${commands[@]/#/k8s.io/kubernetes/cmd/}")
  # `|| return` after each step: build.sh calls us in an && list, where `set -e` does not apply.

  (cd kubernetes && _control_plane_kubernetes_module &&
    go get "${packages[@]/%/@$control_plane_kubernetes}" &&
    go build -ldflags="$(_control_plane_kubernetes_ldflags)" -o "$out/bin/" "${packages[@]}") || return

  # etcd's server module holds the `etcd` main package at its root (it calls etcdmain.Main).
  (cd etcd && printf 'module image-registry.test/etcd\n\ngo 1.23.0\n' >go.mod &&
    go get "go.etcd.io/etcd/server/v3@$control_plane_etcd" &&
    go build -ldflags="-s -w" -o "$out/bin/etcd" go.etcd.io/etcd/server/v3) || return

  # kwok in a module of its own: it pins a newer client-go than Kubernetes 1.34's. Its pkg/consts.Version
  # already names the release, so no -X.
  (cd kwok && printf 'module image-registry.test/kwok\n\ngo 1.26.0\n' >go.mod &&
    go get "sigs.k8s.io/kwok/cmd/kwok@$control_plane_kwok" &&
    go build -ldflags="-s -w" -o "$out/bin/kwok" sigs.k8s.io/kwok/cmd/kwok &&
    _control_plane_kwok_stages "$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)" "$out/share/kwok-stages.yaml")
}

# The kwok binary has no stages of its own (kwokctl embeds them): the stages kwokctl gives a cluster by
# default, from the same release, as one config file for `kwok --config` (harness/control_plane.py).
_control_plane_kwok_stages() {
  local source=$1/kustomize/stage target=$2 stage
  mkdir -p "$(dirname "$target")"
  for stage in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
    pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    printf -- '---\n' && cat "$source/$stage.yaml"
  done >"$target"
}
