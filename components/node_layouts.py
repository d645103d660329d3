"""Where each kind of node's container runtime reads registry CAs, and the node-trust DaemonSet's script.

The script runs on every node and finds, at every pass, which layout the node
has: k3s or RKE2 (their containerd's config in their agent directory), else a
containerd of its own (`/etc/containerd`), whose registry `config_path` (one
directory, or a list such as AL2023's `/etc/containerd/certs.d:/etc/docker/certs.d`)
names where it reads `<host>/hosts.toml`; Docker reads `/etc/docker/certs.d`.
`nodeTrust.platform` pins one layout instead. Read-only mounts show it the
runtimes' configuration; it writes only the certificate directories.

With `mirrors`, it also writes, in each containerd certificate directory it
writes, `<upstream>/hosts.toml`: the stack's pull-through cache first (its API
root under `/v2/mirror/<upstream>`, `override_path`, an `Authorization` header
of the mirror user: root-only, 0600), the upstream last (`server`), and the CA
beside it. On k3s and RKE2 only where k3s has not put a hosts.toml of its own
there (a registries.yaml listing that upstream: k3s removes the directory at
every start and writes its own, `cleanContainerdHosts`).
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from components.settings import Settings
from components.settings.mirrors import Mirror

# Where k3s and RKE2 read their configuration, registries.yaml included (turned into hosts.toml files).
RANCHER_DIRS = {"k3s": "/etc/rancher/k3s", "rke2": "/etc/rancher/rke2"}
REGISTRIES_YAML = {platform: f"{directory}/registries.yaml" for platform, directory in RANCHER_DIRS.items()}
DOCKER_CERTS = "/etc/docker/certs.d"
# A node directory appears in the container at the same path under HOST.
HOST = "/host"
CONFIG_DIR = "/config"
# The mirrors' hosts.toml files, from a Secret (they carry the mirror user's credentials), `<upstream>.toml`.
MIRRORS_DIR = "/mirrors"
# The first line of each of them: how the script tells its own file from k3s's (or anyone's) on a node.
MIRROR_MARK = "# Written by the image-registry node-trust DaemonSet: the pull-through cache first, the upstream last"
STATUS_DIR = "/status"
INTERVAL_SECONDS = 10


@dataclass(frozen=True)
class HostDirectory:
    volume: str
    path: str
    writable: bool


@dataclass(frozen=True)
class Layout:
    """One kind of node: its containerd's configuration directory and what the DaemonSet may write there."""

    containerd_config: str
    certs_dir: str
    # k3s and RKE2 own the hosts.toml files of the hosts their registries.yaml lists: no hosts.toml of ours.
    rancher: bool


def _rancher(platform: str) -> Layout:
    """k3s's or RKE2's embedded containerd: its generated config.toml names its own certs.d."""
    config = f"/var/lib/rancher/{platform}/agent/etc/containerd"
    return Layout(config, f"{config}/certs.d", rancher=True)


LAYOUTS = {"containerd": Layout("/etc/containerd", "/etc/containerd/certs.d", rancher=False)}
LAYOUTS.update((platform, _rancher(platform)) for platform in RANCHER_DIRS)


def layouts(settings: Settings) -> dict[str, Layout]:
    """The layouts the DaemonSet looks for: every one, or the one `nodeTrust.platform` pins."""
    platform = settings.node_trust.platform
    return dict(LAYOUTS) if platform is None else {platform: LAYOUTS[platform]}


def host_directories(settings: Settings) -> list[HostDirectory]:
    """The node directories the DaemonSet mounts: the runtimes' configuration read-only, their CA directories
    writable; a parent before what is mounted inside it, as containerd orders a container's mounts."""
    directories: list[HostDirectory] = []
    for platform, layout in layouts(settings).items():
        directories += [
            HostDirectory(f"{platform}-config", layout.containerd_config, writable=False),
            HostDirectory(f"{platform}-certs", layout.certs_dir, writable=True),
        ]
        if layout.rancher:
            directories.append(HostDirectory(f"{platform}-ca", rancher_ca_dir(settings, platform), writable=True))
        else:
            directories.append(HostDirectory("docker-certs", DOCKER_CERTS, writable=True))
    return directories


def rancher_ca_dir(settings: Settings, platform: str) -> str:
    """On k3s and RKE2, the node directory of the CA that registries.yaml names: the stack's own, beside
    registries.yaml, where k3s cleans nothing (it empties `<certs.d>/<host>` at every start)."""
    return f"{RANCHER_DIRS[platform]}/{settings.name}"


def hosts_toml(host: str) -> str:
    """containerd's registry host configuration: `host` over HTTPS, trusting our CA, for every operation.

    containerd tries the `[host]` entries first and the top-level `server` last, with every capability:
    a push goes only there, and a missing tag (404) falls through to it. So the CA is on both; without
    it at the top, a push and a missing tag end in an x509 error. The `[host]` table stays because
    containerd 1.6 and 1.7 (before 1.7.32) ignore a hosts.toml that has none. `ca.crt` is relative:
    containerd reads it from the hosts.toml's own directory, whichever `config_path` that is.
    """
    ca = 'ca = "ca.crt"'
    lines = [f'server = "https://{host}"', ca, "", f'[host."https://{host}"]', '  capabilities = ["pull", "resolve"]']
    return "\n".join([*lines, f"  {ca}"]) + "\n"


def mirror_endpoint(registry_host: str, mirror: Mirror) -> str:
    """The API root that serves `mirror` through the front: what containerd's `override_path` takes."""
    return f"https://{registry_host}/v2/{mirror.path}"


def mirror_endpoints(settings: Settings) -> dict[str, str]:
    """Upstream -> its cache's API root, through the first hostname (the one nodes pull through)."""
    return {mirror.upstream: mirror_endpoint(settings.hostnames[0], mirror) for mirror in settings.mirrors}


def mirror_hosts_toml(mirror: Mirror, registry_host: str, authorization: str) -> str:
    """containerd's hosts.toml for an upstream: our cache first, for pulls only, as the mirror user; the
    upstream last, as the top-level `server` (every capability, the system's trust: no CA of ours, no header),
    so that pulls still work while the registry is down.

    `override_path`: the host's path is the API root (containerd adds no `/v2`). The `Authorization` header
    is sent on every request to that host alone, so the node needs no pull credentials (the kubelet's CRI
    call carries none for public images): a secret, this text is in a Secret and root-only on the node.
    """
    endpoint = mirror_endpoint(registry_host, mirror)
    return (
        "\n".join(
            [
                MIRROR_MARK,
                f'server = "{mirror.url}"',
                "",
                f'[host."{endpoint}"]',
                '  capabilities = ["pull", "resolve"]',
                "  override_path = true",
                '  ca = "ca.crt"',
                f'  [host."{endpoint}".header]',
                f'    Authorization = "{authorization}"',
            ]
        )
        + "\n"
    )


def k3s_registries_yaml(settings: Settings) -> str:
    """k3s's (or RKE2's, with `platform: rke2`) `registries.yaml`: every hostname with the CA file the
    DaemonSet writes, no credentials.

    `configs`: k3s writes each listed host a hosts.toml of its own, with that CA on the top-level
    server (every capability); it honours `tls` of a host that is no mirror only from v1.29.4, v1.28.9 and
    v1.27.13 (k3s#9839; see docs/operations.md for older releases). `mirrors`: each upstream's cache
    endpoint, a path, which k3s turns into `override_path = true`, with the `configs` of its host (the CA);
    no credentials: docs/operations.md says how those nodes authenticate. Empty when no DaemonSet writes
    the CA on k3s or RKE2 nodes (`nodeTrust` off, or pinned to `containerd`): there is no file to point at.
    """
    platform = settings.node_trust.platform or "k3s"
    if not settings.node_trust.enabled or platform not in RANCHER_DIRS:
        return ""
    ca_file = f"{rancher_ca_dir(settings, platform)}/ca.crt"
    configs = {host: {"tls": {"ca_file": ca_file}} for host in settings.hostnames}
    mirrors = {upstream: {"endpoint": [endpoint]} for upstream, endpoint in mirror_endpoints(settings).items()}
    document = yaml.safe_dump({**({"mirrors": mirrors} if mirrors else {}), "configs": configs}, sort_keys=False)
    return f"# {REGISTRIES_YAML[platform]} on every node\n" + document


# busybox sh, in the registry image. Each pass: find the node's layout, copy what differs (creating its
# directory), say what changed, and leave in $STATUS_DIR/trusted the file the node's runtime reads the CA
# from (the readiness probe compares it with the current CA), or nothing when no runtime here can trust it.
SCRIPT = r"""set -eu
# What it writes is root's alone: a mirror's hosts.toml holds a credential.
umask 077
place() {
  if ! cmp -s "$1" "$2"; then
    mkdir -p "${2%/*}" && cp "$1" "$2.new" && chmod 600 "$2.new" && mv -f "$2.new" "$2" && echo "wrote ${2#$HOST}"
  fi
}
# A mirror's hosts.toml and the CA it names, in $1 (a certificate directory) for the upstream $2; on k3s and
# RKE2 not over a hosts.toml that is not ours (k3s's: registries.yaml lists that upstream; k3s owns it).
mirror() {
  ours="$MIRRORS_DIR/$2.toml" target="$1/$2/hosts.toml"
  if [ -n "$ca_dir" ] && [ -f "$target" ] && [ "$(head -n 1 "$target")" != "$(head -n 1 "$ours")" ]; then
    notes="$notes; ${target#$HOST} is k3s's (its registries.yaml lists $2): left as it is"
    return
  fi
  place "$CONFIG_DIR/ca.crt" "$1/$2/ca.crt"
  place "$ours" "$target"
  chmod 600 "$target"
}
# A mirror no longer configured: the hosts.toml of ours goes (its node pulls from the upstream again).
unmirror() {
  for stale in "$1"/*/hosts.toml; do
    upstream="${stale%/hosts.toml}" && upstream="${upstream##*/}"
    case " $MIRRORS " in *" $upstream "*) continue ;; esac
    if [ "$(head -n 1 "$stale" 2>/dev/null)" = "$MIRROR_MARK" ]; then
      rm -f "$stale" && echo "removed ${stale#$HOST}"
    fi
  done
}
# The registry config_path of the containerd whose configuration is in $1: its files, then drop-ins.
config_path() {
  for file in "$1/config.toml" "$1/config-v3.toml" "$1"/conf.d/*.toml "$1"/config.d/*.toml; do
    if [ -f "$file" ]; then
      sed -n "s/^[[:space:]]*config_path[[:space:]]*=[[:space:]]*[\"']\([^\"']*\)[\"'].*/\1/p" "$file"
    fi
  done | head -n 1
}
layout() {
  if [ -n "$PLATFORM" ]; then echo "$PLATFORM"; return; fi
  for rancher in $RANCHER_PLATFORMS; do
    config="$HOST/var/lib/rancher/$rancher/agent/etc/containerd"
    if [ -f "$config/config.toml" ] || [ -f "$config/config-v3.toml" ]; then echo "$rancher"; return; fi
  done
  echo containerd
}
# containerd 2.1 and later pull through their transfer service, which takes a config_path list for one
# directory (containerd#12808), unless the configuration asks for local pulls (EKS's discards unpacked layers).
list_ignored() {
  grep -qsE "^[[:space:]]*version[[:space:]]*=[[:space:]]*3" "$1/config.toml" "$1/config-v3.toml" &&
    ! cat "$1/config.toml" "$1"/conf.d/*.toml "$1"/config.d/*.toml 2>/dev/null |
      grep -qE "^[[:space:]]*(use_local_image_pull|discard_unpacked_layers)[[:space:]]*=[[:space:]]*true"
}
# Docker is the runtime where containerd's CRI is off (Docker's own containerd) or containerd has no config.
docker_node() {
  [ ! -f "$HOST/etc/containerd/config.toml" ] ||
    grep -qE "^[[:space:]]*disabled_plugins[[:space:]]*=.*[\"'](cri|io[.]containerd[.]grpc[.]v1[.]cri)[\"']" \
      "$HOST/etc/containerd/config.toml"
}
said=""
while :; do
  node=$(layout)
  trusted="" notes=""
  case "$node" in
    k3s|rke2) config="$HOST/var/lib/rancher/$node/agent/etc/containerd" ca_dir="$HOST/etc/rancher/$node/$STACK_NAME" ;;
    *) config="$HOST/etc/containerd" ca_dir="" ;;
  esac
  paths=$(config_path "$config")
  for dir in $(echo "$paths" | tr ':' ' '); do
    case " $WRITABLE_DIRS " in
      *" $dir "*) ;;
      *) notes="$notes; config_path $dir is no directory this DaemonSet writes (set nodeTrust.platform)"; continue ;;
    esac
    for host in $TRUST_HOSTS; do
      place "$CONFIG_DIR/ca.crt" "$HOST$dir/$host/ca.crt"
      if [ -z "$ca_dir" ]; then place "$CONFIG_DIR/$host.toml" "$HOST$dir/$host/hosts.toml"; fi
    done
    for upstream in $MIRRORS; do mirror "$HOST$dir" "$upstream"; done
    unmirror "$HOST$dir"
    trusted="${trusted:-$HOST$dir/${TRUST_HOSTS%% *}/ca.crt}"
  done
  if [ -n "$ca_dir" ]; then
    place "$CONFIG_DIR/ca.crt" "$ca_dir/ca.crt"
    trusted="$ca_dir/ca.crt"
  elif [ -d "$HOST$DOCKER_CERTS" ]; then
    for host in $TRUST_HOSTS; do
      place "$CONFIG_DIR/ca.crt" "$HOST$DOCKER_CERTS/$host/ca.crt"
    done
    if [ -z "$trusted" ] && docker_node; then trusted="$HOST$DOCKER_CERTS/${TRUST_HOSTS%% *}/ca.crt"; fi
  fi
  if [ -z "$paths" ] && [ -z "$trusted" ]; then
    notes="$notes: NOT TRUSTED: containerd here reads no registry host directory (no config_path in ${config#$HOST})"
  elif [ -z "$ca_dir" ] && [ "$paths" != "${paths#*:}" ] && list_ignored "$config"; then
    trusted=""
    notes="$notes: NOT TRUSTED: containerd 2.1 and later read no config_path list on the kubelet's pulls"
    notes="$notes (containerd#12808): set one directory, or use_local_image_pull = true"
  fi
  echo "$trusted" > "$STATUS_DIR/trusted.new" && mv -f "$STATUS_DIR/trusted.new" "$STATUS_DIR/trusted"
  if [ -n "$trusted" ]; then notes=", the runtime reads ${trusted#$HOST}$notes"; fi
  if [ -z "$ca_dir" ] && [ -z "$paths" ] && [ -n "$trusted" ]; then node=docker; fi
  summary="node layout $node$notes"
  if [ "$summary" != "$said" ]; then echo "$summary"; said="$summary"; fi
  sleep "$INTERVAL"
done
"""
