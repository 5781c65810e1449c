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
PALETTE_SIZE = 8
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


def build_chart(series: Series, zone: tzinfo, href: Callable[[str, str], str]) -> Chart:
    """Lay out ``series``; ``href(since_iso, until_iso)`` links a bucket to the log."""
    buckets = series.buckets
    groups = list(series.groups) or ["events"]
    colour = {g: i % PALETTE_SIZE for i, g in enumerate(groups)}
    if series.group_by == "status":
        # Statuses keep their meaning across charts: green for success, red for errors.
        colour.update({g: STATUS_COLOURS[g] for g in groups if g in STATUS_COLOURS})
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
        for group in groups:
            count = counts.get(group, 0)
            if not count:
                continue
            h = plot_h * count / maximum
            y -= h
            segments.append(Segment(group or "(none)", count, y, h, colour[group]))
        fmt = "%a %b %d" if days else "%H:%M"
        span = f"{start.strftime(fmt)} to {end.strftime(fmt)}"
        lines = [f"{span}: {bucket.total} events"]
        lines += [f"{s.group}: {s.count}" for s in reversed(segments)]
        label = start.strftime("%b %d" if days else "%H:%M") if i % every == 0 else None
        bars.append(
            Bar(
                x=LEFT + i * slot + gap / 2,
                width=max(slot - gap, 1.0),
                total=bucket.total,
                segments=tuple(segments),
                href=href(start.isoformat(timespec="seconds"), end.isoformat(timespec="seconds")),
                title="\n".join(lines),
                label=label,
            )
        )
    legend = tuple((g or "(none)", colour[g]) for g in groups) if series.group_by else ()
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
