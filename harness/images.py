"""Real OCI images for the end-to-end tests, built in an OCI layout directory (no daemon needed)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import platform
import subprocess
import tarfile
from pathlib import Path
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha256_digest(blob: bytes) -> str:
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def _entry(name: str, **values: Any) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
    for key, value in values.items():
        setattr(info, key, value)
    return info


def write_oci_image(destination: Path, layers: list[tuple[bytes, bytes, str]], tag: str = "latest") -> str:
    """An OCI layout holding one image; `layers` are (uncompressed tar, blob, media type). Returns its digest."""
    architecture = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    config = json.dumps(
        {
            "architecture": architecture,
            "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(tar) for tar, _, _ in layers]},
        },
        separators=(",", ":"),
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha256_digest(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": media_type, "digest": sha256_digest(blob), "size": len(blob)}
                for _, blob, media_type in layers
            ],
        },
        separators=(",", ":"),
    ).encode()
    blobs = destination / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    for blob in (*(blob for _, blob, _ in layers), config, manifest):
        (blobs / hashlib.sha256(blob).hexdigest()).write_bytes(blob)
    (destination / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    entry = {
        "mediaType": OCI_MANIFEST,
        "digest": sha256_digest(manifest),
        "size": len(manifest),
        "annotations": {"org.opencontainers.image.ref.name": tag},
    }
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [entry]}
    (destination / "index.json").write_text(json.dumps(index))
    return sha256_digest(manifest)


def build_busybox_image(destination: Path, tag: str = "latest") -> str:
    """A real single-layer image of Debian's busybox-static, as the manual install pushes; returns its digest."""
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True, check=True).stdout.split()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for directory in ("bin", "etc", "tmp"):
            archive.addfile(_entry(directory, type=tarfile.DIRTYPE, mode=0o1777 if directory == "tmp" else 0o755))
        binary = Path("/bin/busybox").read_bytes()
        archive.addfile(_entry("bin/busybox", size=len(binary), mode=0o755), io.BytesIO(binary))
        for applet in sorted(set(applets) - {"busybox"}):
            archive.addfile(_entry(f"bin/{applet}", type=tarfile.SYMTYPE, linkname="busybox", mode=0o777))
    layer_tar = raw.getvalue()
    return write_oci_image(destination, [(layer_tar, _gzip(layer_tar), GZIP_LAYER)], tag)


def build_random_image(destination: Path, total_mib: int, layer_count: int, tag: str = "latest") -> str:
    """An image of incompressible layers, `total_mib` MiB in all; returns its digest.

    Gzipped (at the fastest level): a registry client would compress a plain tar
    layer on push, and the pushed image would not be this one.
    """
    layers = []
    size = total_mib * 1024 * 1024 // layer_count
    for index in range(layer_count):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
            archive.addfile(_entry(f"data-{index}.bin", size=size, mode=0o644), io.BytesIO(os.urandom(size)))
        layers.append((raw.getvalue(), _gzip(raw.getvalue(), level=1), GZIP_LAYER))
    return write_oci_image(destination, layers, tag)


def _gzip(data: bytes, level: int = 9) -> bytes:
    compressed = io.BytesIO()
    with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0, compresslevel=level) as stream:
        stream.write(data)
    return compressed.getvalue()
