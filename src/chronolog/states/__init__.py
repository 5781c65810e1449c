"""State history (``cl.states``): entities, state machines, transitions, the timeline.

:class:`States` is the part; the value types are :class:`Entity`,
:class:`Transition`, :class:`Machine`, :class:`Timeline` and :class:`DayCount`.
"""

from .models import DayCount, Entity, Machine, Timeline, Transition
from .part import States

__all__ = ["DayCount", "Entity", "Machine", "States", "Timeline", "Transition"]
