"""States: per-slot move counts for the timeline's distinct-entity day counts.

``transition_slots`` holds, per (project, 15-minute slot, kind, to_state, gap),
how many moves into ``to_state`` happened in that slot whose entity's
previous move into the same state was ``gap`` slots earlier (capped at 100,
also when there was none). The number of distinct entities that moved into a
state during slots [A, B) (B - A <= 100) is then the sum of ``n`` over rows
with A <= slot < B and gap > slot - A: each entity counts at its first such
move of the range, whose previous one lies before A.

Triggers on ``transitions`` keep it exact on every path that writes history
(moves, jobs, out-of-order imports, deletes, purges): an insert adds its own
contribution and moves its successor's (the entity's next move into the same
state, if the insert landed before it); a delete does the reverse. Order is
(occurred_at, id). PostgreSQL uses BEFORE row triggers: they see the rows the
same statement wrote before (AFTER row triggers of a multi-row INSERT or COPY
fire only when every row is in). SQLite fires row triggers one row at a time;
its AFTER INSERT trigger is used because a BEFORE trigger does not know the
new rowid yet. The PL/pgSQL functions run with ``enable_seqscan = off``: their
plans are cached per session, and one planned while ``transitions`` looked
empty (a fresh database, a bulk load in one transaction) would scan the table
on every row.

Revision ID: 0008_transition_slots
Revises: 0007_quarter_rollups
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_transition_slots"
down_revision = "0007_quarter_rollups"
branch_labels = None
depends_on = None

SHARD_COMMENT = (
    "PostgreSQL: rows of one key that concurrent writers add to without waiting on each "
    "other (a backend pid, or random when that row is held); always 0 on SQLite"
)
UNTRACKED_KIND = "job"
"""Job moves are left out of the slot counters: a job's trail is the queue's hot path
(the triggers cost PostgreSQL drains a quarter to a third of their rate), and job
timelines count their days from the moves themselves (``states/_timeline.py``)."""
_SLOT = 900_000_000
_CAP = 100


def _slot(t: str) -> str:
    # Floor division on both databases (integer "/" truncates toward zero).
    return f"(CASE WHEN {t} >= 0 THEN {t} / {_SLOT} ELSE ({t} + 1) / {_SLOT} - 1 END)"


def _gap(t: str, prev: str, least: str) -> str:
    return f"(CASE WHEN {prev} IS NULL THEN {_CAP} ELSE {least}({_slot(t)} - {_slot(prev)}, {_CAP}) END)"


def _neighbour(r: str, before: bool, keep: str = "OFFSET 0") -> str:
    """The occurred_at of r's entity's move into the same state just before / after r.

    It reads the entity's history in unique-key order (``ORDER BY`` the key,
    kept by ``OFFSET 0``; SQLite spells it ``LIMIT -1 OFFSET 0``), so both planners
    walk that key: without it,
    PostgreSQL took the time index for ``project_id = …`` alone whenever the
    table looked empty to it (a fresh database, a bulk load), and every insert
    scanned the project. An entity has a few moves, the project millions.
    """
    cmp, agg = ("<", "MAX") if before else (">", "MIN")
    return (
        f"(SELECT {agg}(h.occurred_at) FROM (SELECT occurred_at, id, to_state FROM transitions "
        f"WHERE project_id = {r}.project_id AND kind = {r}.kind AND entity_id = {r}.entity_id "
        f"ORDER BY project_id, kind, entity_id, sort_key {keep}) h "
        f"WHERE h.to_state = {r}.to_state AND (h.occurred_at {cmp} {r}.occurred_at "
        f"OR (h.occurred_at = {r}.occurred_at AND h.id {cmp} {r}.id)))"
    )


_UPSERT_SQLITE = (
    "INSERT INTO transition_slots (project_id, slot, kind, to_state, gap, shard, n) "
    "SELECT {r}.project_id, {slot}, {r}.kind, {r}.to_state, {gap}, 0, {n} FROM "
    "(SELECT {prev} AS p, {next} AS nx) WHERE {cond} "
    "ON CONFLICT (project_id, slot, kind, to_state, gap, shard) DO UPDATE SET n = n + excluded.n;"
)


def _sqlite_trigger(name: str, when: str, r: str, sign: int) -> str:
    t = f"{r}.occurred_at"
    steps = [
        # the move's own contribution
        {"slot": _slot(t), "gap": _gap(t, "p", "min"), "n": sign, "cond": "true"},
        # its successor's: gap to the move, replaced by the gap to the one before it
        {"slot": _slot("nx"), "gap": _gap("nx", t, "min"), "n": sign, "cond": "nx IS NOT NULL"},
        {"slot": _slot("nx"), "gap": _gap("nx", "p", "min"), "n": -sign, "cond": "nx IS NOT NULL"},
    ]
    body = "\n".join(
        _UPSERT_SQLITE.format(
            r=r,
            prev=_neighbour(r, True, "LIMIT -1 OFFSET 0"),
            next=_neighbour(r, False, "LIMIT -1 OFFSET 0"),
            **s,
        )
        for s in steps
    )
    return (
        f"CREATE TRIGGER {name} {when} ON transitions FOR EACH ROW "
        f"WHEN {r}.kind <> '{UNTRACKED_KIND}' BEGIN\n{body}\nEND"
    )


_PG_ADD = """
CREATE FUNCTION transition_slots_add(
    p_project integer, p_slot bigint, p_kind text, p_state text, p_gap bigint, p_n integer
) RETURNS void LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    -- Never wait on another writer: add to a row of this key no one else holds ...
    UPDATE transition_slots SET n = n + p_n WHERE ctid = (
        SELECT ctid FROM transition_slots WHERE project_id = p_project AND slot = p_slot
        AND kind = p_kind AND to_state = p_state AND gap = p_gap LIMIT 1 FOR UPDATE SKIP LOCKED
    );
    IF FOUND THEN
        RETURN;
    END IF;
    -- ... or start one under this backend's pid, which no running transaction shares
    -- (DO NOTHING does not wait on a committed row that another transaction locked).
    INSERT INTO transition_slots (project_id, slot, kind, to_state, gap, shard, n)
    VALUES (p_project, p_slot, p_kind, p_state, p_gap, pg_backend_pid(), p_n)
    ON CONFLICT DO NOTHING;
    WHILE NOT FOUND LOOP
        INSERT INTO transition_slots (project_id, slot, kind, to_state, gap, shard, n)
        VALUES (p_project, p_slot, p_kind, p_state, p_gap,
                -1 - floor(random() * 2147483646)::integer, p_n)
        ON CONFLICT DO NOTHING;
    END LOOP;
END
$$
"""

_PG_FUNCTION = f"""
CREATE FUNCTION transition_slots_track() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off AS $$
DECLARE
    r record;
    delta integer;
    p bigint;
    nx bigint;
    next_gap bigint;
    skip_gap bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN r := NEW; delta := 1; ELSE r := OLD; delta := -1; END IF;
    p := {_neighbour("r", True)};
    nx := {_neighbour("r", False)};
    PERFORM transition_slots_add(r.project_id, {_slot("r.occurred_at")}, r.kind, r.to_state,
                                 {_gap("r.occurred_at", "p", "LEAST")}, delta);
    IF nx IS NOT NULL THEN
        next_gap := {_gap("nx", "r.occurred_at", "LEAST")};
        skip_gap := {_gap("nx", "p", "LEAST")};
        IF next_gap <> skip_gap THEN
            PERFORM transition_slots_add(r.project_id, {_slot("nx")}, r.kind, r.to_state,
                                         next_gap, delta);
            PERFORM transition_slots_add(r.project_id, {_slot("nx")}, r.kind, r.to_state,
                                         skip_gap, -delta);
        END IF;
    END IF;
    IF TG_OP = 'INSERT' THEN RETURN NEW; END IF;
    RETURN OLD;
END
$$
"""

_BACKFILL = f"""
INSERT INTO transition_slots (project_id, slot, kind, to_state, gap, shard, n)
SELECT project_id, slot, kind, to_state, gap, 0, COUNT(*) FROM (
    SELECT project_id, kind, to_state, {_slot("occurred_at")} AS slot,
           {_gap("occurred_at", "prev", "{least}")} AS gap
    FROM (
        SELECT project_id, kind, to_state, occurred_at,
               LAG(occurred_at) OVER (
                   PARTITION BY project_id, kind, entity_id, to_state ORDER BY occurred_at, id
               ) AS prev
        FROM transitions
        WHERE kind <> '{UNTRACKED_KIND}'
    ) w
) g
GROUP BY project_id, slot, kind, to_state, gap
"""


def upgrade() -> None:
    op.create_table(
        "transition_slots",
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("slot", sa.BigInteger, nullable=False, comment="occurred_at // 15 minutes"),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("to_state", sa.String(64), nullable=False),
        sa.Column(
            "gap",
            sa.SmallInteger,
            nullable=False,
            comment=(
                "slots since the same entity's previous move into to_state, capped at 100 "
                "(also when there is none)"
            ),
        ),
        sa.Column(
            "shard",
            sa.Integer,
            nullable=False,
            comment=SHARD_COMMENT,
        ),
        sa.Column("n", sa.BigInteger, nullable=False, comment="moves with this slot and gap"),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_transition_slots_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "project_id", "slot", "kind", "to_state", "gap", "shard", name="pk_transition_slots"
        ),
        sqlite_with_rowid=False,
        comment=(
            "Moves per 15-minute slot and gap to the previous same move: the timeline's "
            "distinct-entity day counts, summed without reading transitions."
        ),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(_PG_ADD)
        op.execute(_PG_FUNCTION)
        # Two triggers: a WHEN clause may name NEW only on INSERT and OLD only on
        # DELETE, and it is checked before any PL/pgSQL runs.
        for op_name, row in (("INSERT", "NEW"), ("DELETE", "OLD")):
            op.execute(
                f"CREATE TRIGGER transition_slots_track_{op_name.lower()} BEFORE {op_name} "
                f"ON transitions FOR EACH ROW WHEN ({row}.kind <> '{UNTRACKED_KIND}') "
                "EXECUTE FUNCTION transition_slots_track()"
            )
        op.execute(_BACKFILL.replace("{least}", "LEAST"))
    else:
        op.execute(_sqlite_trigger("transition_slots_insert", "AFTER INSERT", "NEW", 1))
        op.execute(_sqlite_trigger("transition_slots_delete", "BEFORE DELETE", "OLD", -1))
        op.execute(_BACKFILL.replace("{least}", "min"))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER transition_slots_track_insert ON transitions")
        op.execute("DROP TRIGGER transition_slots_track_delete ON transitions")
        op.execute("DROP FUNCTION transition_slots_track()")
        op.execute(
            "DROP FUNCTION transition_slots_add(integer, bigint, text, text, bigint, integer)"
        )
    else:
        op.execute("DROP TRIGGER transition_slots_insert")
        op.execute("DROP TRIGGER transition_slots_delete")
    op.drop_table("transition_slots")
