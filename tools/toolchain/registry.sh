# shellcheck shell=bash
# Piece `registry`: the Distribution release the stack pins (`registry:3.1.1`), its `registry` binary
# (cmd/registry) built from the module proxy as the image's Dockerfile builds it: no build tags, static
# (CGO_ENABLED=0), the version stamped by ldflags so that `registry --version` names the release.
# Sourced by build.sh, which runs build_registry in an empty folder.
registry_version=v3.1.1
registry_module=github.com/distribution/distribution/v3

build_registry() {
  local out=$1
  mkdir -p "$out/bin"
  # `go install module/cmd@version` builds with the release's own go.mod and go.sum, as its Dockerfile
  # does from the tag (no wrapper module whose resolution could pick other versions of dependencies).
  # The revision (a git commit) is not known to the module proxy: left empty, as `go install` would.
  GOBIN="$out/bin" go install \
    -ldflags "-s -w -X $registry_module/version.version=$registry_version -X $registry_module/version.mainpkg=$registry_module" \
    "$registry_module/cmd/registry@$registry_version"
  "$out/bin/registry" --version >&2
}
