# shellcheck shell=bash
# Piece `kubernetes_provider`: pulumi-resource-kubernetes, the plugin the pulumi-kubernetes Python SDK drives.
# Sourced by build.sh, which runs build_kubernetes_provider in an empty folder.
#
# Which release: the project pins the Python SDK pulumi-kubernetes==4.34.2, but the provider module
# (github.com/pulumi/pulumi-kubernetes/provider/v4) has no tags of its own, so the module proxy serves it
# only by pseudo-version, and the mirror we may use serves exactly one: the commit that upstream tagged
# v4.25.0 (f47bc2d6f199, 2026-01-15 03:34:56 UTC). The pseudo-versions of the v4.26.0 … v4.32.0 release
# commits all answer 403, and 4.33/4.34 are newer than anything we can name. So this is 4.25.0, stamped as
# such: the CLI runs whatever pulumi-resource-kubernetes is on PATH, whatever version the SDK asks for.
kubernetes_provider_version=4.25.0
kubernetes_provider_module=github.com/pulumi/pulumi-kubernetes/provider/v4
kubernetes_provider_pseudo=v4.0.0-20260115033456-f47bc2d6f199
# Upstream's go.mod replaces the Go SDK module with its sibling folder (`=> ../sdk`), which no module zip
# carries. sdk/v4.25.0 is the same release's SDK (its go/ tree differs from that commit's only in the
# version stamp), so the wrapper points the replace there instead.
kubernetes_provider_sdk_version=v4.25.0

build_kubernetes_provider() {
  local out=$1 cmd=cmd/pulumi-resource-kubernetes upstream
  mkdir -p "$out/bin" wrapper
  cd wrapper
  cat >go.mod <<EOF
module image-registry.local/toolchain/kubernetes-provider

go 1.24.7

require $kubernetes_provider_module $kubernetes_provider_pseudo

replace github.com/pulumi/pulumi-kubernetes/sdk/v4 => github.com/pulumi/pulumi-kubernetes/sdk/v4 $kubernetes_provider_sdk_version
EOF
  upstream=$(go mod download -json "$kubernetes_provider_module@$kubernetes_provider_pseudo" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$upstream/$cmd" ] || { log "kubernetes_provider: no $cmd in the module zip ($upstream)"; return 1; }

  # main.go embeds schema-embed.json and terraform-mapping-embed.json, which upstream's `go generate`
  # writes and .gitignore keeps out of the module zip. The module cache is read-only, so the command's
  # folder (main.go, generate.go and the JSON it reads) is rebuilt here, inside the wrapper module, and
  # generate.go itself writes the embeds, with the version we stamp, as `make provider` does.
  mkdir -p "$cmd"
  cp "$upstream/$cmd"/{main.go,generate.go,schema.json,terraform-mapping.json} "$cmd/"
  chmod u+w "$cmd"/*
  go mod tidy
  (cd "$cmd" && VERSION=$kubernetes_provider_version go run generate.go)

  # pkg/version.Version is what the plugin reports to the engine and puts in its User-Agent.
  go build -ldflags "-X $kubernetes_provider_module/pkg/version.Version=$kubernetes_provider_version" \
    -o "$out/bin/pulumi-resource-kubernetes" "./$cmd"
}
