#!/usr/bin/env bash
# Builds (or reuses) the test toolchain from the Go module proxy: the Pulumi CLI and its Python language
# host, the kubernetes, tls and random providers, a Kubernetes control plane (kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, etcd, kwok) and the registry release the stack pins.
#
# Each piece is built once per version and recipe into $IMAGE_REGISTRY_TOOLCHAIN (default
# ~/.cache/image-registry/toolchain), outside the work tree; nothing here is committed but the recipes.
# The last line printed is the folder that holds every binary.
#
# Usage: tools/toolchain/build.sh [piece ...]   (default: every piece)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${IMAGE_REGISTRY_TOOLCHAIN:-${XDG_CACHE_HOME:-$HOME/.cache}/image-registry/toolchain}
mkdir -p "$cache"
# Nothing is downloaded but modules: no toolchain switch behind our back, no VCS fallback.
export GOTOOLCHAIN=${GOTOOLCHAIN:-local} GOFLAGS="${GOFLAGS:-} -buildvcs=false -trimpath" GOPROXY=${GOPROXY:-https://proxy.golang.org} GONOSUMDB= GOWORK=off CGO_ENABLED=${CGO_ENABLED:-0}

pieces=(pulumi kubernetes_provider tls_random_providers control_plane registry)
[ $# -gt 0 ] && pieces=("$@")

# A wrapper module in a fresh folder: go.mod with the given requires and replaces, then `go mod download`.
# Usage: wrapper_module DIR MODULE_PATH  (then write go.mod lines yourself, see the piece files)
log() { printf '%s\n' "toolchain: $*" >&2; }

for piece in "${pieces[@]}"; do
  # shellcheck source=/dev/null
  source "$here/$piece.sh"
done

bin_dirs=()
for piece in "${pieces[@]}"; do
  version_var="${piece}_version"
  version=${!version_var}
  recipe=$(sha256sum "$here/$piece.sh" | cut -c1-12)
  target="$cache/$piece-$version-$recipe"
  if [ ! -e "$target/.complete" ]; then
    log "building $piece $version (recipe $recipe) into $target"
    work=$(mktemp -d "$cache/.build-$piece.XXXXXX")
    start=$SECONDS
    # Not in an && list: there `set -e` would not stop a recipe at its first failing step.
    (
      cd "$work"
      "build_$piece" "$work/out"
    )
    rm -rf "$target"
    mv "$work/out" "$target"
    rm -rf "$work"
    touch "$target/.complete"
    log "built $piece in $((SECONDS - start)) s"
  fi
  bin_dirs+=("$target/bin")
done

# One folder with every binary: links into each piece's bin/, named by what it holds.
combined="$cache/bin-$(printf '%s\n' "${bin_dirs[@]}" | sha256sum | cut -c1-12)"
if [ ! -d "$combined" ]; then
  staging=$(mktemp -d "$cache/.bin.XXXXXX")
  for dir in "${bin_dirs[@]}"; do
    for binary in "$dir"/*; do ln -s "$binary" "$staging/$(basename "$binary")"; done
  done
  mv "$staging" "$combined"
fi
echo "$combined"
