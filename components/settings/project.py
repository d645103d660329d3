"""What the project fixes: its name, its ports, the images it pins and the names it derives from a stack's."""

PROJECT = "image-registry"
REGISTRY_PORT = 5000
METRICS_PORT = 5001
# The pull-through caches (`mirrors`) listen on the pod's loopback, the i-th on MIRROR_PORTS_FROM + i.
MIRROR_PORTS_FROM = 5100
# registry 3.1.1, pinned by the digest of its multi-platform image index.
DEFAULT_IMAGE = "registry:3.1.1@sha256:1be55279f18a2fe1a74edf2664cac61c1bea305b7b4642dab412e7affdcb3e33"
# Caddy 2.10.2 (Alpine), the registry's TLS and authentication front, pinned the same way.
DEFAULT_FRONT_IMAGE = "caddy:2.10.2-alpine@sha256:4c6e91c6ed0e2fa03efd5b44747b625fec79bc9cd06ac5235a779726618e530d"
# Namespaces Kubernetes itself owns: never created or labelled by a stack.
RESERVED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
OWN_NAMESPACE = (
    f"a namespace of the stack's own, not one of {', '.join(RESERVED_NAMESPACES)} "
    "(or set createNamespace: false to use an existing namespace as it is)"
)
MORE_REPLICAS = "for more replicas use storage.accessMode ReadWriteMany or storage.type s3"


def service_dns_names(name: str, namespace: str) -> tuple[str, ...]:
    """Every name under which the Service resolves inside the cluster."""
    return (name, f"{name}.{namespace}", f"{name}.{namespace}.svc", f"{name}.{namespace}.svc.cluster.local")


def generated_pull_user_name(name: str) -> str:
    return f"{name}-pull"


def generated_mirror_user_name(name: str) -> str:
    """The account nodes pull through the mirrors with: pull, on `mirror/*` only."""
    return f"{name}-mirror"
