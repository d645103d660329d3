"""HtpasswdSecret: users, their passwords and the bcrypt htpasswd file."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import bcrypt
import pulumi
import pulumi_random as random

from components.settings import User

_STANDARD_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BCRYPT_BASE64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
SALT_BYTES = 16


def htpasswd_line(user: str, password: str, salt: bytes, cost: int) -> str:
    """`user:$2b$…` for the given 16-byte salt: same inputs, same line."""
    if len(salt) != SALT_BYTES:
        raise ValueError(f"a bcrypt salt is {SALT_BYTES} bytes, not {len(salt)}")
    encoded = base64.b64encode(salt).decode().rstrip("=").translate(str.maketrans(_STANDARD_BASE64, _BCRYPT_BASE64))
    hashed = bcrypt.hashpw(password.encode(), f"$2b${cost:02d}${encoded}".encode())
    return f"{user}:{hashed.decode()}"


def _entry(user: str, cost: int) -> Callable[[list[Any]], str]:
    """The htpasswd line of `user` from [password, base64 salt]."""
    return lambda values: htpasswd_line(user, values[0], base64.b64decode(values[1]), cost)


@dataclass(frozen=True)
class HtpasswdSecretArgs:
    users: tuple[User, ...]
    bcrypt_cost: int


class HtpasswdSecret(pulumi.ComponentResource):
    """One htpasswd entry per user; the file content is what the registry's Secret holds.

    Each user's salt lives in Pulumi state (random.RandomBytes), so an unchanged
    password yields an unchanged hash and previews of an unchanged stack stay empty.
    """

    passwords: dict[str, pulumi.Output[str]]
    htpasswd: pulumi.Output[str]

    def __init__(self, name: str, args: HtpasswdSecretArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-registry:index:HtpasswdSecret", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.passwords = {}
        lines: list[pulumi.Output[str]] = []
        for user in args.users:
            if user.password is not None:
                password = pulumi.Output.secret(user.password)
            else:
                generated = random.RandomPassword(f"{name}-{user.name}-password", length=32, special=False, opts=child)
                password = pulumi.Output.secret(generated.result)
            salt = random.RandomBytes(f"{name}-{user.name}-salt", length=SALT_BYTES, opts=child)
            self.passwords[user.name] = password
            lines.append(pulumi.Output.all(password, salt.base64).apply(_entry(user.name, args.bcrypt_cost)))
        self.htpasswd = pulumi.Output.secret(
            pulumi.Output.all(*lines).apply(lambda done: "".join(f"{line}\n" for line in done))
        )
        self.register_outputs({"users": [user.name for user in args.users]})
