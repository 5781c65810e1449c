"""The no-op handler ``chronolog worker`` runs in the peers benchmark.

``chronolog worker benchmarks.peers.handlers:HANDLERS …`` imports this module
before it starts working: it joins the benchmark's scoreboard, says it is
ready, and waits for the start signal, so that every worker process starts
together (the parent starts the clock at the first handler call).
"""

from __future__ import annotations

from typing import Any

from benchmarks.peers.board import join_from_env, tick

_board = join_from_env()
if _board is not None:
    import os

    _board.mark_ready(int(os.environ["JOBS_PEERS_SLOT"]))
    _board.wait_go()


def noop(ctx: Any) -> None:
    """Count the call; nothing else."""
    tick()


HANDLERS = {"noop": noop}
