# shellcheck shell=bash
# Piece `pulumi`: the Pulumi CLI and what it needs to run this project's Python program: a Python
# language host, the pulumi-language-python-exec script that host runs the program through, and the
# pulumi-resource-pulumi-python script that serves dynamic providers (components/password_hash.py).
# Sourced by build.sh, which runs build_pulumi in an empty folder.
#
# The CLI is a newer release than the Python SDK in requirements.txt (pulumi==3.272.0), which is the
# supported direction; v3.277.0 is the newest release the module proxy serves here (v3.270.0 is not).
#
# Language host: Pulumi's own pulumi-language-python lives in a module of its own
# (github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3) that has no tags, only
# pseudo-versions, and the proxy here serves none of them (every release commit tried, v3.200 to
# v3.259, answers 403; the hashes of later release commits are not to be had here). So the host
# below is our own: a small server of the engine's LanguageRuntime API, built at the CLI's version
# on the SDK's own pieces (the Python toolchain package that resolves virtualenvs and pip, poetry or
# uv; the policy-pack proxy). It serves Run, RunPlugin (policy packs such as policy/, plugins with a
# __main__.py), GetPluginInfo and Handshake; the rest answers Unimplemented, which the engine
# tolerates: no required-plugin list (providers are found on PATH when first used), no
# `pulumi install` or `pulumi new`, no typechecker option, a short `pulumi about`.
# No pulumi-analyzer-policy-python: releases since policy packs run through RunPlugin ship none.
pulumi_version=v3.277.0

build_pulumi() {
  local out=$1
  local sdk=github.com/pulumi/pulumi/sdk/v3 pkg=github.com/pulumi/pulumi/pkg/v3
  mkdir -p "$out/bin" pulumi-language-python

  # pkg/v3's go.mod replaces sdk/v3 with a path inside its repository (ignored once it is a dependency)
  # and pins a fork of a clipboard library (ignored too, but the release is built with it): repeat
  # its replaces that point at modules, not at local paths.
  local pkg_mod
  pkg_mod=$(go mod download -json "$pkg@$pulumi_version" | grep '"GoMod"' | cut -d'"' -f4)
  {
    printf 'module image-registry.invalid/toolchain/pulumi\n\ngo 1.26\n\n'
    printf 'require (\n\t%s %s\n\t%s %s\n)\n\n' "$pkg" "$pulumi_version" "$sdk" "$pulumi_version"
    awk '/^replace \($/ { block = 1; next }
         block && /^\)$/ { block = 0; next }
         block { sub(/^[ \t]+/, ""); print "replace " $0; next }
         /^replace / { print }' "$pkg_mod" | awk '$NF !~ /^[.\/]/ && $(NF-1) !~ /^[.\/]/'
  } > go.mod

  # Keeps the CLI's package in the module graph for `go mod tidy`.
  cat > tools.go <<'GO'
//go:build tools

package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
GO

  cat > pulumi-language-python/main.go <<'GO'
// A small Python language host for the Pulumi engine, built for this project's test toolchain
// because no build of Pulumi's own pulumi-language-python can be fetched here (see pulumi.sh).
//
// It serves what this project's deployments use: Run (the program runs through
// pulumi-language-python-exec in the project's virtualenv, with the stack's configuration in
// PULUMI_CONFIG), RunPlugin (policy packs, and plugins that are a directory with a __main__.py),
// GetPluginInfo and Handshake. The rest answers Unimplemented, which the engine treats as an
// older host.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// A program exits with this code when it has already reported its error to the engine.
const bailExitCode = 32

func main() {
	// The engine passes its logging and tracing flags to every plugin, then its own address. glog,
	// linked in by dependencies, may have defined some of these flags already.
	if flag.Lookup("logtostderr") == nil {
		flag.Bool("logtostderr", false, "log to stderr")
	}
	if flag.Lookup("v") == nil {
		flag.Int("v", 0, "log verbosity")
	}
	if flag.Lookup("tracing") == nil {
		flag.String("tracing", "", "Zipkin-compatible tracing endpoint")
	}
	flag.Parse()
	logging.InitLogging(false, 0, false) // reads -logtostderr and -v from the parsed flags

	host := &pythonHost{engineAddress: flag.Arg(0), tracing: flag.Lookup("tracing").Value.String()}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
		os.Exit(1)
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
		os.Exit(1)
	}
}

type pythonHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	tracing       string
}

func (h *pythonHost) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *pythonHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// The Python environment that Pulumi.yaml (or PulumiPolicy.yaml, PulumiPlugin.yaml) asks for, checked
// up front so that a missing virtualenv is named rather than failing later on `import pulumi`.
func pythonFor(ctx context.Context, info *pulumirpc.ProgramInfo, isPlugin bool) (toolchain.Toolchain, error) {
	opts := toolchain.PythonOptions{
		Root:       info.GetRootDirectory(),
		ProgramDir: info.GetProgramDirectory(),
		Toolchain:  toolchain.Pip,
	}
	options := info.GetOptions().AsMap()
	if venv, ok := options["virtualenv"].(string); ok {
		opts.Virtualenv = venv // relative to the root
	}
	switch options["toolchain"] {
	case "poetry":
		opts.Toolchain = toolchain.Poetry
	case "uv":
		opts.Toolchain = toolchain.Uv
	}
	// Plugins never run in the ambient Python: pip's default virtualenv for them is `venv`.
	if isPlugin && opts.Toolchain == toolchain.Pip && opts.Virtualenv == "" {
		opts.Virtualenv = "venv"
	}
	tc, err := toolchain.ResolveToolchain(opts)
	if err != nil {
		return nil, err
	}
	if opts.Virtualenv != "" || opts.Toolchain != toolchain.Pip {
		if err := tc.ValidateVenv(ctx); err != nil {
			return nil, err
		}
	}
	return tc, nil
}

func withEnv(cmd *exec.Cmd, env ...string) {
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, env...)
}

func (h *pythonHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	tc, err := pythonFor(ctx, info, false)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	execScript, err := findExecScript()
	if err != nil {
		return nil, err
	}
	program := req.GetProgram()
	if entry := info.GetEntryPoint(); entry != "" {
		program = entry
	}
	args := []string{"-u", execScript,
		"--project", req.GetProject(),
		"--stack", req.GetStack(),
		"--pwd", req.GetPwd(),
		"--dry_run", strconv.FormatBool(req.GetDryRun()),
		"--parallel", strconv.Itoa(int(req.GetParallel())),
		"--monitor", req.GetMonitorAddress(),
		"--engine", h.engineAddress,
	}
	if org := req.GetOrganization(); org != "" {
		args = append(args, "--organization", org)
	}
	if root := info.GetRootDirectory(); root != "" {
		args = append(args, "--root_directory", root)
	}
	if h.tracing != "" {
		args = append(args, "--tracing", h.tracing)
	}
	args = append(append(args, program), req.GetArgs()...)

	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return nil, err
	}
	// The exec script reads the stack's configuration (and which keys are secret) from these: an
	// object and a list, never null, even for a stack without configuration.
	config, err := json.Marshal(orEmpty(req.GetConfig()))
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(append([]string{}, req.GetConfigSecretKeys()...))
	if err != nil {
		return nil, err
	}
	withEnv(cmd, "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys))
	cmd.Dir = req.GetPwd()
	// The engine shows what a plugin prints.
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr

	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run the Python program: %v", err)}, nil
		}
		if exitErr.ExitCode() == bailExitCode {
			return &pulumirpc.RunResponse{Bail: true}, nil
		}
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
		}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

func (h *pythonHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer,
) error {
	ctx := server.Context()
	analyzer := req.GetKind() == string(apitype.AnalyzerPlugin)
	dir := req.GetInfo().GetProgramDirectory()
	tc, err := pythonFor(ctx, req.GetInfo(), true)
	if err != nil {
		return err
	}

	var args []string
	if analyzer {
		// The Python SDK's policy-pack runner takes the engine's arguments, then the pack's directory.
		args = append(append([]string{"-u", "-m", "pulumi.policy"}, req.GetArgs()...), dir)
	} else {
		if _, err := os.Stat(filepath.Join(dir, "__main__.py")); err != nil {
			return fmt.Errorf("this toolchain's Python host runs plugins that have a __main__.py: %w", err)
		}
		args = append([]string{"-u", dir}, req.GetArgs()...)
	}
	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return err
	}
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	var proxy *sdk.PolicyProxy
	if analyzer {
		// Policy packs run from their own directory, and learn the stack (project, stack, config) from
		// environment variables: the SDK's proxy answers the engine's ConfigureStack first, then hands
		// the connection over to the pack once it has started.
		cmd.Dir = dir
		if proxy, stdout, err = sdk.NewPolicyProxy(ctx, stdout); err != nil {
			return fmt.Errorf("could not start the policy pack proxy: %w", err)
		}
		stack, err := proxy.AwaitConfiguration(ctx)
		if err != nil {
			return fmt.Errorf("could not get the stack configuration: %w", err)
		}
		if stack != nil {
			config, err := json.Marshal(orEmpty(stack.GetConfig()))
			if err != nil {
				return err
			}
			withEnv(cmd, "PULUMI_PROJECT="+stack.GetProject(), "PULUMI_STACK="+stack.GetStack(),
				"PULUMI_DRY_RUN="+strconv.FormatBool(stack.GetDryRun()), "PULUMI_CONFIG="+string(config))
			if org := stack.GetOrganization(); org != "" {
				withEnv(cmd, "PULUMI_ORGANIZATION="+org)
			}
		}
	} else {
		cmd.Dir = req.GetPwd()
	}
	withEnv(cmd, req.GetEnv()...)
	cmd.Stdout, cmd.Stderr = stdout, stderr

	if err := cmd.Start(); err != nil {
		if proxy != nil {
			proxy.Abort(err)
		}
		return fmt.Errorf("could not run the Python plugin: %w", err)
	}
	if proxy != nil {
		err = proxy.Attach(ctx, cmd) // returns once the pack exits
	} else {
		err = cmd.Wait()
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return server.Send(&pulumirpc.RunPluginResponse{
			Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(exitErr.ExitCode())},
		})
	}
	if err != nil {
		return err
	}
	return closer.Close()
}

func orEmpty(config map[string]string) map[string]string {
	if config == nil {
		return map[string]string{}
	}
	return config
}

// The exec script ships beside this binary (through any symlink to it); PATH is the fallback.
func findExecScript() (string, error) {
	const name = "pulumi-language-python-exec"
	if self, err := os.Executable(); err == nil {
		if resolved, err := filepath.EvalSymlinks(self); err == nil {
			candidate := filepath.Join(filepath.Dir(resolved), name)
			if _, err := os.Stat(candidate); err == nil {
				return candidate, nil
			}
		}
	}
	return exec.LookPath(name)
}
GO

  go mod tidy
  # As Pulumi's release builds: stripped, pure-Go os/user, grpc without x/net/trace, and the version
  # that `pulumi version` and the host's GetPluginInfo report.
  go build -o "$out/bin/" -tags osusergo,grpcnotrace \
    -ldflags "-s -w -X $sdk/go/common/version.Version=$pulumi_version" \
    "$pkg/cmd/pulumi" ./pulumi-language-python

  # The scripts ship in the sdk/v3 module (its go.mod is at sdk/, they sit under sdk/python/).
  local sdk_dir
  sdk_dir=$(go list -m -f '{{.Dir}}' "$sdk")
  install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" \
    "$sdk_dir/python/dist/pulumi-resource-pulumi-python" "$out/bin/"
  "$out/bin/pulumi" version >&2
}
