"""Text the screens share: state colours, pipeline progress, ages, job summaries.

Everything returns Rich ``Text`` with named styles, so Textual degrades the
colours on a 16-colour or monochrome terminal (and honours ``NO_COLOR``);
progress bars use block characters that read without colour too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.text import Text

from ..jobs import Job
from ..states import Entity, Machine

__all__ = [
    "age",
    "bar",
    "main_path",
    "progress",
    "state_style",
    "state_text",
]

_GOOD = {"done", "completed", "ripped", "transcoded", "remuxed", "succeeded", "success"}
_BAD = {"failed", "error", "cancelled", "lost"}
_WAITING = {"created", "pending", "queued", "new", "waiting"}


def state_style(state: str | None, machine: Machine | None = None) -> str:
    """The style of a state: green when finished, red when failed, yellow while working."""
    if state is None:
        return "dim"
    if state in _BAD:
        return "bold red"
    if state in _GOOD or (machine is not None and state in machine.terminal):
        return "green"
    if state in _WAITING:
        return "cyan"
    return "yellow"


def state_text(state: str | None, machine: Machine | None = None) -> Text:
    """A state name in its style (``-`` for no state yet)."""
    return Text(state or "-", style=state_style(state, machine))


def main_path(machine: Machine) -> list[str]:
    """The pipeline a progress bar measures: the states in the order the machine declares
    them, up to its first terminal state, leaving out states whose every move leads back
    to an earlier state (``failed``: those count at the state the entity left).

    Not the shortest path of moves: a retry shortcut (``failed → filing``)
    would cut the pipeline short.
    """
    order = {state: i for i, state in enumerate(machine.states)}
    path: list[str] = []
    for i, state in enumerate(machine.states):
        moves = machine.transitions.get(state, ())
        if moves and all(order[m] < i for m in moves) and state not in machine.terminal:
            continue  # a way back, not a step forward
        path.append(state)
        if state in machine.terminal:
            break
    return path


def progress(entity: Entity, machine: Machine | None, jobs: Sequence[Job] = ()) -> float | None:
    """How far along an entity is, 0..1: its place on its machine's main path, else the
    share of its jobs completed; ``None`` when neither says anything."""
    if machine is not None and entity.state is not None:
        path = main_path(machine)
        state: str | None = entity.state
        if state not in path and entity.current is not None:
            state = entity.current.from_state
        if state in path and len(path) > 1:
            return path.index(state) / (len(path) - 1)
        return 0.0
    if jobs:
        return sum(j.state == "completed" for j in jobs) / len(jobs)
    return None


def bar(fraction: float | None, width: int = 12, *, failed: bool = False) -> Text:
    """A progress bar of block characters, e.g. ``██████░░░░░░ 50%``."""
    if fraction is None:
        return Text("·" * width, style="dim")
    fraction = min(max(fraction, 0.0), 1.0)
    full = round(fraction * width)
    style = "red" if failed else ("green" if fraction >= 1.0 else "blue")
    text = Text("█" * full, style=style)
    text.append("░" * (width - full), style="dim")
    text.append(f" {round(fraction * 100):3d}%")
    return text


def age(then: datetime | None, now: datetime) -> str:
    """How long ago, in the largest unit: ``42s``, ``5m``, ``3h``, ``2d``."""
    if then is None:
        return "-"
    seconds = int((now - then).total_seconds())
    if seconds < 0:
        return "in " + age(now, then)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def clock(value: datetime | None) -> str:
    """A UTC timestamp for tables: ``2026-11-21 09:52:04``."""
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")
