"""A wrong secrets key is refused at start and before it writes (issue 14.8); a ciphertext
copied to another row is a 409, not a 500."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from chronolog import Chronolog, Conflict, NotConfigured
from chronolog.cli import app as cli
from chronolog.server import create_app
from chronolog.store.schema import project_secrets, secret_key_fingerprints
from chronolog.vault import KEY_ENV, key_fingerprint

from ._http import error_of, make_api

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()
WRONG = Fernet.generate_key().decode()


def _fingerprints(cl: Chronolog) -> set[str]:
    with cl.store.read() as conn:
        return set(conn.execute(select(secret_key_fingerprints.c.fingerprint)).scalars())


def test_a_wrong_key_is_refused_before_it_writes(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, OLD)
    with Chronolog(db_url) as cl:
        cl.secrets.check_key()  # no secret yet: any key will do
        cl.secrets.set("plex", "v1")
        assert _fingerprints(cl) == {key_fingerprint(OLD)}
        assert OLD not in str(_fingerprints(cl))
    monkeypatch.setenv(KEY_ENV, WRONG)
    with Chronolog(db_url) as cl:
        with pytest.raises(NotConfigured, match="matches none"):
            cl.secrets.check_key()
        with pytest.raises(NotConfigured, match="matches none"):
            cl.secrets.set("other", "v2")  # would have split the secrets across keys
        with pytest.raises(NotConfigured):
            cl.secrets.set("plex", "v2")
        assert [s.name for s in cl.secrets.list()] == ["plex"]
        assert _fingerprints(cl) == {key_fingerprint(OLD)}
        with pytest.raises(NotConfigured, match="matches none"):
            create_app(db_url)  # a server does not start with it
        with pytest.raises(NotConfigured, match="matches none"):
            create_app(cl)
    result = CliRunner().invoke(cli, ["serve", "--db", db_url])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0, result.output
    assert "CHRONOLOG_SECRET_KEY" in result.output
    monkeypatch.setenv(KEY_ENV, OLD)
    with Chronolog(db_url) as cl:
        assert cl.secrets.get("plex") == "v1"


def test_rotation_lists_the_new_key_first(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, OLD)
    with Chronolog(db_url) as cl:
        cl.secrets.set("a", "old")
        monkeypatch.setenv(KEY_ENV, f"{NEW},{OLD}")
        cl.secrets.check_key()
        cl.secrets.set("b", "new")
        assert _fingerprints(cl) == {key_fingerprint(OLD), key_fingerprint(NEW)}
        monkeypatch.setenv(KEY_ENV, NEW)
        cl.secrets.check_key()  # the new key alone is known now
        assert cl.secrets.get("b") == "new"
        with pytest.raises(NotConfigured, match="another key"):
            cl.secrets.get("a")  # still under the old key: set it again to move it


def test_a_store_without_fingerprints_learns_them(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Secrets written before the fingerprints existed: a key that decrypts one is learnt."""
    monkeypatch.setenv(KEY_ENV, OLD)
    with Chronolog(db_url) as cl:
        cl.secrets.set("a", "v")
        with cl.store.write() as conn:
            conn.execute(delete(secret_key_fingerprints))
        monkeypatch.setenv(KEY_ENV, WRONG)
        with pytest.raises(NotConfigured):
            cl.secrets.check_key()
        monkeypatch.setenv(KEY_ENV, f"{WRONG},{OLD}")
        cl.secrets.check_key()
        assert _fingerprints(cl) == {key_fingerprint(OLD)}


def test_a_copied_ciphertext_is_a_409(cl: Chronolog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, OLD)
    cl.secrets.set("mine", "v")
    cl.secrets.set("yours", "w")
    with cl.store.write() as conn:
        mine = conn.execute(
            select(project_secrets.c.ciphertext).where(project_secrets.c.name == "mine")
        ).scalar_one()
        conn.execute(
            update(project_secrets).where(project_secrets.c.name == "yours").values(ciphertext=mine)
        )
    with pytest.raises(Conflict, match="not stored for this project and name"):
        cl.secrets.get("yours")
    for api in make_api(cl):
        response = api.call("GET", "/secrets/yours")
        assert response.status_code == 409, response.text
        assert error_of(response)["code"] == "conflict"
        assert response.json().get("value") != "w"
