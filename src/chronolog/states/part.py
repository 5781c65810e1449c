"""``cl.states``: entities, their state machines, and the history of their moves."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from .. import _json
from .._scope import Scope
from .._time import from_micros, to_micros
from .._validate import ACTOR_LIMITS, party
from ..errors import NotFound, ValidationError
from ..events import Events
from ..models import Actor, Target
from ..store.sql import job_moves
from ..store.sql import jobs as jsql
from ..store.sql import states as sql
from ..store.sql import transitions as tsql
from ._bounds import INT32_MAX, check_int
from ._moves import Move, _actor, apply_moves, check_title, parse_move, parse_parent, resolve_parent
from ._rows import entity_from_row, job_transition_from_row, transition_from_row
from .machine import check_entity_id, check_kind, machine_from_json, parse_machine
from .models import Entity, Machine, Transition
from .queries import Queries

__all__ = ["States"]


class States(Queries):
    """Entities with a lifecycle, their state machines and their transitions, in one project.

    Every move appends an activity event in the same transaction: event type
    = the entity's kind, action = the new state, target = the entity,
    metadata = ``{"from", "to", "sort_key", "metadata"}``. So the activity
    log, the stats and the feed see every move.
    """

    def __init__(self, scope: Scope) -> None:
        super().__init__(scope)

    # -- machines ------------------------------------------------------------------

    def define(
        self,
        kind: str,
        states: Sequence[str],
        transitions: Mapping[str, Sequence[str]],
        *,
        initial: str | None = None,
        terminal: Sequence[str] = (),
    ) -> Machine:
        """Define (or redefine) the state machine of ``kind``, stored for every process.

        A redefinition must keep every state some entity of the kind is in now
        (``ValidationError`` naming the missing ones); moves already recorded stay.
        """
        kind = check_kind(kind, writing=True)
        machine = parse_machine(kind, states, transitions, initial, terminal)
        scope = self._scope
        with scope.store.write() as conn:
            # Hold off moves until commit: none may enter a state this definition drops.
            sql.machine_freeze_states(conn, scope.store.dialect)
            dropped = sorted(
                sql.entity_states_in_use(conn, scope.project_id, kind) - set(machine.states)
            )
            if dropped:
                raise ValidationError(
                    f"the new {kind} machine drops state(s) {dropped} that {kind} entities are "
                    "in now; keep them, or move those entities first",
                    field="states",
                    states=dropped,
                )
            sql.machine_put(
                conn,
                scope.store.dialect,
                scope.project_id,
                kind,
                machine.to_dict(),
                to_micros(scope.clock()),
            )
        return machine

    def machine(self, kind: str) -> Machine | None:
        """The machine of ``kind``, or ``None`` when the kind accepts any move."""
        kind = check_kind(kind)
        with self._scope.store.read() as conn:
            definition = sql.machine_get(conn, self._scope.project_id, kind)
        return None if definition is None else machine_from_json(kind, definition)

    def machines(self) -> list[Machine]:
        """Every machine of the project, by kind."""
        with self._scope.store.read() as conn:
            rows = sql.machine_list(conn, self._scope.project_id)
        return [machine_from_json(kind, d) for kind, d in rows]

    # -- entities ------------------------------------------------------------------

    def upsert(
        self,
        kind: str,
        id: str | int,
        *,
        title: str | None = None,
        parent: tuple[str, str | int] | Entity | None = None,
        attributes: Mapping[str, Any] | None = None,
        actor: Actor | Mapping[str, Any] | None = None,
    ) -> Entity:
        """Create an entity or change its title, parent or attributes (``None`` keeps them).

        Creating one is recorded like a move: in a kind whose machine has an
        initial state, as the transition that created it in that state
        (``from_state`` ``None``, sort_key 1) with its event (action = the
        initial state); otherwise, with no state to record, as one event of
        action ``created``. Changing an existing entity records nothing.
        """
        kind = check_kind(kind, writing=True)
        entity_id = check_entity_id(id)
        title = check_title(title, self._scope)
        parent_key = parse_parent(parent)
        attrs, _ = _json.check_object(
            attributes, name="attributes", limit=self._scope.limits.metadata_bytes
        )
        scope = self._scope
        dialect = scope.store.dialect
        events = Events(scope)
        creator = party(actor, "actor", Actor, ACTOR_LIMITS, scope.limits.text_chars)

        def work(conn: Any) -> None:
            now = to_micros(scope.clock())
            definition = sql.machine_get(conn, scope.project_id, kind)
            initial = None if definition is None else definition.get("initial")
            created = sql.entity_create(
                conn,
                dialect,
                {
                    "project_id": scope.project_id,
                    "kind": kind,
                    "entity_id": entity_id,
                    "title": title,
                    "attributes": attrs,
                    "state": initial,
                    "state_since": now,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            if created is not None and initial is not None:
                # The move that created it in its initial state, as transition() records it.
                creation = Move(
                    kind, entity_id, initial, creator, None, None, title, None, None, now
                )
                apply_moves(scope, conn, [creation])
            elif created is not None:
                event = events.prepare(
                    [
                        {
                            "event_type": kind,
                            "action": "created",
                            "actor": _actor(creator),
                            "target": Target(kind, entity_id, title),
                            "occurred_at": from_micros(now),
                        }
                    ]
                )
                events.write_prepared(conn, event, check_types=False)
            row = sql.entity_lock_many(conn, dialect, scope.project_id, [(kind, entity_id)])[0]
            changes: dict[str, Any] = {"updated_at": now}
            if title is not None:
                changes["title"] = title
            if attrs is not None:
                changes["attributes"] = attrs
            if parent_key is not None:
                changes["parent_pk"] = resolve_parent(
                    conn, scope, kind, entity_id, parent_key, row.pk
                )
            sql.entity_update(conn, row.pk, changes)

        scope.store.retrying(work)
        scope.store.notifier.publish("events", "states")
        return self.get(kind, entity_id)

    def delete(
        self, kind: str, id: str | int, *, actor: Actor | Mapping[str, Any] | None = None
    ) -> int:
        """Delete an entity and its history; an event (action ``deleted``) records it.

        Its children stay, without a parent. Returns how many transitions went.
        """
        kind = check_kind(kind, writing=True)
        entity_id = check_entity_id(id)
        scope = self._scope
        events = Events(scope)

        def work(conn: Any) -> int:
            rows = sql.entity_lock_many(
                conn, scope.store.dialect, scope.project_id, [(kind, entity_id)]
            )
            if not rows:
                raise NotFound(f"{kind}/{entity_id} not found in project {scope.project!r}")
            removed = sql.entity_delete(conn, scope.project_id, kind, entity_id)
            event = events.prepare(
                [
                    {
                        "event_type": kind,
                        "action": "deleted",
                        "actor": actor,
                        "target": Target(kind, entity_id, rows[0].title),
                        "metadata": {"from": rows[0].state, "transitions": removed},
                    }
                ]
            )
            events.write_prepared(conn, event, check_types=False)
            return removed

        removed = scope.store.retrying(work)
        scope.store.notifier.publish("events", "states")
        return removed

    # -- transitions ---------------------------------------------------------------

    def transition(
        self,
        kind: str,
        id: str | int,
        to: str,
        *,
        actor: Actor | Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | str | None = None,
        title: str | None = None,
        parent: tuple[str, str | int] | Entity | None = None,
        expected_from: str | None = None,
        occurred_at: datetime | None = None,
    ) -> Transition:
        """Move an entity to ``to``, creating it on its first move.

        Refuses a move its machine forbids (``InvalidTransition``, naming from,
        to and the allowed moves) and, with ``expected_from``, a move of an
        entity in another state (``Conflict``); either way nothing is written.
        """
        return self.transition_many(
            [
                {
                    "kind": kind,
                    "id": id,
                    "to": to,
                    "actor": actor,
                    "metadata": metadata,
                    "title": title,
                    "parent": parent,
                    "expected_from": expected_from,
                    "occurred_at": occurred_at,
                }
            ]
        )[0]

    def transition_many(
        self, moves: Iterable[Mapping[str, Any] | tuple[str, str | int, str]]
    ) -> list[Transition]:
        """Apply moves in order, atomically: every one or none. Returns them in input order.

        Each move is a mapping with the arguments of :meth:`transition` (``kind``,
        ``id``, ``to``, optional ``actor``, ``metadata``, ``title``, ``parent``,
        ``expected_from``, ``occurred_at``) or a ``(kind, id, to)`` tuple. One
        entity may move several times in a batch.
        """
        scope = self._scope
        parsed: list[Move] = []
        for index, item in enumerate(moves):
            if index >= scope.limits.batch_size:
                raise ValidationError(f"a batch holds at most {scope.limits.batch_size} moves")
            try:
                parsed.append(parse_move(scope, item))
            except ValidationError as exc:
                if index:
                    exc.details["index"] = index
                    exc.message = f"move {index}: {exc.message}"
                    exc.args = (exc.message,)
                raise
        if not parsed:
            return []
        result = scope.store.retrying(lambda conn: apply_moves(scope, conn, parsed))
        scope.store.notifier.publish("events", "states")
        return result

    # -- reading one ---------------------------------------------------------------

    def get(self, kind: str, id: str | int) -> Entity:
        """One entity with its current transition (``NotFound`` if absent)."""
        kind = check_kind(kind)
        entity_id = check_entity_id(id)
        with self._scope.store.read() as conn:
            row = sql.entity_get(conn, self._scope.project_id, kind, entity_id)
        if row is None:
            raise NotFound(f"{kind}/{entity_id} not found in project {self._scope.project!r}")
        return entity_from_row(row)

    def children(self, kind: str, id: str | int, child_kind: str | None = None) -> list[Entity]:
        """The entities whose parent is this one (of ``child_kind`` only, if given)."""
        kind = check_kind(kind)
        entity_id = check_entity_id(id)
        if child_kind is not None:
            child_kind = check_kind(child_kind)
        with self._scope.store.read() as conn:
            pk = sql.entity_pk_get(conn, self._scope.project_id, kind, entity_id)
            if pk is None:
                raise NotFound(f"{kind}/{entity_id} not found in project {self._scope.project!r}")
            rows = sql.entity_children(conn, self._scope.project_id, pk, child_kind)
        return [entity_from_row(r) for r in rows]

    def history(
        self, kind: str, id: str | int, *, after: int = 0, limit: int | None = None
    ) -> list[Transition]:
        """An entity's (or job's) moves by ``sort_key`` ascending, from ``after + 1``.

        ``NotFound`` when it has no history and no entity row.
        """
        kind = check_kind(kind)
        entity_id = check_entity_id(id)
        check_int(after, "after", 0, INT32_MAX)  # a sort_key: an INTEGER column
        if limit is not None:
            check_int(limit, "limit", 1, INT32_MAX)
        pid = self._scope.project_id
        if kind == job_moves.JOB_KIND:
            return self._job_history(entity_id, after, limit)
        # One statement (and a second only when it finds nothing): no explicit transaction.
        with self._scope.store.read_single() as conn:
            rows = tsql.transition_history(
                conn, self._scope.store.dialect, pid, kind, entity_id, after=after, limit=limit
            )
            if not rows and after == 0 and sql.entity_pk_get(conn, pid, kind, entity_id) is None:
                raise NotFound(f"{kind}/{entity_id} not found in project {self._scope.project!r}")
        return [transition_from_row(r) for r in rows]

    def _job_history(self, job_id: str, after: int, limit: int | None) -> list[Transition]:
        """A job's moves: its events (jobs keep no rows in ``transitions``)."""
        scope = self._scope
        number = int(job_id) if job_id.isdigit() and len(job_id) < 19 else None
        with scope.store.read() as conn:
            rows = (
                [] if number is None else job_moves.job_move_history(conn, scope.project_id, number)
            )
            if (
                not rows
                and after == 0
                and (
                    number is None
                    or jsql.job_get(conn, scope.store.dialect, scope.project_id, number) is None
                )
            ):
                raise NotFound(f"job/{job_id} not found in project {scope.project!r}")
        moves = [job_transition_from_row(r, i) for i, r in enumerate(rows, 1)]
        moves = [m for m in moves if m.sort_key > after]
        return moves if limit is None else moves[:limit]
