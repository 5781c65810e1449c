"""The store: opening URLs, SQLite settings, migrations, error translation."""

from __future__ import annotations

import logging
import multiprocessing
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from chronolog import Chronolog, NotFound, ValidationError
from chronolog.store import Store, migrate
from chronolog.store.engine import network_filesystem, normalise_url
from chronolog.store.schema import PG_UNENFORCED_PROJECT_KEYS, metadata


def test_upgrade_head_equals_declared_metadata(empty_db_url: str) -> None:
    store = Store(empty_db_url)
    try:
        migrate.upgrade(store)
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
            if conn.dialect.name == "postgresql":
                # Declared, enforced on SQLite, dropped on PostgreSQL (migration 0009).
                unenforced = [
                    d
                    for d in diff
                    if d[0] == "add_fk"
                    and d[1].parent.name in PG_UNENFORCED_PROJECT_KEYS
                    and d[1].referred_table.name == "projects"
                ]
                assert len(unenforced) == len(PG_UNENFORCED_PROJECT_KEYS)
                diff = [d for d in diff if d not in unenforced]
            assert diff == []
            assert migrate.current_revision(conn) == migrate.head_revision()
            tables = set(metadata.tables)
            assert {"projects", "events", "event_counts", "project_vocab"} <= tables
    finally:
        store.close()


def test_upgrade_is_idempotent_and_default_project_exists(empty_db_url: str) -> None:
    with Chronolog(empty_db_url) as cl:
        assert cl.project == "default"
    with Chronolog(empty_db_url) as cl:  # second open: already at head
        assert [p.name for p in cl.projects.list()] == ["default"]


def test_opt_out_of_migration_leaves_database_empty(empty_db_url: str) -> None:
    from chronolog.errors import ChronologError

    with pytest.raises(ChronologError, match="database error"):
        Chronolog(empty_db_url, migrate_schema=False)
    store = Store(empty_db_url)
    try:
        with store.engine.connect() as conn:
            assert migrate.current_revision(conn) is None
    finally:
        store.close()


def _open_and_record(url: str) -> int:
    with Chronolog(url) as cl:
        return cl.events.record("boot", "opened")


def test_two_processes_migrate_a_fresh_store_at_once(empty_db_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        ids = pool.map(_open_and_record, [empty_db_url, empty_db_url])
    assert sorted(ids) == [1, 2]
    with Chronolog(empty_db_url) as cl:
        assert cl.events.query().total == 2


def test_sqlite_pragmas(tmp_path: Path) -> None:
    with Chronolog(f"sqlite:///{tmp_path / 'p.db'}") as cl, cl.store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_sqlite_synchronous_from_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}?synchronous=full"
    with Chronolog(url) as cl, cl.store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    with pytest.raises(ValidationError, match="synchronous"):
        Chronolog(f"sqlite:///{tmp_path / 's.db'}?synchronous=sometimes")


def test_memory_store_is_shared_across_threads() -> None:
    import threading

    with Chronolog("sqlite:///:memory:") as cl:
        ids: list[int] = []
        threads = [
            threading.Thread(target=lambda: ids.append(cl.events.record("t", "x")))
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert cl.events.query().total == 4


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/x", "unsupported database"),
        ("not a url", "not a database URL"),
        ("sqlite:////no/such/dir/x.db", "does not exist"),
    ],
)
def test_bad_urls_are_clear_errors(url: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Chronolog(url)


def test_postgres_url_uses_psycopg() -> None:
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://u@h/db").drivername == "postgresql+psycopg"


def test_network_filesystem_detection(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    mounts = tmp_path / "mounts"
    share = tmp_path / "share"
    share.mkdir()
    mounts.write_text(f"/dev/vda / ext4 rw 0 0\nnas:/media {share} nfs4 rw 0 0\n", encoding="utf-8")
    assert network_filesystem(str(share / "pipeline.db"), str(mounts)) == "nfs4"
    assert network_filesystem(str(tmp_path / "local.db"), str(mounts)) is None
    with caplog.at_level(logging.WARNING, logger="chronolog"):
        store = Store(f"sqlite:///{share / 'pipeline.db'}", mounts_file=str(mounts))
        store.close()
    assert any("network filesystem" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="chronolog"):
        Store(f"sqlite:///{tmp_path / 'local.db'}", mounts_file=str(mounts)).close()
    assert not caplog.records


def test_unknown_project_is_not_found(cl: Chronolog) -> None:
    with pytest.raises(NotFound, match="nope"):
        cl.using("nope")
    with pytest.raises(ValidationError, match="project name"):
        cl.using("Bad Name!")


def test_projects_are_isolated(cl: Chronolog) -> None:
    cl.projects.create("media", title="Media manager")
    media = cl.using("media")
    media.events.record("scan", "started")
    cl.events.record("scan", "started")
    cl.events.record("scan", "completed")
    assert media.events.query().total == 1
    assert cl.events.query().total == 2
    other_id = media.events.recent()[0].id
    with pytest.raises(NotFound):
        cl.events.get(other_id)
    with pytest.raises(NotFound):
        cl.events.set_status(other_id, "error")
    assert media.events.get(other_id).status == "success"


def test_driver_errors_become_chronolog_errors(cl: Chronolog) -> None:
    from chronolog.errors import ChronologError

    with pytest.raises(ChronologError) as excinfo, cl.store.write() as conn:
        conn.execute(text("SELECT * FROM no_such_table"))
    assert not isinstance(excinfo.value, NotFound)
    assert "database error" in str(excinfo.value)


def test_sqlite_store_that_wrote_refreshes_statistics_on_close(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stats.db'}"
    with Chronolog(url) as cl:
        cl.events.record_many([{"event_type": "scan", "action": "x"}] * 50)
    with Chronolog(url) as cl, cl.store.read() as conn:
        tables = {r[0] for r in conn.exec_driver_sql("SELECT tbl FROM sqlite_stat1").all()}
        assert "events" in tables
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT count(*) FROM events WHERE project_id = 1 AND target_title LIKE '%x%'"
        ).all()
        assert "SCAN events" in str(plan)


def test_a_connection_back_after_close_is_closed_not_left_to_the_collector(db_url: str) -> None:
    """A thread that outlives the store returns its connection late: it is closed then,
    not left in the disposed pool for the garbage collector (psycopg's ResourceWarning)."""
    import sqlite3

    import psycopg

    store = Store(db_url)
    conn = store.engine.connect()
    conn.exec_driver_sql("SELECT 1")
    raw = conn.connection.dbapi_connection
    store.close()
    conn.exec_driver_sql("SELECT 1")  # still usable until it goes back
    conn.close()
    with pytest.raises((sqlite3.ProgrammingError, psycopg.OperationalError)):
        raw.execute("SELECT 1")  # type: ignore[union-attr]


def test_sqlite_checkpoints_run_in_the_background_and_stop_with_the_store(
    tmp_path: Path,
) -> None:
    """The WAL is copied into the database file by the store's checkpoint thread, soon
    after the writes and without a writer doing it; closing the store stops it."""
    import sqlite3
    import time

    from chronolog.store._checkpoint import FALLBACK_PAGES

    path = tmp_path / "c.db"
    with Chronolog(f"sqlite:///{path}") as cl:
        with cl.store.engine.connect() as conn:
            pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        assert pages == FALLBACK_PAGES  # the writers' own checkpoints: a fallback only
        event_id = cl.events.record("deploy", "finished")
        # ``immutable`` reads the database file alone, never the WAL: the event shows
        # there only once a checkpoint copied it.
        deadline = time.monotonic() + 10
        while True:
            raw = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
            try:
                found = raw.execute("SELECT count(*) FROM events WHERE id = ?", (event_id,))
                if found.fetchone()[0] == 1:
                    break
            except sqlite3.DatabaseError:
                pass  # the file caught mid-copy: look again
            finally:
                raw.close()
            assert time.monotonic() < deadline, "no checkpoint copied the event"
            time.sleep(0.05)
        thread = cl.store._checkpointer._thread  # type: ignore[union-attr]
        assert thread is not None
        assert thread.is_alive()
    assert not thread.is_alive()


def test_no_checkpoint_thread_for_memory_or_read_only_stores(tmp_path: Path) -> None:
    with Chronolog("sqlite://") as cl:
        cl.events.record("a", "b")
        assert cl.store._checkpointer is None
    path = tmp_path / "r.db"
    with Chronolog(f"sqlite:///{path}"):
        pass
    with Chronolog(f"sqlite:///{path}?mode=ro", migrate_schema=False) as ro:
        assert ro.store._checkpointer is None
