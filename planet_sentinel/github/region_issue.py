"""A region's alerts for one period as an issue: one issue per region and period, found again by a
hidden marker in its body, opened by the first merge of that period and updated (body and one
comment) only when a later run of the same period gives a different result.

The marker holds the region, the period and a fingerprint of the result (totals, every tile's
status, the largest alerts; not timings or file paths), so a rerun that finds the same is a no-op:
no new issue, no edit, no comment. Issues of every state are searched: a closed issue of the
period (someone handled its alerts) is updated, never duplicated by a new one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planet_sentinel.errors import SentinelError
from planet_sentinel.github.issue_labels import REGION_LABEL, ensure_labels
from planet_sentinel.github.markers import HiddenMarker
from planet_sentinel.github.runs import clip, utc_now
from planet_sentinel.github.target import api_errors

if TYPE_CHECKING:
    from github.Issue import Issue
    from github.Repository import Repository

    from planet_sentinel.region.merge import RegionSummary

REGION_MARKER = HiddenMarker("region-period")
MARKER_RE = REGION_MARKER.pattern
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Tiles listed one by one in the body; beyond that the ok ones are counted (failed ones are always listed).
LISTED_TILES = 200


@dataclass
class RegionIssueResult:
    """What ``report_region`` did: action is opened, updated or unchanged."""

    action: str
    issue: int
    url: str
    region: str
    period: str
    fingerprint: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RegionPeriod:
    """Which issue: the region's name and the period's first and last dates (ISO)."""

    region: str
    start: str
    end: str

    def __post_init__(self) -> None:
        if not self.region.strip():
            raise SentinelError("the region needs a name (--region)")
        for day in (self.start, self.end):
            if not _DATE.match(day):
                raise SentinelError(f"period date {day!r} is not YYYY-MM-DD")
        if self.end < self.start:
            raise SentinelError(f"the period ends ({self.end}) before it starts ({self.start})")

    @property
    def label(self) -> str:
        return f"{self.start} to {self.end}"


def result_fingerprint(summary: RegionSummary) -> str:
    """What the issue reports, hashed: totals, every tile's status and the largest alerts.

    Not the failure reasons: their words vary between runs of the same result (how many downloads
    were in when a request failed, cache paths), and a rerun that failed the same tiles again is
    the same result. Nor timings or file paths."""
    content = summary.to_dict()
    key = {k: content[k] for k in ("complete", "totals", "largest")}
    key["tiles"] = [[t.tile, t.status, t.alerts] for t in summary.tiles]
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def marker(info: dict[str, Any]) -> str:
    return REGION_MARKER.write(info)


def marker_info(body: str | None) -> dict[str, Any] | None:
    """The marker of an issue body, or None if it is not a region issue of ours (people edit bodies)."""
    return REGION_MARKER.read(body)


def find_region_issue(repo: Repository, key: RegionPeriod) -> Issue | None:
    """The issue of this region and period, open or closed (the oldest if a race opened two)."""
    found = [
        issue
        for issue in repo.get_issues(state="all", labels=[REGION_LABEL])
        if (info := marker_info(issue.body)) is not None
        and (info.get("region"), info.get("start"), info.get("end")) == (key.region, key.start, key.end)
    ]
    return min(found, key=lambda i: i.number) if found else None


def _title(key: RegionPeriod, summary: RegionSummary) -> str:
    t = summary.totals
    partial = "" if summary.complete else f", {t.failed} of {t.tiles} tiles failed"
    return f"Deforestation alerts: {key.region}, {key.label}: {t.alerts} alerts, {t.area_ha:,.1f} ha{partial}"


def _largest_lines(summary: RegionSummary) -> list[str]:
    if not summary.largest:
        return ["No alert in this period."]
    lines = ["| alert | ha | lon, lat | confidence | tile |", "|---|---:|---|---|---|"]
    for a in summary.largest:
        lines.append(f"| `{a.id}` | {a.area_ha:,.2f} | {a.lon:.5f}, {a.lat:.5f} | {a.confidence} | `{a.tile_id}` |")
    return lines


def _tile_lines(summary: RegionSummary) -> list[str]:
    """Every failed or missing tile with its reason; the ok ones too while the list stays short."""
    bad = [s for s in summary.tiles if s.status != "ok"]
    ok = [s for s in summary.tiles if s.status == "ok"]
    lines = ["| tile | status | alerts | reason |", "|---|---|---:|---|"]
    for s in bad:
        reason = (s.reason or "").replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{s.tile}` | **{s.status}** | - | {reason} |")
    shown = ok if len(bad) + len(ok) <= LISTED_TILES else []
    lines += [f"| `{s.tile}` | ok | {s.alerts} | |" for s in shown]
    if len(shown) < len(ok):
        lines.append(f"| {len(ok)} other tiles | ok | | |")
    return lines


def _body(key: RegionPeriod, summary: RegionSummary, info: dict[str, Any]) -> str:
    t = summary.totals
    run = f"[this run]({info['run']})" if info.get("run") else "a region run"
    lines = [marker(info), f"The region workflow merged **{key.region}** for **{key.label}** in {run} ({info['at']})."]
    if not summary.complete:
        lines += [
            "",
            f"> [!WARNING]\n> {t.failed} of {t.tiles} tiles failed or are missing (listed below): the totals "
            "cover only the tiles that finished. Rerun the workflow for this period to fill them in.",
        ]
    lines += [
        "",
        "| | |",
        "|---|---|",
        f"| alerts | {t.alerts} ({t.high_confidence} high confidence) |",
        f"| area | {t.area_ha:,.2f} ha |",
        f"| tiles | {t.ok} ok of {t.tiles} |",
        f"| alerts joined across tile borders | {t.dissolved} |",
        "",
        f"### Largest alerts ({len(summary.largest)} of {t.alerts})",
        *_largest_lines(summary),
        "",
        "<details open><summary>Tiles</summary>" if not summary.complete else "<details><summary>Tiles</summary>",
        "",
        *_tile_lines(summary),
        "",
        "</details>",
        "",
        "The region's alerts (GeoJSON, FlatGeobuf, CSV) and the STAC catalogue are in the run's artifacts.",
    ]
    return clip("\n".join(lines))


def _change_comment(before: dict[str, Any], info: dict[str, Any], summary: RegionSummary) -> str:
    t = summary.totals
    run = f" in [this run]({info['run']})" if info.get("run") else ""
    totals = before.get("totals")
    was: dict[str, Any] = totals if isinstance(totals, dict) else {}
    change = f"alerts {was.get('alerts', '?')} -> {t.alerts}, ha {was.get('area_ha', '?')} -> {t.area_ha}"
    change += f", tiles ok {was.get('ok', '?')} -> {t.ok} of {t.tiles}"
    return f"The result of this period changed{run} ({info['at']}): {change}. The report above is updated."


def report_region(
    repo: Repository | Callable[[], Repository],
    summary: RegionSummary,
    key: RegionPeriod,
    run_url: str | None = None,
) -> RegionIssueResult:
    """Open the issue of ``key``, update it when the result differs, or leave it as it is."""
    fingerprint = result_fingerprint(summary)
    t = summary.totals
    info = {
        "region": key.region,
        "start": key.start,
        "end": key.end,
        "result": fingerprint,
        "run": run_url,
        "at": utc_now(),
        "totals": {"alerts": t.alerts, "area_ha": t.area_ha, "ok": t.ok, "tiles": t.tiles},
    }
    if callable(repo):
        repo = repo()
    with api_errors("region issue"):
        ensure_labels(repo, (REGION_LABEL,))
        issue = find_region_issue(repo, key)
        if issue is None:
            issue = repo.create_issue(_title(key, summary), body=_body(key, summary, info), labels=[REGION_LABEL])
            action = "opened"
        elif (before := marker_info(issue.body) or {}).get("result") == fingerprint:
            action = "unchanged"
        else:
            issue.edit(title=_title(key, summary), body=_body(key, summary, info))
            issue.create_comment(_change_comment(before, info, summary))
            action = "updated"
    return RegionIssueResult(action, issue.number, issue.html_url, key.region, key.label, fingerprint)


def load_region_summary(path: str | Path) -> RegionSummary:
    """``<name>_summary.json`` of `sentinel region merge` (a folder: the one summary in it)."""
    from planet_sentinel.region.merge import RegionSummary

    p = Path(path)
    if p.is_dir():
        found = sorted(p.glob("*_summary.json"))
        if len(found) != 1:
            what = "no" if not found else f"{len(found)}"
            raise SentinelError(f"{p} holds {what} *_summary.json; pass the file of `sentinel region merge`")
        p = found[0]
    if not p.is_file():
        raise SentinelError(f"{p}: no such file (run `sentinel region merge` first)")
    return RegionSummary.load(p)


def region_name(summary: RegionSummary, given: str | None = None) -> str:
    """``given``, else the stem of the AOI file the summary's plan was cut from."""
    from planet_sentinel.region.plan import RegionPlan

    if given:
        return given
    plan = Path(summary.plan)
    aoi = RegionPlan.load(plan).aoi if plan.is_file() else None
    if not aoi:
        raise SentinelError(f"no region name: the plan {plan} cannot be read or names no AOI; pass --region NAME")
    return Path(aoi).stem
