"""API keys: generation, hashing, lookup in constant time, and the bootstrap admin key.

A key is ``tri_`` plus 32 random bytes (URL-safe base64). Only its SHA-256 is stored: with that much
entropy a plain hash cannot be brute-forced, and a slow password hash would cost every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.store.base import utc_now
from service.store.tables import SCOPES, ApiKey

KEY_PREFIX = "tri_"
BOOTSTRAP_KEY_NAME = "bootstrap-admin (TRIAGE_ADMIN_KEY)"
GENERATED_KEY_NAME = "bootstrap-admin (generated)"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, name and scopes (``admin`` implies every scope)."""

    key_id: uuid.UUID
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        """Whether this key may act in ``scope``."""
        return "admin" in self.scopes or scope in self.scopes


def generate_key() -> str:
    """A new random API key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The stored form of a key: hex SHA-256."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def check_scopes(scopes: Sequence[str]) -> list[str]:
    """Validated, de-duplicated scopes in canonical order.

    Raises:
        ValueError: an unknown scope, or none at all.
    """
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    if not scopes:
        raise ValueError("a key needs at least one scope")
    return [s for s in SCOPES if s in scopes]


def create_key(
    session: Session, scopes: Sequence[str], name: str, key: str | None = None
) -> tuple[ApiKey, str]:
    """Add a key to the store (the caller commits).

    Returns:
        The row and the secret key, which is shown once and never stored.
    """
    key = key or generate_key()
    row = ApiKey(name=name, key_sha256=hash_key(key), scopes=check_scopes(scopes), created=utc_now())
    session.add(row)
    session.flush()
    return row, key


def find_principal(session: Session, key: str) -> Principal | None:
    """The active key matching ``key``, or None.

    The lookup is by hash (an index), and the stored hash is then compared in constant time, so neither
    the database nor Python's string comparison leaks how much of a guess was right.
    """
    digest = hash_key(key)
    row = session.scalars(select(ApiKey).where(ApiKey.key_sha256 == digest)).first()
    if row is None or row.revoked is not None or not hmac.compare_digest(row.key_sha256, digest):
        return None
    return Principal(key_id=row.id, name=row.name, scopes=frozenset(row.scopes))


def revoke_key(session: Session, key_id: uuid.UUID) -> ApiKey | None:
    """Mark a key revoked (the caller commits); None when no such key exists."""
    row = session.get(ApiKey, key_id)
    if row is not None and row.revoked is None:
        row.revoked = utc_now()
    return row


def bootstrap_admin(session: Session, admin_key: str | None) -> str | None:
    """Make sure someone can administer the service (the caller commits).

    With ``admin_key`` given, store it as the bootstrap admin key, revoking an older bootstrap key from the
    environment (so rotating ``TRIAGE_ADMIN_KEY`` retires the old one). With none given and no active key
    stored, generate an admin key.

    Returns:
        A newly generated key, to be printed once; otherwise None.
    """
    if admin_key is not None:
        digest = hash_key(admin_key)
        existing = session.scalars(select(ApiKey).where(ApiKey.name == BOOTSTRAP_KEY_NAME)).all()
        if any(row.key_sha256 == digest and row.revoked is None for row in existing):
            return None
        for row in existing:
            if row.revoked is None:
                row.revoked = utc_now()
        if any(row.key_sha256 == digest for row in existing):
            raise ValueError("TRIAGE_ADMIN_KEY was revoked before; choose a new key")
        create_key(session, ["admin"], BOOTSTRAP_KEY_NAME, key=admin_key)
        return None
    active = session.scalars(select(ApiKey.id).where(ApiKey.revoked.is_(None)).limit(1)).first()
    if active is not None:
        return None
    _, key = create_key(session, ["admin"], GENERATED_KEY_NAME)
    return key
