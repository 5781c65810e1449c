"""Stacked bar charts as inline SVG, computed server-side (no chart library).

Each bucket is a link to the activity log filtered to its time range, with a
``<title>`` (the browser's tooltip, and what screen readers announce) that
lists the counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo

from ...stats import Series

__all__ = ["Bar", "Chart", "Segment", "build_chart"]

WIDTH = 720
HEIGHT = 220
LEFT = 36
BOTTOM = 24
TOP = 8
PALETTE = (0, 1, 2, 3, 4, 5, 6, 8, 9)
"""The colours (CSS classes ``c0`` … ``c9``) a chart gives its groups, each at most once."""
OTHER = 7
"""The grey of the "other" segment, where more groups than colours are merged."""
STATUS_COLOURS = {
    "success": 1,
    "succeeded": 1,
    "completed": 1,
    "error": 3,
    "failed": 3,
    "discarded": 3,
    "processing": 0,
    "running": 0,
    "pending": 6,
    "cancelled": 7,
}
"""A status keeps its meaning's colour across charts (the first of synonyms gets it)."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One group's slice of a bar."""

    group: str
    count: int
    y: float
    height: float
    colour: int


@dataclass(frozen=True, slots=True)
class Bar:
    """One bucket: its place, its stacked segments, its link and tooltip."""

    x: float
    width: float
    total: int
    segments: tuple[Segment, ...]
    href: str
    title: str
    label: str | None
    minor: bool = False


@dataclass(frozen=True, slots=True)
class Chart:
    """Everything the template needs to draw a series."""

    width: int
    height: int
    left: int
    top: int
    plot_bottom: float
    maximum: int
    bars: tuple[Bar, ...]
    legend: tuple[tuple[str, int], ...]
    total: int


def _nice(n: int) -> int:
    """A round axis maximum at or above ``n``."""
    if n <= 5:
        return max(n, 1)
    magnitude = 10 ** (len(str(n)) - 1)
    for step in (1, 2, 2.5, 5, 10):
        top = int(step * magnitude)
        if top >= n:
            return top
    return n


def _shown_groups(series: Series) -> tuple[list[str], list[str]]:
    """The groups drawn on their own (in the series' order) and those merged into "other":
    beyond as many groups as there are colours, the smallest go together."""
    groups = list(series.groups) or ["events"]
    if len(groups) <= len(PALETTE) + 1:  # "other"'s grey is free for a tenth group
        return groups, []
    totals = {g: sum(b.counts.get(g, 0) for b in series.buckets) for g in groups}
    keep = set(sorted(groups, key=lambda g: (-totals[g], g))[: len(PALETTE)])
    return [g for g in groups if g in keep], [g for g in groups if g not in keep]


def _colours(groups: list[str], *, status: bool, other: bool) -> dict[str, int]:
    """One colour per group, never two groups in one: statuses first take their meaning's
    colour (green success, red error), the others the free colours in order."""
    free = [*PALETTE] + ([] if other else [OTHER])
    colour: dict[str, int] = {}
    if status:
        for group in groups:
            fixed = STATUS_COLOURS.get(group)
            if fixed is not None and fixed in free:
                colour[group] = fixed
                free.remove(fixed)
    for group in groups:
        if group not in colour:
            colour[group] = free.pop(0)
    return colour


def build_chart(series: Series, zone: tzinfo, href: Callable[[str, str], str]) -> Chart:
    """Lay out ``series``; ``href(since_iso, until_iso)`` links a bucket to the log."""
    buckets = series.buckets
    groups, merged = _shown_groups(series)
    colour = _colours(groups, status=series.group_by == "status", other=bool(merged))
    other = f"other ({len(merged)})" if merged else None
    maximum = _nice(max((b.total for b in buckets), default=0))
    plot_h = HEIGHT - TOP - BOTTOM
    n = max(len(buckets), 1)
    slot = (WIDTH - LEFT) / n
    gap = min(4.0, slot * 0.2)
    days = (
        len(buckets) > 1 and (buckets[1].start - buckets[0].start).total_seconds() >= 86400 - 7200
    )
    every = max(1, n // 8)
    bars = []
    for i, bucket in enumerate(buckets):
        start, end = bucket.start.astimezone(zone), bucket.end.astimezone(zone)
        counts = bucket.counts if series.group_by else {"events": bucket.total}
        y = float(TOP + plot_h)
        segments = []
        parts = [(g or "(none)", counts.get(g, 0), colour[g]) for g in groups]
        if other is not None:
            parts.append((other, sum(counts.get(g, 0) for g in merged), OTHER))
        for name, count, shade in parts:
            if not count:
                continue
            h = plot_h * count / maximum
            y -= h
            segments.append(Segment(name, count, y, h, shade))
        fmt = "%a %b %d" if days else "%H:%M"
        span = f"{start.strftime(fmt)} to {end.strftime(fmt)}"
        lines = [f"{span}: {bucket.total} events"]
        lines += [f"{s.group}: {s.count}" for s in reversed(segments)]
        label = start.strftime("%b %d" if days else "%H:%M") if i % every == 0 else None
        minor = (i // every) % 2 == 1  # hidden at phone width, where labels are larger
        bars.append(
            Bar(
                x=LEFT + i * slot + gap / 2,
                width=max(slot - gap, 1.0),
                total=bucket.total,
                segments=tuple(segments),
                href=href(start.isoformat(timespec="seconds"), end.isoformat(timespec="seconds")),
                title="\n".join(lines),
                label=label,
                minor=minor,
            )
        )
    legend: tuple[tuple[str, int], ...] = ()
    if series.group_by:
        legend = tuple((g or "(none)", colour[g]) for g in groups)
        if other is not None:
            legend += ((f"{other}: {', '.join(g or '(none)' for g in merged)}", OTHER),)
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        top=TOP,
        plot_bottom=float(TOP + plot_h),
        maximum=maximum,
        bars=tuple(bars),
        legend=legend,
        total=series.total,
    )
