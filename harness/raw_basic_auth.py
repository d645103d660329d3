"""Run inside a sandbox: COUNT requests to https://HOST:PORT/PATH, each with Basic credentials of USER and a new
random password of SIZE bytes, one TLS connection each, the whole header sent as one; prints each status.

A client of its own (not curl): it sends headers of any size as they are and reads the answer even when the
server refuses before it has read them all (`000` when none comes).
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import socket
import ssl
import sys


def status(context: ssl.SSLContext, host: str, port: int, path: str, header: bytes) -> str:
    raw = socket.create_connection((host, port), timeout=30)
    # The request in one segment, the answer read at once: no delayed ACK between them.
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with context.wrap_socket(raw, server_hostname=host) as tls:
        request = b"GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\nConnection: close\r\n\r\n" % (
            path.encode(),
            host.encode(),
            header,
        )
        # Refused before the end of it: the answer may still be there.
        with contextlib.suppress(OSError):
            tls.sendall(request)
        try:
            line = tls.recv(64).split(b"\r\n")[0].decode()
        except OSError:
            return "000"
    return line.split(" ")[1] if line.startswith("HTTP/") else "000"


def main(argv: list[str]) -> None:
    host, port, ca_file, path, user, size, count = argv
    context = ssl.create_default_context(cafile=ca_file)
    for _ in range(int(count)):
        password = secrets.token_urlsafe(int(size))[: int(size)]
        credentials = base64.b64encode(f"{user}:{password}".encode())
        print(status(context, host, int(port), path, b"Authorization: Basic " + credentials), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
