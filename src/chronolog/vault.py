"""Project secrets, encrypted at rest (``cl.secrets``).

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a key taken
from ``$CHRONOLOG_SECRET_KEY`` at the moment of use, never from the database:
a copy of the database alone reveals nothing. Several comma-separated keys
allow rotation (the first encrypts, any decrypts). The plaintext names its
project and secret name, and both are checked on decryption, so a ciphertext
copied to another row or project is refused (``Conflict``) instead of being
served there.

The store keeps a fingerprint of every key that encrypted a secret (an HMAC
of a fixed text under the key, which reveals nothing of it). A key list with
none of them — a wrong key, while secrets exist — is refused before it writes
(``set``) and at a server's start (:meth:`Secrets.check_key`), so a mistyped
key cannot split a project's secrets between two keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import orjson

from ._scope import Scope
from ._time import from_micros, to_micros
from .errors import Conflict, NotConfigured, NotFound, ValidationError
from .store.sql import auth as sql
from .store.sql import keys as key_sql

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet
    from sqlalchemy import Connection

__all__ = ["KEY_ENV", "SECRET_NAME", "SecretInfo", "Secrets", "generate_key", "key_fingerprint"]

KEY_ENV = "CHRONOLOG_SECRET_KEY"
SECRET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_VALUE_LIMIT = 64 * 1024


def key_fingerprint(key: str) -> str:
    """A key's fingerprint: HMAC-SHA256 of a fixed text under it (hex, 32 characters).

    Equal keys give equal fingerprints; the fingerprint tells nothing of the key.
    """
    raw = base64.urlsafe_b64decode(key.strip().encode())
    return hmac.new(raw, b"chronolog secrets key fingerprint v1", hashlib.sha256).hexdigest()[:32]


def generate_key() -> str:
    """A new random key for ``$CHRONOLOG_SECRET_KEY``."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


@dataclass(frozen=True, slots=True)
class SecretInfo:
    """A secret's name and times: what listing shows (never the value)."""

    name: str
    created_at: datetime
    updated_at: datetime


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not SECRET_NAME.match(name):
        raise ValidationError(
            "secret name must be 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            field="name",
        )
    return name


def _env_key() -> str | None:
    return os.environ.get(KEY_ENV)


class Secrets:
    """Store, read and delete one project's secrets."""

    def __init__(self, scope: Scope, key: Callable[[], str | None] = _env_key) -> None:
        self._scope = scope
        self._key = key  # a callable, so a key set after opening the store is seen

    def _keys(self) -> list[str]:
        # cryptography loads on the first use of a secret: `import chronolog` stays light.
        from cryptography.fernet import Fernet

        raw = self._key()
        if not raw:
            raise NotConfigured(
                f"secrets need an encryption key: set {KEY_ENV} (create one with "
                "`python -c 'import chronolog.vault as v; print(v.generate_key())'`)"
            )
        keys = [k.strip() for k in raw.split(",") if k.strip()]
        try:
            for key in keys:
                Fernet(key)
        except ValueError:
            raise NotConfigured(
                f"{KEY_ENV} is not a valid key: it must be 32 url-safe base64-encoded bytes"
            ) from None
        if not keys:
            raise NotConfigured(f"{KEY_ENV} holds no key")
        return keys

    def _fernet(self) -> MultiFernet:
        from cryptography.fernet import Fernet, MultiFernet

        return MultiFernet([Fernet(k) for k in self._keys()])

    def check_key(self) -> None:
        """Refuse (``NotConfigured``) a ``$CHRONOLOG_SECRET_KEY`` that matches none of the keys
        that encrypted this store's secrets. Nothing to check without a key or secrets.

        A store whose secrets predate the fingerprints learns them here: a key
        that decrypts one of its secrets is recorded.
        """
        if not self._key():
            return
        with self._scope.store.read() as conn:
            self._matching(conn, self._keys())

    def _matching(self, conn: Connection, keys: list[str]) -> str | None:
        """The fingerprint of a configured key the store knows; ``None`` for a store with
        no secret yet. Raises ``NotConfigured`` when secrets exist and no key matches."""
        known = set(key_sql.secret_fingerprint_list(conn))
        prints = [key_fingerprint(k) for k in keys]
        for fp in prints:
            if fp in known:
                return fp
        sample = sql.secret_sample(conn)
        if sample is None:
            return None
        from cryptography.fernet import Fernet, InvalidToken

        for key, fp in zip(keys, prints, strict=True):
            try:
                Fernet(key).decrypt(bytes(sample.ciphertext))
            except InvalidToken:
                continue
            self._learn(fp)
            return fp
        raise NotConfigured(
            f"{KEY_ENV} matches none of the keys that encrypted this store's secrets: "
            "it is not the key in use (to rotate, list the new key first and the old one "
            "after it, comma-separated)"
        )

    def _learn(self, fp: str) -> None:
        with self._scope.store.write() as conn:
            key_sql.secret_fingerprint_add(
                conn, self._scope.store.dialect, fp, to_micros(self._scope.clock())
            )

    def set(self, name: str, value: str) -> SecretInfo:
        """Create or replace a secret."""
        _check_name(name)
        if not isinstance(value, str):
            raise ValidationError("a secret value must be text", field="value")
        if len(value.encode("utf-8", "surrogatepass")) > _VALUE_LIMIT:
            raise ValidationError(f"a secret value is at most {_VALUE_LIMIT} bytes", field="value")
        scope = self._scope
        keys = self._keys()
        plain = orjson.dumps({"p": scope.project_id, "n": name, "v": value})
        token = self._fernet().encrypt(plain)
        now = to_micros(scope.clock())
        with scope.store.read() as conn:
            self._matching(conn, keys)  # a wrong key writes nothing
        with scope.store.write() as conn:
            # The key that encrypts is known from now on (rotation: it is listed first).
            key_sql.secret_fingerprint_add(conn, scope.store.dialect, key_fingerprint(keys[0]), now)
            if sql.secret_get(conn, scope.project_id, name) is None:
                sql.secret_insert(conn, scope.project_id, name, token, now)
            else:
                sql.secret_update(conn, scope.project_id, name, token, now)
            row = sql.secret_get(conn, scope.project_id, name)
        assert row is not None
        return SecretInfo(row.name, from_micros(row.created_at), from_micros(row.updated_at))

    def get(self, name: str) -> str:
        """A secret's value (``NotFound`` if this project has none by that name)."""
        _check_name(name)
        from cryptography.fernet import InvalidToken

        fernet = self._fernet()
        scope = self._scope
        with scope.store.read() as conn:
            row = sql.secret_get(conn, scope.project_id, name)
        if row is None:
            raise NotFound(f"secret {name!r} not found in project {scope.project!r}")
        try:
            data = orjson.loads(fernet.decrypt(bytes(row.ciphertext)))
        except InvalidToken:
            raise NotConfigured(
                f"secret {name!r} cannot be decrypted with the configured {KEY_ENV} "
                "(was it stored under another key?)"
            ) from None
        if data.get("p") != scope.project_id or data.get("n") != name:
            # A ciphertext copied from another row: refused, never served here.
            raise Conflict(
                f"secret {name!r} holds a value that was not stored for this project and name; "
                "set it again"
            )
        return str(data["v"])

    def list(self) -> list[SecretInfo]:
        """This project's secrets: names and times only."""
        with self._scope.store.read() as conn:
            rows = sql.secret_list(conn, self._scope.project_id)
        return [
            SecretInfo(r.name, from_micros(r.created_at), from_micros(r.updated_at)) for r in rows
        ]

    def delete(self, name: str) -> None:
        """Delete a secret (``NotFound`` if there is none by that name)."""
        _check_name(name)
        scope = self._scope
        with scope.store.write() as conn:
            if not sql.secret_delete(conn, scope.project_id, name):
                raise NotFound(f"secret {name!r} not found in project {scope.project!r}")
