"""Per-kind settings of the TUI: stage keys, child kind, the number a form asks for.

The defaults serve the ripping pipeline (movie, TV season and its discs); a
kind without a profile gets the default stage keys and a plain form. Pass
your own mapping to :class:`~chronolog.tui.ChronologApp` for other pipelines.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import ValidationError
from ..states import Machine

__all__ = ["DEFAULT_PROFILES", "DEFAULT_STAGES", "KindProfile", "slug", "stage_keys"]

DEFAULT_STAGES: Mapping[str, str] = {"r": "rip", "m": "remux", "t": "transcode"}
"""Key → job kind (and queue) enqueued from the entity detail view."""


@dataclass(frozen=True, slots=True)
class KindProfile:
    """How the TUI treats one kind.

    ``stages`` maps a key to the job kind it enqueues; ``None`` (the default)
    offers the :data:`DEFAULT_STAGES` whose stage the kind's machine has (a
    ``ripping`` or ``ripped`` state for ``rip``), see :func:`stage_keys`. ``child_kind`` is what
    ``a`` adds to an entity of this kind (a disc to a season). ``number`` names
    a number the create form asks for; the id becomes ``<base>/<prefix><n>``
    (base: the parent's id, or the title's slug) and the attributes hold it.
    """

    stages: Mapping[str, str] | None = None
    child_kind: str | None = None
    number: str | None = None
    prefix: str = ""
    digits: int = 1
    title_format: str | None = None
    """e.g. ``"{title} season {n}"``: the stored title of a numbered entity."""


DEFAULT_PROFILES: Mapping[str, KindProfile] = {
    "movie": KindProfile(),
    "season": KindProfile(
        child_kind="disc",
        number="season",
        prefix="s",
        digits=2,
        title_format="{title} season {n}",
    ),
    "disc": KindProfile(stages={"r": "rip"}, number="disc", prefix="d", title_format="disc {n}"),
}


def _has_stage(states: tuple[str, ...], stage: str) -> bool:
    stem = stage.removesuffix("e")  # transcode → transcoding, transcoded
    return any(s == stage or s.startswith(stem) for s in states)


def stage_keys(profile: KindProfile, machine: Machine | None) -> dict[str, str]:
    """The stage keys an entity of this kind is offered: the profile's own, as given;
    else those of :data:`DEFAULT_STAGES` whose stage its machine has a state for (a
    kind without a machine, or whose machine has no such states, gets none)."""
    if profile.stages is not None:
        return dict(profile.stages)
    if machine is None:
        return {}
    return {key: job for key, job in DEFAULT_STAGES.items() if _has_stage(machine.states, job)}


def slug(text: str) -> str:
    """An id from a title: ASCII, lower case, words joined by ``-`` (as the seed's safe_name)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    value = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if not value:
        raise ValidationError(f"{text!r} has no letters or digits to build an id from")
    return value
