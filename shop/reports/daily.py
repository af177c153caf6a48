"""The daily summary: once a day, at a configured hour of the shop's time zone, an event asks
the staff bot to send yesterday's report.

Claiming the day (a `scheduled_runs` row) and publishing the event happen in one transaction,
so with several workers, or after a restart, exactly one `report.daily` event exists per day,
and the relay delivers it even if the staff bot is down at that hour.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.events.outbox import Topic, publish
from shop.reports.models import ScheduledRun

DAILY_REPORT = "daily_report"


def due_day(now: datetime, hour: int, timezone: str) -> str | None:
    """The local date whose report is due at `now` (ISO), or None before `hour` today."""
    local = now.astimezone(ZoneInfo(timezone))
    if local.hour < hour:
        return None
    return local.date().isoformat()


async def publish_daily_report(sessions: async_sessionmaker[AsyncSession], *, now: datetime,
                               hour: int, timezone: str) -> bool:
    """Publish today's `report.daily` event if it is due and not yet published; True if it
    was published by this call."""
    day = due_day(now, hour, timezone)
    if day is None:
        return False
    async with sessions() as session:
        done = await session.scalar(select(ScheduledRun.name).where(
            ScheduledRun.name == DAILY_REPORT, ScheduledRun.period == day))
    if done is not None:
        return False
    covered = (datetime.fromisoformat(day) - timedelta(days=1)).date().isoformat()
    try:
        async with sessions.begin() as session:
            session.add(ScheduledRun(name=DAILY_REPORT, period=day, created_at=now))
            await session.flush()
            publish(session, Topic.REPORT_DAILY, {"day": covered, "period": "yesterday"})
    except IntegrityError:
        return False  # another worker claimed the day first
    return True
