"""The promises of the state history under random and concurrent use.

* Hypothesis (stateful): random sequences of allowed and forbidden moves,
  batches, ``expected_from`` checks and deletes keep one ``most_recent`` row
  per entity, ``sort_key`` contiguous from 1, ``from_state`` chained, the
  current state equal to the last ``to_state``, and change nothing when refused.
* Concurrency: several processes (and threads) move the same entities at once.
"""

from __future__ import annotations

import itertools
import multiprocessing
import random
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select

from chronolog import Chronolog, Conflict, InvalidTransition, NotFound
from chronolog.store.schema import entities, transitions

STATES = ["a", "b", "c", "d"]
MOVES = {"a": ["b", "c"], "b": ["c", "d"], "c": ["a"]}
IDS = ["e0", "e1", "e2"]
_runs = itertools.count()


def check_invariants(cl: Chronolog, kind: str) -> dict[str, list[tuple[str | None, str]]]:
    """Assert the history invariants for every entity of ``kind``; return the histories."""
    pid = cl.scope.project_id
    with cl.store.read() as conn:
        rows = conn.execute(
            select(
                transitions.c.entity_id,
                transitions.c.sort_key,
                transitions.c.from_state,
                transitions.c.to_state,
                transitions.c.most_recent,
                transitions.c.event_id,
            )
            .where(transitions.c.project_id == pid, transitions.c.kind == kind)
            .order_by(transitions.c.entity_id, transitions.c.sort_key)
        ).all()
        current = dict(
            conn.execute(
                select(entities.c.entity_id, entities.c.state).where(
                    entities.c.project_id == pid, entities.c.kind == kind
                )
            ).all()
        )
    histories: dict[str, list[tuple[str | None, str]]] = {}
    by_entity: dict[str, list[Any]] = {}
    for row in rows:
        by_entity.setdefault(row.entity_id, []).append(row)
    for entity_id, moves in by_entity.items():
        assert [m.sort_key for m in moves] == list(range(1, len(moves) + 1)), entity_id
        assert [m.most_recent for m in moves] == [False] * (len(moves) - 1) + [True]
        for before, after in itertools.pairwise(moves):
            assert after.from_state == before.to_state
        assert current[entity_id] == moves[-1].to_state
        assert all(m.event_id is not None for m in moves)
        histories[entity_id] = [(m.from_state, m.to_state) for m in moves]
    return histories


class History(RuleBasedStateMachine):
    """Model: per entity the list of (from, to) moves; None when deleted / never made."""

    url: str = ""

    def __init__(self) -> None:
        super().__init__()
        self.cl = Chronolog(self.url)
        self.kind = f"thing{next(_runs)}"
        self.cl.states.define(self.kind, STATES, MOVES, initial="a", terminal=["d"])
        self.model: dict[str, list[tuple[str | None, str]]] = {}

    def teardown(self) -> None:
        self.cl.close()

    def _state(self, entity_id: str) -> str | None:
        history = self.model.get(entity_id)
        return history[-1][1] if history else None

    def _plan(self, moves: list[tuple[str, str]]) -> dict[str, list[tuple[str | None, str]]] | None:
        """The model after ``moves`` applied atomically, or None if one is forbidden."""
        model = {k: list(v) for k, v in self.model.items()}
        for entity_id, to in moves:
            history = model.setdefault(entity_id, [])
            state = history[-1][1] if history else None
            if state is None:  # created in the initial state "a"
                if to == "a":
                    history.append((None, "a"))
                    continue
                state = "a"
            if to not in MOVES.get(state, []):
                return None
            history.append((state, to))
        return model

    @rule(entity_id=st.sampled_from(IDS), to=st.sampled_from([*STATES, "zz"]))
    def move(self, entity_id: str, to: str) -> None:
        self.batch([(entity_id, to)])

    @rule(
        moves=st.lists(
            st.tuples(st.sampled_from(IDS), st.sampled_from(STATES)), min_size=1, max_size=5
        )
    )
    def batch(self, moves: list[tuple[str, str]]) -> None:
        planned = self._plan(moves)
        if planned is None:
            with pytest.raises(InvalidTransition):
                self.cl.states.transition_many([(self.kind, e, to) for e, to in moves])
            return
        done = self.cl.states.transition_many([(self.kind, e, to) for e, to in moves])
        assert [(t.entity_id, t.to_state) for t in done] == moves
        self.model = planned

    @rule(entity_id=st.sampled_from(IDS), to=st.sampled_from(STATES), guess=st.sampled_from(STATES))
    def move_expecting(self, entity_id: str, to: str, guess: str) -> None:
        actual = self._state(entity_id) or "a"
        planned = self._plan([(entity_id, to)])
        if guess != actual:
            with pytest.raises(Conflict):
                self.cl.states.transition(self.kind, entity_id, to, expected_from=guess)
        elif planned is None:
            with pytest.raises(InvalidTransition):
                self.cl.states.transition(self.kind, entity_id, to, expected_from=guess)
        else:
            self.cl.states.transition(self.kind, entity_id, to, expected_from=guess)
            self.model = planned

    @rule(entity_id=st.sampled_from(IDS))
    def delete(self, entity_id: str) -> None:
        try:
            self.cl.states.delete(self.kind, entity_id)
        except NotFound:
            assert entity_id not in self.model
        else:
            self.model.pop(entity_id, None)

    @invariant()
    def histories_match_the_model(self) -> None:
        histories = check_invariants(self.cl, self.kind)
        assert histories == {k: v for k, v in self.model.items() if v}


def test_random_moves_keep_the_invariants(db_url: str) -> None:
    History.url = db_url
    run_state_machine_as_test(
        History,
        settings=settings(
            max_examples=20,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


# -- concurrency --------------------------------------------------------------------

WRITERS = 4
MOVES_EACH = 12
SHARED = ["s0", "s1", "s2"]


def _writer(args: tuple[str, int]) -> int:
    url, seed = args
    rng = random.Random(seed)
    done = 0
    with Chronolog(url) as cl:
        for n in range(MOVES_EACH):
            entity_id = rng.choice(SHARED)
            if n % 5 == 4:  # now and then a batch touching several entities, in any order
                cl.states.transition_many(
                    [("race", e, f"w{seed}-{n}") for e in rng.sample(SHARED, 3)]
                )
                done += 3
            else:
                cl.states.transition("race", entity_id, f"w{seed}-{n}")
                done += 1
            # a brand-new entity every writer creates at the same moment
            cl.states.transition("race", f"fresh{n}", f"w{seed}")
            done += 1
    return done


def _check_race(url: str, total: int) -> None:
    with Chronolog(url) as cl:
        histories = check_invariants(cl, "race")
        assert sum(len(h) for h in histories.values()) == total
        assert cl.events.query(event_types=["race"], limit=1).total == total


def test_processes_moving_the_same_entities(db_url: str) -> None:
    Chronolog(db_url).close()  # migrated already; opens once so children find it ready
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(WRITERS) as pool:
        done = pool.map(_writer, [(db_url, seed) for seed in range(WRITERS)])
    _check_race(db_url, sum(done))


def test_threads_moving_the_same_entities(db_url: str, backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite serialises writers per file; the process test covers it")
    results: list[int] = []
    errors: list[BaseException] = []

    def run(seed: int) -> None:
        try:
            results.append(_writer((db_url, seed)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(seed,)) for seed in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    _check_race(db_url, sum(results))
