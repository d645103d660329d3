"""The kubelet's side of the CRI image service, enough to pull as a kubelet does: our own few protobuf messages.

The calls are gRPC over containerd's socket (grpcio, which pulumi brings);
the messages are encoded and decoded here by field number, from the CRI API
(`runtime.v1.ImageService`): PullImage with the pod's pull credentials, and
ImageStatus for the digests of what was pulled.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import grpc

SERVICE = "/runtime.v1.ImageService"
VARINT, LENGTH_DELIMITED = 0, 2


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, value: str | bytes) -> bytes:
    """One length-delimited field (a string or an embedded message)."""
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | LENGTH_DELIMITED) + _varint(len(data)) + data


def _read_varint(data: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[offset]
        value |= (byte & 0x7F) << shift
        offset, shift = offset + 1, shift + 7
        if not byte & 0x80:
            return value, offset


def fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of a message: integers for varints, bytes for length-delimited fields."""
    offset = 0
    while offset < len(data):
        key, offset = _read_varint(data, offset)
        number, wire_type = key >> 3, key & 7
        if wire_type == VARINT:
            value, offset = _read_varint(data, offset)
            yield number, value
        elif wire_type == LENGTH_DELIMITED:
            size, offset = _read_varint(data, offset)
            yield number, data[offset : offset + size]
            offset += size
        else:
            raise ValueError(f"wire type {wire_type} is not used by the messages read here")


def _strings(data: bytes, number: int) -> list[str]:
    return [value.decode() for key, value in fields(data) if key == number and isinstance(value, bytes)]


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


def _image_spec(image: str) -> bytes:
    return field(1, image)  # ImageSpec.image


def _auth_config(credentials: Credentials) -> bytes:
    # AuthConfig: username = 1, password = 2 (no server_address: containerd then uses them for the image's host).
    return field(1, credentials.username) + field(2, credentials.password)


class ImageService:
    """containerd's CRI image service at `socket` (a path on this machine)."""

    def __init__(self, socket: str) -> None:
        self.channel = grpc.insecure_channel(f"unix://{socket}")

    def _call(self, method: str, request: bytes, timeout: float = 120) -> bytes:
        # No serializers: the messages go and come as the bytes encoded and decoded here.
        call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = self.channel.unary_unary(f"{SERVICE}/{method}")
        return call(request, timeout=timeout, wait_for_ready=True)

    def pull_image(self, image: str, credentials: Credentials | None) -> str:
        """PullImage, as the kubelet calls it for a pod with (or without) a pull secret: the image's ref."""
        # PullImageRequest: image = 1, auth = 2.
        auth = field(2, _auth_config(credentials)) if credentials else b""
        response = self._call("PullImage", field(1, _image_spec(image)) + auth)
        (image_ref,) = _strings(response, 1)  # PullImageResponse.image_ref
        return image_ref

    def repo_digests(self, image: str) -> list[str]:
        """The `<repository>@<digest>` names of a pulled image (ImageStatus), [] when it is not there."""
        response = self._call("ImageStatus", field(1, _image_spec(image)))
        images = [value for key, value in fields(response) if key == 1 and isinstance(value, bytes)]
        return _strings(images[0], 3) if images else []  # ImageStatusResponse.image, Image.repo_digests

    def remove_image(self, image: str) -> None:
        self._call("RemoveImage", field(1, _image_spec(image)))

    def close(self) -> None:
        self.channel.close()


def error_message(error: grpc.RpcError) -> str:
    """What the kubelet would show in the pod's events for a failed call."""
    details = error.details() if isinstance(error, grpc.Call) else None
    return details or str(error)
