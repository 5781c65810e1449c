"""The example scenarios run end to end and answer their seed's questions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chronolog import Chronolog
from chronolog.examples import library_cleanup

END = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_library_cleanup_scenario(db_url: str) -> None:
    with Chronolog(db_url, clock=lambda: END) as cl:
        count = library_cleanup.simulate_day(cl, end=END)
        assert count == 27
        assert cl.projects.get("default").event_types == tuple(sorted(library_cleanup.EVENT_TYPES))

        # Scans: started → completed / failed with items scanned / flagged / duration.
        scans = cl.events.query(event_types=["scan"], limit=100).items
        assert sorted(e.action for e in scans) == ["completed"] * 3 + ["failed"] + ["started"] * 4
        failed = next(e for e in scans if e.action == "failed")
        assert failed.status == "error"
        assert failed.error
        assert failed.metadata is not None
        assert set(failed.metadata) == {
            "itemsScanned",
            "itemsFlagged",
            "duration",
        }

        # Rules queue items with a grace period; deletions by rule or user with file size.
        queued = cl.events.query(event_types=["rule_match"], limit=100).items
        assert len(queued) == 10
        assert all(e.metadata and "gracePeriodDays" in e.metadata for e in queued)
        deletions = cl.events.query(event_types=["deletion"], limit=100).items
        assert {e.action for e in deletions} == {"deleted", "unmonitored"}
        assert {e.actor.type for e in deletions if e.actor} == {"rule", "user"}
        assert all(e.metadata and e.metadata["fileSize"] > 0 for e in deletions)

        # The activity page, filtered like the seed's GET /.
        body = library_cleanup.activity_log(
            cl, event_types=["deletion"], actor_types=["rule"], limit=3
        )
        assert body["success"] is True
        data = body["data"]
        assert (data["total"], data["page"], data["limit"], len(data["items"])) == (4, 1, 3, 3)
        assert set(data["items"][0]) == {
            "id",
            "eventType",
            "action",
            "actorType",
            "actorName",
            "targetType",
            "targetId",
            "targetTitle",
            "metadata",
            "createdAt",
        }
        page2 = library_cleanup.activity_log(
            cl, event_types=["deletion"], actor_types=["rule"], limit=3, page=2
        )
        assert len(page2["data"]["items"]) == 1
        assert (
            library_cleanup.activity_log(cl, limit=500)["data"]["limit"] == 100
        )  # capped as in the seed

        # Title search and every date range.
        found = library_cleanup.activity_log(cl, search="alien")["data"]["items"]
        assert found
        assert all("alien" in (i["targetTitle"] or i["action"]).lower() for i in found)
        assert library_cleanup.activity_log(cl, search="100%")["data"]["total"] in {0, 2}
        totals = {
            r: library_cleanup.activity_log(cl, date_range=r)["data"]["total"]
            for r in ("24h", "7d", "30d", "all")
        }
        assert totals == {"24h": 27, "7d": 27, "30d": 27, "all": 27}
        cl.events.record("scan", "started", occurred_at=END - timedelta(days=10))
        assert library_cleanup.activity_log(cl, date_range="7d")["data"]["total"] == 27
        assert library_cleanup.activity_log(cl, date_range="30d")["data"]["total"] == 28

        # The dashboard's /recent list, newest first.
        recent = library_cleanup.recent(cl, 5)
        assert [i["eventType"] for i in recent][:2] == ["error", "manual_action"]
        stamps = [i["createdAt"] for i in recent]
        assert stamps == sorted(stamps, reverse=True)
