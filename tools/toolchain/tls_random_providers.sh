# shellcheck shell=bash
# Piece `tls_random_providers`: pulumi-resource-tls and pulumi-resource-random, the plugins the pulumi-tls
# and pulumi-random Python SDKs drive. Sourced by build.sh, which runs build_tls_random_providers in an
# empty folder.
#
# Why these are not upstream's provider modules: github.com/pulumi/pulumi-tls/provider/v5 and
# github.com/pulumi/pulumi-random/provider/v4 have no tags of their own, so the module proxy can serve
# them only by pseudo-version, and the mirror we may use serves none that we can name: the pseudo-version
# of every release commit we know (tls v5.0.0 … v5.5.1, random v4.14.0 … v4.21.1), and of every other
# commit of 2026 up to 2026-08-14, answers 403 "not available"; the releases the project pins
# (tls 5.6.2, random 4.21.4) are newer than any commit we can see, and `@v/list` is refused too.
#
# What is served is what those releases are made of: the Terraform providers they wrap, the bridge and
# the Pulumi SDKs. So each plugin is built the way upstream builds its own, from a wrapper module of
# ours: a shim that reaches the Terraform provider's internal New(), a ProviderInfo that gives the
# resources the tokens the pinned SDKs register (tls:index/privateKey:PrivateKey, …), a tfgen run that
# writes schema.json and bridge-metadata.json, and a step that stamps the version into
# schema-embed.json. Upstream's extras that only matter for docs, SDK generation or state written by
# older major versions (doc edit rules, package metadata, pre-Plugin-Framework state-upgrade hooks)
# are left out: every stack these plugins see was created by them.
# The version stamped is the SDK's: the CLI runs whichever pulumi-resource-<name> is on PATH, and the
# state then records the version the SDK asked for.
tls_random_providers_version=tls5.6.2-random4.21.4-bridge3.137.0

# The bridge upstream's main branches moved to on 2026-08-14, the last we can see before these releases
# (v3.138.0 and v3.139.0 answer 403), and the pulumi fork of terraform-plugin-sdk/v2 that the bridge's
# own go.mod replaces in (a dependency's replace lines do not apply to us, so we repeat it).
trp_bridge_version=v3.137.0
trp_sdkv2_fork=github.com/pulumi/terraform-plugin-sdk/v2
trp_sdkv2_fork_version=v2.0.0-20260318212141-5525259d096b

# Terraform providers: the newest pseudo-version the mirror serves of each, committed 2026-08-19 (tls)
# and 2026-08-24 (random), shortly before tls 5.6.0 (2026-09-01) and random 4.21.2 (2026-09-17).
# random's module still declares its old path (terraform-providers/…), so it is required under that.
trp_tls_tf_module=github.com/hashicorp/terraform-provider-tls
trp_tls_tf_version=v1.2.1-0.20260819085117-d044ca7c6f52
trp_tls_plugin_version=5.6.2
trp_random_tf_module=github.com/terraform-providers/terraform-provider-random
trp_random_tf_version=v1.3.2-0.20260824155315-e1092b0cfc07
trp_random_plugin_version=4.21.4

build_tls_random_providers() {
  local out=$1
  mkdir -p "$out/bin"
  # Two builds of the same big dependency graph: the second reuses the first's build cache.
  _trp_build tls "$out" || return 1
  _trp_build random "$out" || return 1
}

# _trp_build NAME OUT: the wrapper module for one provider, its generated files, its binary.
_trp_build() {
  local name=$1 out=$2 tf_module tf_version version here
  tf_module=$(_trp_var "$name" tf_module) tf_version=$(_trp_var "$name" tf_version)
  version=$(_trp_var "$name" plugin_version)
  here=$PWD
  # tfgen looks for the Terraform provider's docs by running `go mod download` in a folder named
  # provider (it appends /provider to any other working folder), so the wrapper module is one.
  mkdir -p "$name/provider" && cd "$name/provider" || return 1

  # The shim must live under the Terraform provider's module path: Go's internal rule lets only that
  # tree import internal/provider. It is a module of its own, wired in by a replace, as upstream does.
  mkdir -p shim
  cat >shim/go.mod <<EOF
module $tf_module/shim

go 1.25.11

require $tf_module $tf_version
EOF
  cat >shim/shim.go <<EOF
// Package shim exposes the Terraform provider's Plugin Framework constructor to the bridge.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"

	upstream "$tf_module/internal/provider"
)

func NewProvider() provider.Provider { return upstream.New() }
EOF

  cat >go.mod <<EOF
module image-registry.local/toolchain/$name-provider

go 1.25.11

require (
	$tf_module/shim v0.0.0
	github.com/pulumi/pulumi-terraform-bridge/v3 $trp_bridge_version
)

replace (
	$tf_module/shim => ./shim
	github.com/hashicorp/terraform-plugin-sdk/v2 => $trp_sdkv2_fork $trp_sdkv2_fork_version
)
EOF

  _trp_info_"$name" >info.go
  _trp_mains "$name"

  go mod tidy || return 1
  # tfgen reads the Terraform provider's docs from its module folder, found through the module cache.
  # Examples are skipped: converting their HCL needs the pulumi CLI and its terraform converter plugin,
  # and they would only end up in doc strings of the schema, which nothing here reads.
  go build -o tfgen "./cmd/pulumi-tfgen-$name" || return 1
  ./tfgen schema --skip-examples --out "cmd/pulumi-resource-$name" || return 1
  (cd "cmd/pulumi-resource-$name" && VERSION=$version go run generate.go) || return 1
  go build -o "$out/bin/pulumi-resource-$name" "./cmd/pulumi-resource-$name" || return 1
  cd "$here"
}

_trp_var() { local v="trp_$1_$2"; printf '%s' "${!v}"; }

# The programs every bridged provider has: tfgen (schema and metadata at build time), generate.go (the
# version stamped into schema-embed.json, which the plugin serves), and the plugin itself.
_trp_mains() {
  local name=$1
  mkdir -p "cmd/pulumi-tfgen-$name" "cmd/pulumi-resource-$name"
  cat >"cmd/pulumi-tfgen-$name/main.go" <<EOF
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	bridged "image-registry.local/toolchain/$name-provider"
)

// No metadata yet: this run is what writes bridge-metadata.json.
func main() { tfgen.Main("$name", bridged.Info(nil)) }
EOF
  cat >"cmd/pulumi-resource-$name/generate.go" <<'EOF'
//go:build ignore

// Stamps $VERSION into schema.json as schema-embed.json; tfgen leaves the version out on purpose.
package main

import (
	"encoding/json"
	"log"
	"os"

	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

func main() {
	version := os.Getenv("VERSION")
	if version == "" {
		log.Fatal("VERSION is not set")
	}
	raw, err := os.ReadFile("schema.json")
	if err != nil {
		log.Fatal(err)
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		log.Fatalf("schema.json: %v", err)
	}
	spec.Version = version
	stamped, err := json.Marshal(spec)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("schema-embed.json", stamped, 0o600); err != nil {
		log.Fatal(err)
	}
}
EOF
  cat >"cmd/pulumi-resource-$name/main.go" <<EOF
package main

import (
	"context"
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"

	bridged "image-registry.local/toolchain/$name-provider"
)

//go:embed schema-embed.json
var schema []byte

//go:embed bridge-metadata.json
var metadata []byte

func main() {
	meta := tfbridge.ProviderMetadata{PackageSchema: schema, BridgeMetadata: metadata}
	tfbridge.Main(context.Background(), "$name", bridged.Info(metadata), meta)
}
EOF
}

# ProviderInfo for tls: tls_private_key -> tls:index/privateKey:PrivateKey, as the pulumi-tls SDK has it.
_trp_info_tls() {
  cat <<EOF
package bridged

import (
	"github.com/hashicorp/terraform-provider-tls/shim"
	pf "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
)

func Info(metadata []byte) tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		P:            pf.ShimProvider(shim.NewProvider()),
		Name:         "tls",
		Version:      "$trp_tls_plugin_version",
		GitHubOrg:    "hashicorp", // tfgen finds the docs in github.com/hashicorp/terraform-provider-tls
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		// Upstream's settings, so state and previews look as the released plugin's do.
		EnableZeroDefaultSchemaVersion: true,
		EnableAccurateBridgePreview:    true,
	}
	info.MustComputeTokens(tokens.SingleModule("tls_", "index", tokens.MakeStandard("tls")))
	return info
}
EOF
}

# ProviderInfo for random. Its SDK keeps the Random prefix (random_password -> RandomPassword), and
# random_bytes has no id attribute, so the bridge needs one: its base64 value, unwrapped from the secret.
_trp_info_random() {
  cat <<EOF
package bridged

import (
	"context"
	"errors"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	pf "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/terraform-providers/terraform-provider-random/shim"
)

func Info(metadata []byte) tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		P:            pf.ShimProvider(shim.NewProvider()),
		Name:         "random",
		Version:      "$trp_random_plugin_version",
		// No GitHubOrg: the default, terraform-providers, is the path the module still declares.
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		Resources: map[string]*tfbridge.ResourceInfo{
			"random_bytes": {ComputeID: bytesID},
		},
		EnableAccurateBridgePreview: true,
		EnableRawStateDelta:         true,
	}
	prefixed := func(module, name string) (string, error) {
		return tokens.MakeStandard("random")(module, "Random"+name)
	}
	info.MustComputeTokens(tokens.SingleModule("random_", "index", prefixed))
	return info
}

func bytesID(_ context.Context, state resource.PropertyMap) (resource.ID, error) {
	v, ok := state["base64"]
	if ok && v.IsSecret() {
		v = v.SecretValue().Element
	}
	if !ok || !v.IsString() {
		return "", errors.New("random_bytes: no base64 string in the state")
	}
	return resource.ID(v.StringValue()), nil
}
EOF
}
