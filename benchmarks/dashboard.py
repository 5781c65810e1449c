"""Dashboard page times (server side, in process) at N events vs the same pages at 10k.

    python benchmarks/dashboard.py --events 1000000 [--postgres]

Builds a store with N library-cleanup events over 30 days (through
``record_many``, so the stats rollups exist), logs in with a read token, and
times each page through the ASGI app (routing, library calls, Jinja2
rendering; no network): the median of ``--repeat`` loads. The baseline is
the same pages on a 10k-event store in the same process; the ratio shows how
a page's cost grows with the log. Target (issue 7): under 100 ms at 1M.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from contextlib import ExitStack
from datetime import timedelta
from itertools import islice

import httpx

from benchmarks._data import NOW, events
from benchmarks._dbs import postgres_url, sqlite_url
from chronolog import Chronolog
from chronolog.server import create_app
from chronolog.server.testing import SyncASGITransport

PAGES = [
    "/",
    "/activity",
    "/activity?range=all",
    "/activity?range=30d&event_types=deletion&actor_types=user",
    "/activity?range=all&q=matrix",
    "/activity?range=all&target_type=media_item&target_id=4242",
    "/charts?window=1d&group=action",
    "/charts?window=30d&group=event_type",
    "/entities",
    "/jobs",
]


def build(url: str, n: int) -> None:
    with Chronolog(url) as cl:
        stream = events(n, days=30)
        while batch := list(islice(stream, 5000)):
            cl.events.record_many(batch)
        cl.store.optimize()


def time_pages(url: str, repeat: int) -> dict[str, float]:
    clock = lambda: NOW + timedelta(minutes=1)  # noqa: E731
    out: dict[str, float] = {}
    with ExitStack() as stack:
        cl = stack.enter_context(Chronolog(url, clock=clock))
        token = cl.auth.create_token("bench", "read").secret
        transport = stack.enter_context(SyncASGITransport(create_app(cl)))
        http = stack.enter_context(httpx.Client(transport=transport, base_url="http://bench"))
        http.post("/login", data={"token": token})
        for path in PAGES:
            first = http.get(path)
            assert first.status_code == 200, (path, first.status_code)
            times = []
            for _ in range(repeat):
                start = time.perf_counter()
                http.get(path)
                times.append(time.perf_counter() - start)
            out[path] = statistics.median(times) * 1000
        # Page 2 of the log (keyset cursor).
        older = first = http.get("/activity?range=all").text
        marker = older.find('rel="next" href="')
        if marker != -1:
            href = older[marker + 17 : older.find('"', marker + 17)].replace("&amp;", "&")
            times = []
            for _ in range(repeat):
                start = time.perf_counter()
                http.get(href)
                times.append(time.perf_counter() - start)
            out["/activity (page 2, cursor)"] = statistics.median(times) * 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    db = postgres_url if args.postgres else sqlite_url
    print(f"{platform.platform()}, Python {platform.python_version()}, {db.__name__}")
    with db() as base_url, db() as big_url:
        build(base_url, 10_000)
        start = time.perf_counter()
        build(big_url, args.events)
        print(f"built {args.events} events in {time.perf_counter() - start:.0f} s")
        base = time_pages(base_url, args.repeat)
        big = time_pages(big_url, args.repeat)
    print(f"{'page':62} {'10k ms':>8} {args.events // 1000}k ms {'ratio':>6}")
    for path, ms in big.items():
        ref = base.get(path, float("nan"))
        flag = "" if ms < 100 else "  (over 100 ms)"
        print(f"{path:62} {ref:8.1f} {ms:8.1f} {ms / ref:6.1f}{flag}")


if __name__ == "__main__":
    main()
