"""`sentinel github report-region`: one issue per region and period in the GitHub emulator (PyGithub),
unchanged on a rerun with the same result, updated with one comment when the result changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from shapely.geometry import box

from planet_sentinel.cli import cli
from planet_sentinel.region.merge import merge_region
from planet_sentinel.region.plan import RegionPlan
from tests.region.conftest import alert, write_alerts
from tools.emulators.github import DEFAULT_REPO, GitHubEmulator


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubEmulator]:
    with GitHubEmulator() as em:
        monkeypatch.setenv("GITHUB_TOKEN", "t")
        monkeypatch.setenv("GITHUB_API_URL", em.url)
        monkeypatch.setenv("GITHUB_REPOSITORY", DEFAULT_REPO)
        for key in ("SECONDS_BETWEEN_WRITES", "SECONDS_BETWEEN_REQUESTS", "RETRIES"):
            monkeypatch.setenv(f"SENTINEL_GITHUB_{key}", "0")
        yield em


def _merged(plan: tuple[RegionPlan, Path], tmp_path: Path, east_fails: bool, out: str, why: str = "twice") -> Path:
    """A merge of the two-tile plan: a 10 ha clearing in the west tile, the east tile ok or failed."""
    (west, east), plan_path = plan[0].tiles, plan[1]
    tiles = tmp_path / f"tiles-{out}"
    write_alerts(tiles, west.id, [alert(box(500_400, 8_900_400, 500_900, 8_900_600), west.crs, west.id)])
    if east_fails:
        (tiles / f"{east.id}_failed.txt").write_text(f"ingest: Earth Engine answered HTTP 500 {why}\n")
    else:
        write_alerts(tiles, east.id, [alert(box(501_200, 8_900_400, 501_300, 8_900_500), east.crs, east.id)])
    return Path(merge_region(plan_path, tiles, tmp_path / out).outputs["summary"])


def _report(summary: Path, *extra: str) -> dict[str, object]:
    args = ["github", "report-region", "--summary", str(summary), "--period", "2024-01-01", "2024-01-31"]
    result = CliRunner().invoke(cli, [*args, *extra, "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.output.splitlines()[-1])
    return data


def test_one_issue_per_region_and_period(
    emulator: GitHubEmulator, two_tile_plan: tuple[RegionPlan, Path], tmp_path: Path
) -> None:
    plan, _ = two_tile_plan
    west, east = plan.tiles
    partial = _merged(two_tile_plan, tmp_path, east_fails=True, out="run1")
    first = _report(partial, "--run-url", "https://github.com/o/r/actions/runs/1")
    assert first["action"] == "opened" and first["region"] == "aoi"  # the plan's AOI file stem
    (issue,) = emulator.issues()
    assert issue["labels"] == ["region-alerts"] and "1 of 2 tiles failed" in issue["title"]
    body = issue["body"]
    assert f"| `{east.id}` | **failed** | - | the tile job failed: ingest: Earth Engine answered HTTP 500" in body
    assert f"| `{west.id}` | ok | 1 |" in body and "[this run](https://github.com/o/r/actions/runs/1)" in body
    assert "| area | 10.00 ha |" in body and "| `" + west.id + "` |" in body.split("### Largest alerts")[1]

    # the same result again (another run, the failure in other words): nothing is written, not even a comment
    rerun = _merged(two_tile_plan, tmp_path, east_fails=True, out="run2", why="again (1 of 2 saved)")
    again = _report(rerun, "--run-url", "https://x/runs/2")
    assert again["action"] == "unchanged" and again["issue"] == first["issue"]
    writes = [r for r in emulator.requests if r["method"] in ("POST", "PATCH") and "/issues" in r["path"]]
    assert len(writes) == 1 and emulator.issues()[0]["body"] == body and emulator.issues()[0]["comments"] == []

    # the failed tile filled in by a rerun: the same issue updated, one comment saying what changed
    whole = _report(_merged(two_tile_plan, tmp_path, east_fails=False, out="run3"), "--run-url", "https://x/runs/3")
    assert whole["action"] == "updated" and whole["issue"] == first["issue"]
    (issue,) = emulator.issues()
    assert "failed" not in issue["title"] and "**failed**" not in issue["body"]
    (comment,) = issue["comments"]
    assert "alerts 1 -> 2" in comment["body"] and "tiles ok 1 -> 2 of 2" in comment["body"]

    # another period of the same region is another issue; a closed issue of a period is reused
    other = CliRunner().invoke(cli, ["github", "report-region", "--summary", str(tmp_path / "run3"),
                                     "--period", "2024-02-01", "2024-02-29", "--region", "aoi", "--json"])  # fmt: skip
    assert other.exit_code == 0 and json.loads(other.output.splitlines()[-1])["action"] == "opened"
    assert len(emulator.issues()) == 2
    emulator.issues()[0]["state"] = "closed"
    assert _report(partial)["action"] == "updated" and len(emulator.issues()) == 2


def test_bad_period_and_missing_summary_are_clear_errors(
    emulator: GitHubEmulator, two_tile_plan: tuple[RegionPlan, Path], tmp_path: Path
) -> None:
    summary = _merged(two_tile_plan, tmp_path, east_fails=False, out="run")
    for period, message in ((("2024-02-01", "2024-01-01"), "ends (2024-01-01) before"), (("jan", "feb"), "YYYY-MM")):
        result = CliRunner().invoke(cli, ["github", "report-region", "--summary", str(summary), "--period", *period])
        assert result.exit_code == 1 and message in result.output, result.output
    result = CliRunner().invoke(
        cli,
        ["github", "report-region", "--summary", str(tmp_path / "nope.json"), "--period", "2024-01-01", "2024-01-31"],
    )
    assert result.exit_code == 1 and "run `sentinel region merge` first" in result.output
    assert emulator.issues() == []
