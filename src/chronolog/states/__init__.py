"""State history (``cl.states``): entities, state machines, transitions, the timeline.

:class:`States` is the part; the value types are :class:`Entity`,
:class:`Transition`, :class:`Machine`, :class:`Timeline` and :class:`DayCount`.
The part, which needs the store, loads on first use of its name, so the HTTP
client can import the value types without SQLAlchemy (``chronolog[client]``).
"""

from typing import TYPE_CHECKING, Any

from .models import DayCount, Entity, Machine, Timeline, Transition

if TYPE_CHECKING:
    from .part import States

__all__ = ["DayCount", "Entity", "Machine", "States", "Timeline", "Transition"]


def __getattr__(name: str) -> Any:
    if name == "States":
        from .part import States

        globals()["States"] = States
        return States
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
