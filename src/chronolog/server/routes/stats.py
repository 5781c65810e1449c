"""Routes of the charts: ``GET /api/v1/stats``."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from ..._time import parse_duration
from ...query import EventQuery
from ...stats import WINDOWS, Series
from ..deps import Context, require
from ..query import QueryParams, query_dep
from ..schemas import ERROR_RESPONSES

__all__ = ["router", "series_json"]

router = APIRouter(prefix="/stats", tags=["stats"], responses=ERROR_RESPONSES)


class BucketOut(BaseModel):
    """One bucket ``[start, end)``: counts per group (every group, zeros included) and total."""

    start: datetime
    end: datetime
    counts: dict[str, int]
    total: int


class SeriesOut(BaseModel):
    """A zero-filled chart, oldest bucket first."""

    window: str | None
    bucket_seconds: int
    tz: str
    group_by: str | None
    groups: list[str]
    total: int
    buckets: list[BucketOut]


def _bucket_seconds(series: Series, window: str | None, bucket: str | None) -> int:
    """The nominal bucket size (a calendar day is 86400 even when DST makes it 23 or 25 h)."""
    if window is not None:
        return int(WINDOWS[window][1].total_seconds())
    if bucket is not None:
        return int(parse_duration(bucket, "bucket").total_seconds())
    lengths = Counter(int((b.end - b.start).total_seconds()) for b in series.buckets)
    return lengths.most_common(1)[0][0] if lengths else 0


def series_json(series: Series, bucket_seconds: int) -> dict[str, Any]:
    """A series as the route returns it."""
    body = series.to_dict()
    body["bucket_seconds"] = bucket_seconds
    return body


class StatsParams(QueryParams):
    """The chart's window or bucket, grouping and time zone."""

    window: str | None = Field(
        default=None, max_length=16, description="1h, 3h, 6h, 1d, 7d or 30d."
    )
    group_by: str | None = Field(
        default=None,
        max_length=32,
        description="action, event_type, status, actor_type, target_type.",
    )
    tz: str | None = Field(
        default=None, max_length=64, description="IANA time zone, e.g. Europe/Paris."
    )
    bucket: str | None = Field(
        default=None, max_length=16, description="Bucket size with since: 15m, 1h, 1d …"
    )


StatsQuery = Annotated[tuple[EventQuery, StatsParams], query_dep(EventQuery, StatsParams)]


@router.get("", response_model=SeriesOut)
def stats_buckets(
    ctx: Annotated[Context, Depends(require("read"))], found: StatsQuery
) -> dict[str, Any]:
    """Counts of events per bucket, zero-filled, with the filters of ``cl.stats.buckets``.
    An unknown query parameter is a 422 naming it."""
    query, p = found
    window, group_by, tz, bucket = p.window, p.group_by, p.tz, p.bucket
    series = ctx.cl.stats.buckets(
        window,
        group_by=group_by,
        query=query,
        tz=tz,
        bucket=bucket,
    )
    return series_json(series, _bucket_seconds(series, window, bucket))
