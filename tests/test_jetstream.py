"""The Jetstream scenario (seed 001) end to end: every chart equals a brute-force count."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from chronolog import Chronolog
from chronolog.examples.jetstream import ACTIONS, CHARTS, DisplayPaths, JetstreamLog, display_info

ROOT = Path(__file__).resolve().parent.parent
REAL = (
    ROOT.parent
    / "shared"
    / "data"
    / "bluesky-jetstream"
    / "jsonbench_bluesky_2024-11-21_1000.jsonl"
)
SIZES = {"1h": (12, 300), "3h": (12, 900), "6h": (12, 1800), "1d": (24, 3600), "7d": (7, 86400)}


def _edges(window: str, now_us: int) -> list[int]:
    """Bucket edges in µs, computed here from scratch (UTC): the last bucket holds now."""
    count, size = SIZES[window]
    size_us = size * 1_000_000
    last = now_us // size_us * size_us
    return [last + i * size_us for i in range(-(count - 1), 2)]


def _expected(lines: list[str]) -> list[tuple[int, str]]:
    """(time_us, action) of the events the default processor accepts."""
    out = []
    for line in lines:
        try:
            event = orjson.loads(line)
            at, commit = int(event["time_us"]), event.get("commit")
            event["did"]
        except (ValueError, KeyError, TypeError):
            continue
        if not isinstance(commit, dict) or commit.get("operation") not in ACTIONS:
            continue
        record = commit.get("record")
        if commit["operation"] != "delete" and (
            not isinstance(record, dict) or record.get("$type") != commit.get("collection")
        ):
            continue
        out.append((at, commit["operation"]))
    return out


def _check_charts(log: JetstreamLog, lines: list[str], now_us: int) -> int:
    accepted = _expected(lines)
    now = datetime.fromtimestamp(0, UTC) + timedelta(microseconds=now_us)
    charts = log.charts(now=now)
    assert set(charts) == set(CHARTS)
    counted = 0
    for window, series in charts.items():
        edges = _edges(window, now_us)
        starts = [int(b.start.timestamp()) * 1_000_000 for b in series.buckets]
        assert starts == edges[:-1], window
        for i, bucket in enumerate(series.buckets):
            want = dict.fromkeys(ACTIONS, 0)
            for at, action in accepted:
                if edges[i] <= at < edges[i + 1]:
                    want[action] += 1
            assert bucket.counts == want, (window, i)
        counted = max(counted, series.total)
    return counted


def _event(at_us: int, op: str, i: int, valid: bool = True) -> str:
    collection = random.Random(i).choice(["app.bsky.feed.post", "app.bsky.feed.like"])
    commit: dict[str, object] = {"operation": op, "collection": collection, "rkey": f"k{i}"}
    if op != "delete":
        commit["record"] = {
            "$type": collection if valid else "wrong",
            "text": f"hello {i} " * 30,
            "subject": {"uri": f"at://did:plc:x/app.bsky.feed.post/{i}"},
        }
    return orjson.dumps(
        {"did": f"did:plc:u{i % 17}", "time_us": at_us, "kind": "commit", "commit": commit}
    ).decode()


def test_generated_jetstream_charts_match_brute_force_at_edges(db_url: str) -> None:
    now_us = 1_763_726_400_000_000 + 7 * 60_000_000 + 123  # a Friday, 12:07:00.000123 UTC
    rng = random.Random(5)
    times = [now_us - rng.randrange(9 * 86400 * 1_000_000) for _ in range(400)]
    for window in SIZES:  # every edge of every chart, and one µs before it
        for edge in _edges(window, now_us):
            times += [edge, edge - 1]
    lines = [
        _event(t, rng.choice(ACTIONS), i, valid=rng.random() > 0.1) for i, t in enumerate(times)
    ]
    lines += ["{not json", '{"did": "did:plc:a"}', "[1, 2]", ""]
    now = datetime.fromtimestamp(0, UTC) + timedelta(microseconds=now_us)
    with Chronolog(db_url, clock=lambda: now) as cl:
        log = JetstreamLog(cl, batch_size=97)
        outcome = log.ingest(lines)
        assert sum(outcome.values()) == len(lines) - 1
        assert outcome["validation_error"] >= 3
        assert _check_charts(log, lines, now_us) > 0
        recent = log.recent(hours=3)
        assert recent
        assert all(e.occurred_at >= now - timedelta(hours=3) for e in recent)
        total = cl.events.query(date_range="all", with_total=True).total
        assert len(log.recent(hours=24 * 30)) == min(1000, total or 0)
        assert len(log.recent(hours=24 * 30, limit=250)) == 250  # the cap holds across pages
        assert cl.events.query(statuses="processing", with_total=True).total == 0
        before = log.charts(now=now)
        assert log.cleanup(hours=2) > 0
        assert log.charts(now=now) == before  # rollups outlive the raw rows
        assert log.delete_all() > 0
        assert all(s.total == 0 for s in log.charts(now=now).values())


def test_display_info_paths() -> None:
    event = orjson.loads(_event(1, "create", 3))
    info = display_info(event)
    assert info["subject"] == "at://did:plc:x/app.bsky.feed.post/3"
    assert info["text"] is not None
    assert len(info["text"]) == 120
    assert info["handle"] is None
    custom = DisplayPaths(handle=("did",), text=("commit.rkey",), subject=("nope",))
    assert display_info(event, custom) == {"handle": "did:plc:u3", "text": "k3", "subject": None}


def test_real_jetstream_sample(db_url: str) -> None:
    if not REAL.exists():
        pytest.skip(f"real Jetstream sample not present at {REAL} (licence forbids committing it)")
    lines = REAL.read_text(encoding="utf-8").splitlines()
    now_us = max(int(orjson.loads(line)["time_us"]) for line in lines)
    now = datetime.fromtimestamp(0, UTC) + timedelta(microseconds=now_us)
    with Chronolog(db_url, clock=lambda: now) as cl:
        log = JetstreamLog(cl)
        outcome = log.ingest(lines)
        assert sum(outcome.values()) == len(lines)
        assert _check_charts(log, lines, now_us) == len(_expected(lines))
        shown = [e for e in log.recent(hours=1) if e.target and e.target.title]
        assert shown  # text snippets extracted from real posts
