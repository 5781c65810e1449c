"""The scoreboard the benchmark's worker processes share with the parent: handler calls
per process, the time of each one's first call, and the start signal.

A named shared-memory block (``multiprocessing.shared_memory``), so that any
process can join it by name: the peers' children started by ``multiprocessing``
as well as ``chronolog worker`` processes started from the command line, which
find it through ``JOBS_PEERS_BOARD`` and their slot through ``JOBS_PEERS_SLOT``.

Layout (int64 words): [0] go, then per slot: calls, first call (ns since the
epoch), ready.
"""

from __future__ import annotations

import contextlib
import os
import time
from multiprocessing import shared_memory
from typing import Any

__all__ = ["Board", "join_from_env", "tick"]

_WORDS_PER_SLOT = 3


def _attach(name: str, untrack: bool) -> shared_memory.SharedMemory:
    """Join an existing block without handing it to this process's resource tracker,
    which would unlink it when this worker exits (Python < 3.13 has no ``track``).
    A ``multiprocessing`` child shares its parent's tracker: it keeps the entry."""
    try:
        return shared_memory.SharedMemory(name=name, track=False)  # type: ignore[call-arg]
    except TypeError:
        from multiprocessing import resource_tracker

        shm = shared_memory.SharedMemory(name=name)
        if untrack:
            resource_tracker.unregister(shm._name, "shared_memory")  # type: ignore[attr-defined]
        return shm


class Board:
    """Counters for ``slots`` worker processes, in a shared-memory block."""

    def __init__(self, slots: int, name: str | None = None, *, untrack: bool = True) -> None:
        size = 8 * (1 + _WORDS_PER_SLOT * slots)
        if name is None:
            self.shm = shared_memory.SharedMemory(create=True, size=size)
            self.owner = True
        else:
            self.shm = _attach(name, untrack)
            self.owner = False
        self.slots = slots
        self.words: Any = self.shm.buf.cast("q")
        if self.owner:
            for i in range(len(self.words)):
                self.words[i] = 0

    @property
    def name(self) -> str:
        return self.shm.name

    def _at(self, slot: int, word: int) -> int:
        return 1 + slot * _WORDS_PER_SLOT + word

    def calls(self) -> int:
        return sum(self.words[self._at(s, 0)] for s in range(self.slots))

    def first_call(self) -> float | None:
        """Seconds since the epoch of the earliest first call, or None."""
        firsts = [self.words[self._at(s, 1)] for s in range(self.slots)]
        started = [f for f in firsts if f]
        return min(started) / 1e9 if started else None

    def ready(self) -> int:
        return sum(self.words[self._at(s, 2)] for s in range(self.slots))

    def mark_ready(self, slot: int) -> None:
        self.words[self._at(slot, 2)] = 1

    def go(self) -> None:
        self.words[0] = 1

    def wait_go(self) -> None:
        while not self.words[0]:
            time.sleep(0.001)

    def close(self) -> None:
        self.words.release()
        self.shm.close()
        if self.owner:
            self.shm.unlink()

    def __del__(self) -> None:
        # A process that joined keeps the block mapped until it exits; release the
        # view first so the interpreter's own cleanup does not complain.
        with contextlib.suppress(AttributeError, ValueError):
            self.words.release()


_BOARD: Board | None = None
_CALLS = 0
_FIRST = 0


def join(name: str, slots: int, slot: int, *, untrack: bool = True) -> Board:
    """Join the board as ``slot`` (the handler's counters live there)."""
    global _BOARD, _CALLS, _FIRST
    board = Board(slots, name, untrack=untrack)
    _BOARD = board
    _CALLS, _FIRST = board._at(slot, 0), board._at(slot, 1)
    return board


def join_from_env() -> Board | None:
    """Join the board named in the environment (a ``chronolog worker`` process)."""
    name = os.environ.get("JOBS_PEERS_BOARD")
    if not name:
        return None
    slot = int(os.environ["JOBS_PEERS_SLOT"])
    return join(name, int(os.environ["JOBS_PEERS_SLOTS"]), slot)


def tick() -> None:
    """The no-op job body: count the call (each process owns its slot)."""
    words = _BOARD.words  # type: ignore[union-attr]
    if words[_CALLS] == 0:
        words[_FIRST] = time.time_ns()
    words[_CALLS] += 1
