"""The service's feed pages, bounded in bytes as well as in events
(:func:`chronolog.server.feed_read.read_bounded`), on both databases: a page of large
events stops near its byte budget and the next cursor continues after the last event
it holds; a page wider than one read is read a chunk at a time, filters and all,
with no event skipped or repeated."""

from __future__ import annotations

import orjson

from chronolog import Chronolog, EventQuery
from chronolog.models import Event
from chronolog.server.feed_read import READ_CHUNK, read_bounded
from chronolog.server.routes.events import event_json


def _encode(event: Event) -> bytes:
    return orjson.dumps(event_json(event))


def _all(cl: Chronolog, *, limit: int, max_bytes: int, query: EventQuery) -> list[list[int]]:
    """Every page from the start until an empty one: the ids of each."""
    pages: list[list[int]] = []
    cursor = None
    while True:
        page = read_bounded(
            cl.feed, cursor, limit=limit, query=query, max_bytes=max_bytes, encode=_encode
        )
        assert len(page.events) == len(page.cursors) == len(page.data)
        if not page.events:
            return pages
        assert [orjson.loads(d)["id"] for d in page.data] == [e.id for e in page.events]
        pages.append([e.id for e in page.events])
        cursor = page.next_cursor


def test_a_page_of_large_events_stops_near_its_byte_budget(cl: Chronolog) -> None:
    blob = "x" * (60 * 1024)
    ids = cl.events.record_many(
        [{"event_type": "big", "action": f"a{i}", "metadata": {"blob": blob}} for i in range(40)]
    )
    budget = 256 * 1024
    pages = _all(cl, limit=1000, max_bytes=budget, query=EventQuery())
    assert [i for page in pages for i in page] == ids  # nothing skipped, nothing twice
    assert max(len(page) for page in pages) == 4  # 4 events of 61 KiB fit in 256 KiB, not 5
    assert len(pages) == 10
    # One event larger than the budget still makes a page (a reader never stalls).
    (one, *_) = _all(cl, limit=1000, max_bytes=1024, query=EventQuery())
    assert one == ids[:1]


def test_a_wide_page_is_read_a_chunk_at_a_time_with_filters(cl: Chronolog) -> None:
    count = READ_CHUNK * 2 + 50
    ids = cl.events.record_many(
        [{"event_type": "even" if i % 2 == 0 else "odd", "action": f"a{i}"} for i in range(count)]
    )
    everything = _all(cl, limit=1000, max_bytes=1 << 30, query=EventQuery())
    assert everything == [ids]  # one page of 250, read in a few statements
    evens = _all(cl, limit=1000, max_bytes=1 << 30, query=EventQuery(event_types=("even",)))
    assert evens == [ids[0::2]]
    limited = _all(cl, limit=130, max_bytes=1 << 30, query=EventQuery(event_types=("odd",)))
    assert [len(page) for page in limited] == [125]  # the odd ones, all in one page of ≤130
    assert limited[0] == ids[1::2]
    pages = _all(cl, limit=120, max_bytes=1 << 30, query=EventQuery())
    assert [len(page) for page in pages] == [120, 120, 10]  # limit holds across chunks
    assert [i for page in pages for i in page] == ids
