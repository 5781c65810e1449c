"""Project secrets, encrypted at rest (``cl.secrets``).

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a key taken
from ``$CHRONOLOG_SECRET_KEY`` at the moment of use, never from the database:
a copy of the database alone reveals nothing. Several comma-separated keys
allow rotation (the first encrypts, any decrypts). The plaintext names its
project and secret name, and both are checked on decryption, so a ciphertext
copied to another row or project is refused instead of being served there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import orjson

from ._scope import Scope
from ._time import from_micros, to_micros
from .errors import ChronologError, NotConfigured, NotFound, ValidationError
from .store.sql import auth as sql

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

__all__ = ["KEY_ENV", "SECRET_NAME", "SecretInfo", "Secrets", "generate_key"]

KEY_ENV = "CHRONOLOG_SECRET_KEY"
SECRET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_VALUE_LIMIT = 64 * 1024


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

    def _fernet(self) -> MultiFernet:
        # cryptography loads on the first use of a secret: `import chronolog` stays light.
        from cryptography.fernet import Fernet, MultiFernet

        raw = self._key()
        if not raw:
            raise NotConfigured(
                f"secrets need an encryption key: set {KEY_ENV} (create one with "
                "`python -c 'import chronolog.vault as v; print(v.generate_key())'`)"
            )
        try:
            return MultiFernet([Fernet(k.strip()) for k in raw.split(",") if k.strip()])
        except ValueError:
            raise NotConfigured(
                f"{KEY_ENV} is not a valid key: it must be 32 url-safe base64-encoded bytes"
            ) from None

    def set(self, name: str, value: str) -> SecretInfo:
        """Create or replace a secret."""
        _check_name(name)
        if not isinstance(value, str):
            raise ValidationError("a secret value must be text", field="value")
        if len(value.encode("utf-8", "surrogatepass")) > _VALUE_LIMIT:
            raise ValidationError(f"a secret value is at most {_VALUE_LIMIT} bytes", field="value")
        scope = self._scope
        plain = orjson.dumps({"p": scope.project_id, "n": name, "v": value})
        token = self._fernet().encrypt(plain)
        now = to_micros(scope.clock())
        with scope.store.write() as conn:
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
            raise ChronologError(f"secret {name!r} was not stored for this project and name")
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
