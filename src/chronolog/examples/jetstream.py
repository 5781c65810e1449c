"""The Bluesky AppView activity log (seed 001) on chronolog: Jetstream in, charts out.

The seed logged every Jetstream event as ``processing`` in a hand-written
table, set ``success`` / ``error`` after handling it, drew five bucketed
charts with a recursive CTE that took seconds at 1M rows (and showed one
bucket from the future), cleaned up by age, and left the display
information (handle, text, subject) as a TODO. Here:

* :class:`JetstreamLog.ingest` reads Jetstream JSON lines from any iterable
  (a file, stdin, or a WebSocket client you plug in), logs each event as
  ``processing`` in one batch, runs your processor, and sets ``success``,
  ``error`` or ``validation_error``;
* :meth:`recent`, :meth:`charts`, :meth:`cleanup`, :meth:`delete_all` are
  the seed's queries, served by ``cl.events`` and ``cl.stats`` (rollups);
* :class:`DisplayPaths` says where the handle, text snippet and subject URI
  live in the event JSON, as dotted paths tried in order.

Run it: ``python examples/jetstream.py events.jsonl [sqlite:///jetstream.db]``
(``-`` reads stdin).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

import orjson

from chronolog import Actor, Chronolog, Event, NewEvent, Series, Target

ACTIONS = ("create", "update", "delete")
CHARTS = ("1h", "3h", "6h", "1d", "7d")
"""The seed's five charts: 12 x 5 min, 12 x 15 min, 12 x 30 min, 24 x 1 h, 7 days."""


class InvalidRecord(ValueError):
    """Raised by a processor for an event that is well-formed JSON but not a valid record."""


@dataclass(frozen=True, slots=True)
class DisplayPaths:
    """Where display information lives in a Jetstream event: dotted paths, first hit wins."""

    handle: tuple[str, ...] = ("identity.handle", "account.handle", "commit.record.handle")
    text: tuple[str, ...] = (
        "commit.record.text",
        "commit.record.displayName",
        "commit.record.description",
        "commit.record.name",
    )
    subject: tuple[str, ...] = (
        "commit.record.subject.uri",
        "commit.record.subject",
        "commit.record.reply.parent.uri",
        "commit.record.embed.record.uri",
    )
    snippet_chars: int = 120


def field(event: Any, paths: Iterable[str]) -> str | None:
    """The first non-empty string found at one of the dotted ``paths`` of ``event``."""
    for path in paths:
        value = event
        for key in path.split("."):
            if not isinstance(value, dict):
                value = None
                break
            value = value.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def display_info(event: Any, paths: DisplayPaths = DisplayPaths()) -> dict[str, str | None]:
    """Handle, text snippet and subject URI of an event (the seed's TODO)."""
    text = field(event, paths.text)
    if text is not None and len(text) > paths.snippet_chars:
        text = text[: paths.snippet_chars - 1] + "…"
    return {
        "handle": field(event, paths.handle),
        "text": text,
        "subject": field(event, paths.subject),
    }


def check_record(event: dict[str, Any]) -> None:
    """The default processor: a commit's record must carry its collection as ``$type``."""
    commit = event.get("commit")
    if not isinstance(commit, dict):
        return
    if commit.get("operation") in ("create", "update"):
        record = commit.get("record")
        if not isinstance(record, dict) or record.get("$type") != commit.get("collection"):
            raise InvalidRecord("record $type does not match the collection")


def read_lines(source: str | TextIO) -> Iterator[str]:
    """Jetstream JSON lines from a path, ``-`` (stdin) or an open text file."""
    if isinstance(source, str):
        if source == "-":
            yield from sys.stdin
            return
        with open(source, encoding="utf-8") as fh:
            yield from fh
        return
    yield from source


@dataclass(frozen=True, slots=True)
class Parsed:
    """One input line: the decoded event, or why it could not be decoded."""

    event: dict[str, Any] | None
    new: NewEvent
    problem: str | None


class JetstreamLog:
    """The seed's ``jetstream_activity`` repository, on a chronolog project."""

    def __init__(
        self,
        cl: Chronolog,
        *,
        processor: Callable[[dict[str, Any]], None] = check_record,
        paths: DisplayPaths = DisplayPaths(),
        batch_size: int = 500,
    ) -> None:
        self.cl = cl
        self.processor = processor
        self.paths = paths
        self.batch_size = batch_size

    def parse(self, line: str | bytes) -> Parsed:
        """Map one Jetstream line to a chronolog event (``processing``)."""
        try:
            event = orjson.loads(line)
            if not isinstance(event, dict):
                raise ValueError("not a JSON object")
            did = str(event["did"])
            at = datetime.fromtimestamp(0, UTC) + timedelta(microseconds=int(event["time_us"]))
        except (ValueError, KeyError, TypeError) as exc:
            raw = line.decode(errors="replace") if isinstance(line, bytes) else line
            return Parsed(
                None,
                NewEvent(
                    "jetstream", "invalid", status="processing", metadata={"line": raw[:2000]}
                ),
                f"not a Jetstream event: {exc}",
            )
        kind = str(event.get("kind") or "unknown")
        commit = event.get("commit") if isinstance(event.get("commit"), dict) else None
        info = display_info(event, self.paths)
        if commit is not None:
            collection = str(commit.get("collection") or "unknown")[:64]
            action = str(commit.get("operation") or "unknown")[:64]
            uri = f"at://{did}/{collection}/{commit.get('rkey', '')}"
        else:
            collection, action, uri = kind[:64], kind[:64], f"at://{did}"
        new = NewEvent(
            event_type=collection,
            action=action,
            status="processing",
            actor=Actor("did", did[:255], info["handle"]),
            target=Target("record", uri[:255], info["text"]),
            occurred_at=at,
            metadata={"uri": uri, **info, "event": event},
        )
        return Parsed(event, new, None)

    def ingest(self, lines: Iterable[str | bytes]) -> dict[str, int]:
        """Log, process and settle every line; returns how many ended in each status."""
        outcome: dict[str, int] = {}
        batch: list[Parsed] = []
        for line in lines:
            if isinstance(line, str | bytes) and not line.strip():
                continue
            batch.append(self.parse(line))
            if len(batch) >= self.batch_size:
                self._settle(batch, outcome)
                batch = []
        if batch:
            self._settle(batch, outcome)
        return outcome

    def _settle(self, batch: list[Parsed], outcome: dict[str, int]) -> None:
        ids = self.cl.events.record_many([p.new for p in batch])  # all "processing" first
        for event_id, parsed in zip(ids, batch, strict=True):
            status, error = "success", parsed.problem
            if parsed.event is None:
                status = "validation_error"
            else:
                try:
                    self.processor(parsed.event)
                except InvalidRecord as exc:
                    status, error = "validation_error", str(exc)
                except Exception as exc:  # a failing handler marks the event, never the run
                    status, error = "error", f"{type(exc).__name__}: {exc}"
            self.cl.events.set_status(event_id, status, error)
            outcome[status] = outcome.get(status, 0) + 1

    # -- the seed's queries ------------------------------------------------------------

    def recent(self, hours: int, limit: int = 1000) -> list[Event]:
        """Activity of the last ``hours`` hours, newest first, at most ``limit`` (seed: 1000)."""
        out: list[Event] = []
        cursor = None
        since = self.cl.scope.clock() - timedelta(hours=hours)
        while len(out) < limit:
            page = self.cl.events.query(
                since=since, limit=min(100, limit - len(out)), cursor=cursor, with_total=False
            )
            out.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        return out

    def charts(self, now: datetime | None = None, tz: str | None = None) -> dict[str, Series]:
        """The five charts of create / update / delete counts of successful events."""
        return {
            window: self.cl.stats.buckets(
                window,
                group_by="action",
                actions=ACTIONS,
                statuses="success",
                now=now,
                tz=tz,
            )
            for window in CHARTS
        }

    def cleanup(self, hours: int) -> int:
        """Delete events older than ``hours`` hours (charts keep their counts)."""
        return self.cl.events.delete_older_than(timedelta(hours=hours))

    def delete_all(self) -> int:
        """Delete every event of the project (and its counts)."""
        return self.cl.events.delete_all()


def main(argv: list[str]) -> None:
    """Ingest a file (or stdin) and print the charts."""
    source = argv[1] if len(argv) > 1 else "-"
    url = argv[2] if len(argv) > 2 else "sqlite:///jetstream.db"
    with Chronolog(url) as cl:
        log = JetstreamLog(cl)
        print("ingested:", log.ingest(read_lines(source)))
        newest = cl.events.recent(1)
        now = newest[0].occurred_at if newest else None
        for window, series in log.charts(now=now).items():
            print(window, [(b.start.strftime("%m-%d %H:%M"), b.counts) for b in series.buckets])


if __name__ == "__main__":
    main(sys.argv)
