"""The disc-ripping pipeline (seed 003) on chronolog: movies, TV seasons and their discs.

The seed keyed media items by ``UNIQUE(safe_name, season)`` with ``season``
NULL for movies. SQL treats NULLs as distinct, so that key never stopped two
rows for the same movie. Here the key is the entity's (kind, id), and no
part of it can be NULL:

* a movie is ``("movie", "<safe name>")``;
* a TV season is ``("season", "<safe name>/s<NN>")``;
* a disc is ``("disc", "<season id>/d<N>")``, a child of its season, with
  its own small machine (pending → ripped | failed, failed → pending).

So adding "Heat" twice, or season 1 of "Dark" twice, finds the one entity
that exists. The landing view ("active only") is ``cl.states.active()``;
a season's progress is the states of its discs. Jobs (rip, remux,
transcode, filebot) and their logs come with chronolog's job queue.

Run it: ``python examples/rip_pipeline.py [sqlite:///pipeline.db]``.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from typing import Any

from chronolog import Actor, Chronolog, Conflict, Entity, InvalidTransition, Page, ValidationError

STAGES = ("rip", "remux", "transcode", "filebot")
"""The pipeline's stages, in order; each has a running and a finished state."""

MEDIA_MACHINE: dict[str, Any] = {
    "states": [
        "created",
        "ripping",
        "ripped",
        "remuxing",
        "remuxed",
        "transcoding",
        "transcoded",
        "filing",
        "done",
        "failed",
    ],
    "transitions": {
        "created": ["ripping"],
        "ripping": ["ripped", "failed"],
        "ripped": ["remuxing"],
        "remuxing": ["remuxed", "failed"],
        "remuxed": ["transcoding"],
        "transcoding": ["transcoded", "failed"],
        "transcoded": ["filing"],
        "filing": ["done", "failed"],
        "failed": ["ripping", "remuxing", "transcoding", "filing"],  # retry a stage
    },
    "initial": "created",
    "terminal": ["done"],
}
DISC_MACHINE: dict[str, Any] = {
    "states": ["pending", "ripped", "failed"],
    "transitions": {"pending": ["ripped", "failed"], "failed": ["pending"]},
    "initial": "pending",
    "terminal": ["ripped"],
}

USER = Actor("user", "tui", "TUI")


def define_machines(cl: Chronolog) -> None:
    """Store the pipeline's machines: movie and season share one, discs have theirs."""
    cl.states.define("movie", **MEDIA_MACHINE)
    cl.states.define("season", **MEDIA_MACHINE)
    cl.states.define("disc", **DISC_MACHINE)


def safe_name(name: str) -> str:
    """The seed's ``safe_name``: ASCII, lower case, words joined by ``-``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    if not slug:
        raise ValidationError(f"name {name!r} has no letters or digits to build a key from")
    return slug


def media_key(name: str, season: int | None = None) -> tuple[str, str]:
    """The (kind, id) of a movie (no season) or of one TV season: never NULL anywhere."""
    if season is None:
        return "movie", safe_name(name)
    if isinstance(season, bool) or not isinstance(season, int) or not 0 <= season < 1000:
        raise ValidationError(f"season must be a number from 0 to 999, got {season!r}")
    return "season", f"{safe_name(name)}/s{season:02}"


def add_media(cl: Chronolog, name: str, season: int | None = None) -> Entity:
    """The TUI's "New" form: track a movie or one TV season (``Conflict`` if already tracked)."""
    kind, ident = media_key(name, season)
    title = name if season is None else f"{name} season {season}"
    try:
        cl.states.transition(kind, ident, "created", title=title, actor=USER)
    except InvalidTransition as exc:  # only a tracked item can refuse "→ created"
        raise Conflict(
            f"{title} is already tracked as {kind}/{ident} (now {exc.details['from_state']})"
        ) from None
    return cl.states.upsert(
        kind,
        ident,
        attributes={"type": "movie" if season is None else "tv", "name": name, "season": season},
    )


def add_disc(cl: Chronolog, name: str, season: int, disc: int) -> Entity:
    """The TUI's "Add disc" form: a disc of a TV season, pending until ripped."""
    if isinstance(disc, bool) or not isinstance(disc, int) or not 1 <= disc <= 99:
        raise ValidationError(f"disc must be a number from 1 to 99, got {disc!r}")
    parent = media_key(name, season)
    ident = f"{parent[1]}/d{disc}"
    try:
        cl.states.transition("disc", ident, "pending", parent=parent, title=f"disc {disc}")
    except InvalidTransition:
        raise Conflict(f"disc {disc} of {parent[1]} is already tracked") from None
    return cl.states.get("disc", ident)


def rip_disc(cl: Chronolog, name: str, season: int, disc: int, *, ok: bool) -> None:
    """Record a disc's rip; the season is ripped once every disc is."""
    kind, season_id = media_key(name, season)
    cl.states.transition(
        "disc",
        f"{season_id}/d{disc}",
        "ripped" if ok else "failed",
        actor=Actor("worker", "ripper-1", "ripper"),
        metadata=None if ok else {"error": "read error at sector 1183744"},
    )
    ripped, total = season_progress(cl, name, season)
    if ripped == total and cl.states.get(kind, season_id).state == "ripping":
        cl.states.transition(kind, season_id, "ripped", actor=Actor("worker", "ripper-1", "ripper"))


def season_progress(cl: Chronolog, name: str, season: int) -> tuple[int, int]:
    """(discs ripped, discs tracked) of a season: its disc grid."""
    discs = cl.states.children(*media_key(name, season), child_kind="disc")
    return sum(d.state == "ripped" for d in discs), len(discs)


def landing(cl: Chronolog, *, show_all: bool = False) -> Page[Entity]:
    """The landing view: items in progress or needing action ([Tab] toggles all)."""
    if show_all:
        return cl.states.entities(limit=100)
    return cl.states.active(limit=100)


def build_demo(cl: Chronolog) -> None:
    """A movie through the whole pipeline, another failing its transcode, a season mid-rip."""
    define_machines(cl)
    add_media(cl, "Heat")
    for stage in ("ripping", "ripped", "remuxing", "remuxed", "transcoding", "transcoded"):
        cl.states.transition("movie", "heat", stage, actor=USER)
    cl.states.transition("movie", "heat", "filing", actor=USER)
    cl.states.transition("movie", "heat", "done", actor=Actor("worker", "filebot", "filebot"))
    add_media(cl, "Amélie")
    for stage in ("ripping", "ripped", "remuxing", "remuxed", "transcoding"):
        cl.states.transition("movie", "amelie", stage, actor=USER)
    cl.states.transition(
        "movie", "amelie", "failed", metadata={"stage": "transcode", "error": "ffmpeg exit 1"}
    )
    add_media(cl, "Dark", season=1)
    for disc in (1, 2, 3):
        add_disc(cl, "Dark", 1, disc)
    cl.states.transition("season", "dark/s01", "ripping", actor=USER)
    rip_disc(cl, "Dark", 1, 1, ok=True)
    rip_disc(cl, "Dark", 1, 2, ok=False)


def main(url: str = "sqlite:///pipeline.db") -> None:
    """Build the demo and print the landing view."""
    with Chronolog(url) as cl:
        build_demo(cl)
        for item in landing(cl).items:
            print(f"{item.kind:7} {item.id:14} {item.state}")
        print("Dark season 1 discs ripped:", season_progress(cl, "Dark", 1))


if __name__ == "__main__":
    main(*sys.argv[1:2])
