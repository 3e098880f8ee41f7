"""The period a region run reports: given dates, or the last whole calendar month (UTC).

A period is the *after* window of every tile's ingest (the before window is the same dates a year
earlier, ``IngestConfig``'s rule) and the key of the region's issue. A scheduled run that took
"the last 60 days" would report a new period every day; whole months give one issue per region and
month however often the schedule fires, and a rerun of a month lands on the same issue.
"""

from __future__ import annotations

import datetime as dt

from planet_sentinel.errors import SentinelError


def last_whole_month(today: dt.date) -> tuple[dt.date, dt.date]:
    """The calendar month before ``today``'s: (its first day, its last day)."""
    end = today.replace(day=1) - dt.timedelta(days=1)
    return end.replace(day=1), end


def resolve_period(start: str | None, end: str | None, today: dt.date | None = None) -> tuple[str, str]:
    """``start`` and ``end`` checked (ISO dates, in order, not in the future); both empty: the last whole month."""
    from planet_sentinel.sources.gee.config import utc_today

    today = today or utc_today()
    if not start and not end:
        first, last = last_whole_month(today)
        return first.isoformat(), last.isoformat()
    if not (start and end):
        raise SentinelError("give both period dates (start and end) or neither (the last whole month)")
    try:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError as exc:
        raise SentinelError(f"period {start} {end}: {exc} (expected YYYY-MM-DD)") from exc
    if last < first:
        raise SentinelError(f"the period ends ({last}) before it starts ({first})")
    if first > today:
        raise SentinelError(f"the period starts ({first}) after today ({today}, UTC): no imagery yet")
    return first.isoformat(), last.isoformat()
