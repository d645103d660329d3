"""RegistryUsers: the registry's accounts, their passwords and their bcrypt hashes."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random

from components.password_hash import MINIMUM_COST, PasswordHash
from components.settings import User

GENERATED_LENGTH = 32
TYPE = "image-registry:index:RegistryUsers"
PREVIOUS_TYPE = "image-registry:index:HtpasswdSecret"


@dataclass(frozen=True)
class RegistryUsersArgs:
    users: tuple[User, ...]
    # The cost of passwords a person supplied; generated ones get bcrypt's minimum.
    bcrypt_cost: int


def hash_cost(user: User, supplied_cost: int) -> int:
    """32 random letters and digits (190 bits) need no key stretching; a chosen password does."""
    return supplied_cost if user.password is not None else MINIMUM_COST


class RegistryUsers(pulumi.ComponentResource):
    """One account (user, bcrypt hash) per user, each hash computed once and kept in state (PasswordHash)."""

    passwords: dict[str, pulumi.Output[str]]
    hashes: dict[str, pulumi.Output[str]]
    # (user, hash) pairs in the users' order: what the front checks credentials against.
    accounts: pulumi.Output[list[tuple[str, str]]]

    def __init__(self, name: str, args: RegistryUsersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # Its type was HtpasswdSecret: stacks made before the rename keep this component and its children
        # (the engine derives the children's old URNs from the parent's alias).
        renamed = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=PREVIOUS_TYPE)])
        super().__init__(TYPE, name, None, pulumi.ResourceOptions.merge(opts, renamed))
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
