"""PasswordHash: a password's bcrypt hash, computed once and kept in Pulumi state.

A dynamic resource: the engine runs `BcryptProvider` (by reference to this
module, loaded from the project directory) to create it, and on every later
run only diffs it. An unchanged password and cost keep the hash from state,
salt and all, so an unchanged stack hashes nothing and previews no change; a
new password or cost replaces it, with a new salt.

Keep this module's path and the class's name: the state refers to them, and
`pulumi destroy` loads them to delete the resource.
"""

from __future__ import annotations

import secrets
from typing import Any

import bcrypt
import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

# bcrypt's lowest cost: enough for a password drawn at random, which no amount of hashing makes more guessable.
MINIMUM_COST = 4
# What a change to replaces the hash.
HASHED_FROM = ("password", "cost")


class BcryptProvider(ResourceProvider):
    """Hashes at create; diffs by the password and cost in state, never by hashing again."""

    # It captures nothing secret (the password is an input): its pickle can stay plain in previews.
    serialize_as_secret_always = False

    def create(self, props: dict[str, Any]) -> CreateResult:
        password, cost = str(props["password"]), int(props["cost"])
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost, prefix=b"2b")).decode()
        # The id is plain in state: it must say nothing about the password.
        return CreateResult(secrets.token_hex(8), {"password": password, "cost": cost, "hash": hashed})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in HASHED_FROM if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=False)


class PasswordHash(Resource, module="image-registry", name="PasswordHash"):
    """`hash` is `$2b$<cost>$…` of `password`, a secret like the password."""

    hash: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        password: pulumi.Input[str],
        cost: int,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=["password", "hash"])
        props = {"password": pulumi.Output.secret(password), "cost": cost, "hash": None}
        super().__init__(BcryptProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))
