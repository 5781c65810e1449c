"""The core without the server: ``chronolog[client]`` works with httpx alone.

A fresh virtualenv per CI run would cost a minute of installs; instead a child
process blocks the import of every module the client must not need (SQLAlchemy,
the drivers, the server and terminal-UI stacks, the CLI's), then imports
``chronolog.client`` and talks to a real server: a missing split shows as an
``ImportError`` in the child.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from chronolog import Chronolog

from ._http import serving

BLOCKED = (
    "sqlalchemy",
    "alembic",
    "psycopg",
    "fastapi",
    "starlette",
    "pydantic",
    "uvicorn",
    "jinja2",
    "prometheus_client",
    "textual",
    "typer",
    "rich",
    "cryptography",
    "yaml",
)

CHILD = textwrap.dedent(
    """
    import sys

    BLOCKED = set(sys.argv[3].split(","))

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is not installed (blocked by the test)")
            return None

    sys.meta_path.insert(0, Block())

    from chronolog import Client, EventQuery, NewEvent, Target, ValidationError
    from chronolog.client import Client as Direct

    assert Client is Direct
    with Client(sys.argv[1], sys.argv[2]) as client:
        ids = client.events.record_many([NewEvent("scan", "done", target=Target("lib", "1"))])
        page = client.events.query(EventQuery(event_types="scan"))
        assert [e.id for e in page.items] == ids, page
        try:
            client.events.query(target_id="1")
        except ValidationError:
            pass
        else:
            raise AssertionError("a bad query must fail in the client")
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not loaded, loaded
    print("client ok", len(ids))
    """
)


def test_client_imports_and_works_without_sqlalchemy_or_the_server(cl: Chronolog) -> None:
    token = cl.auth.create_token("client only", "write").secret
    with serving(cl) as url:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, url, token, ",".join(BLOCKED)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "client ok 1"


def test_import_chronolog_loads_no_store_until_asked() -> None:
    code = (
        "import sys, chronolog;"
        "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy loaded';"
        "assert 'httpx' not in sys.modules, 'httpx loaded';"
        "chronolog.Chronolog;"
        "assert 'sqlalchemy' in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_commands_name_the_extra_they_need(tmp_path) -> None:
    # A stack that is missing is named with the pip command that adds it.
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "uvicorn":
                    raise ImportError("blocked")
                return None
        sys.meta_path.insert(0, Block())
        import importlib.util
        real = importlib.util.find_spec
        importlib.util.find_spec = lambda name, *a: None if name == "uvicorn" else real(name, *a)
        from chronolog.cli import main
        sys.argv = ["chronolog", "serve", "--db", sys.argv[1]]
        main()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code, f"sqlite:///{tmp_path / 'x.db'}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "pip install 'chronolog[server]'" in done.stderr
