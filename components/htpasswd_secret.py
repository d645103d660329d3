"""HtpasswdSecret: users, their passwords and their bcrypt hashes."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random

from components.password_hash import MINIMUM_COST, PasswordHash
from components.settings import User

GENERATED_LENGTH = 32


@dataclass(frozen=True)
class HtpasswdSecretArgs:
    users: tuple[User, ...]
    # The cost of passwords a person supplied; generated ones get bcrypt's minimum.
    bcrypt_cost: int


def hash_cost(user: User, supplied_cost: int) -> int:
    """32 random letters and digits (190 bits) need no key stretching; a chosen password does."""
    return supplied_cost if user.password is not None else MINIMUM_COST


class HtpasswdSecret(pulumi.ComponentResource):
    """One htpasswd account (user, bcrypt hash) per user, each hash computed once and kept in state (PasswordHash)."""

    passwords: dict[str, pulumi.Output[str]]
    hashes: dict[str, pulumi.Output[str]]
    # (user, hash) pairs in the users' order: what the front checks credentials against.
    accounts: pulumi.Output[list[tuple[str, str]]]

    def __init__(self, name: str, args: HtpasswdSecretArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-registry:index:HtpasswdSecret", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.passwords, self.hashes = {}, {}
        for user in args.users:
            if user.password is not None:
                password = pulumi.Output.secret(user.password)
            else:
                generated = random.RandomPassword(
                    f"{name}-{user.name}-password", length=GENERATED_LENGTH, special=False, opts=child
                )
                password = pulumi.Output.secret(generated.result)
            cost = hash_cost(user, args.bcrypt_cost)
            self.passwords[user.name] = password
            self.hashes[user.name] = PasswordHash(f"{name}-{user.name}-hash", password, cost, opts=child).hash
        names = list(self.hashes)
        self.accounts = pulumi.Output.secret(
            pulumi.Output.all(*self.hashes.values()).apply(lambda hashes: list(zip(names, hashes, strict=True)))
        )
        self.register_outputs({"users": names})
