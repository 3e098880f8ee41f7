"""`sentinel site build` without a browser: what it writes, its links, its budget, its refusals."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from planet_sentinel.cli import cli
from planet_sentinel.github.pictures import PagesSite
from planet_sentinel.site import SiteConfig, build_site
from planet_sentinel.site.check import broken_links
from planet_sentinel.site.runs import Links
from tests.site.workspace import FakeWorkspace, make_workspace
from tests.test_github import drift_json


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> FakeWorkspace:
    return make_workspace(tmp_path_factory.mktemp("workspace"))


def _map_data(site: Path) -> dict[str, object]:
    text = (site / "data" / "map.js").read_text()
    return dict(json.loads(text.removeprefix("window.SENTINEL_MAP = ").rstrip().rstrip(";")))


def test_the_cli_builds_the_site_of_the_current_folder(
    workspace: FakeWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workspace.root)
    for key in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"):
        monkeypatch.delenv(key, raising=False)
    result = CliRunner().invoke(cli, ["site", "build", "--out", "site", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["alerts"] == workspace.alerts and summary["tiles"] == workspace.tiles and summary["overlays"] == 2
    assert summary["bytes"] <= 5 * 1024 * 1024 and "MB in" in summary["size"]
    site = workspace.root / "site"
    data = _map_data(site)
    tiles = data["tiles"]["features"]  # type: ignore[index]
    assert sorted(t["properties"]["status"] for t in tiles) == ["failed", "ok"]
    for overlay in data["overlays"]:  # type: ignore[attr-defined]
        with Image.open(site / overlay["url"]) as image:
            assert max(image.size) <= 1024 and image.format == "WEBP"
        (south, west), (north, east) = overlay["bounds"]
        assert -12 < south < north < -9 and -64 < west < east < -62  # the fake grid: UTM 20 S near Rondonia


def test_every_link_is_relative_and_lands_on_a_file(workspace: FakeWorkspace, tmp_path: Path) -> None:
    site = build_site(tmp_path / "site", SiteConfig(root=workspace.root), env={}).out
    pages = sorted(site.rglob("*.html"))
    assert {p.relative_to(site).as_posix() for p in pages} == {
        "index.html",
        "runs/outputs-demo/index.html",
        "runs/outputs-demo-evaluation/index.html",
    }
    assert broken_links(site) == []  # also checked by every build (test_broken_and_absolute_links_are_found)
    assert len(re.findall(r'(?:href|src)="(?!https?:|data:)', "".join(p.read_text() for p in pages))) > 10
    evaluation = (site / "runs/outputs-demo-evaluation/index.html").read_text()
    assert "abc123" in evaluation and "run-1" in evaluation and "0.75" in evaluation  # provenance and the table


def test_links_to_the_workflow_run_and_issue_come_from_the_actions_variables() -> None:
    env = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "42"}
    links = Links.from_env(env, issue="7")
    assert (
        links.run_url == "https://github.com/o/r/actions/runs/42"
        and links.issue_url == "https://github.com/o/r/issues/7"
    )
    assert Links.from_env({}, issue="7") == Links(None, None)


def test_over_budget_fails_and_keeps_the_previous_site(workspace: FakeWorkspace, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build_site(out, SiteConfig(root=workspace.root), env={})
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    with pytest.raises(Exception, match="over its budget"):
        build_site(out, SiteConfig(root=workspace.root, max_bytes=10_000), env={})
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before
    assert [p.name for p in tmp_path.iterdir()] == ["site"]  # no staging folder left behind


def test_a_folder_that_is_not_a_site_is_never_replaced(workspace: FakeWorkspace, tmp_path: Path) -> None:
    precious = tmp_path / "data"
    precious.mkdir()
    (precious / "scene.tif").write_bytes(b"keep me")
    result = CliRunner().invoke(cli, ["site", "build", "--out", str(precious), "--root", str(workspace.root)])
    assert result.exit_code == 1 and "not a site built by" in result.output
    assert (precious / "scene.tif").read_bytes() == b"keep me"


def test_the_addresses_issues_link_are_files_of_the_site(tmp_path: Path) -> None:
    """Drift issues and training comments show pictures by their Pages address: each must be a file
    the build wrote (the same run page, the picture under its own name)."""
    (tmp_path / "outputs").mkdir()
    report = drift_json(tmp_path / "outputs", ["band B04"])
    result = build_site(tmp_path / "site", SiteConfig(root=tmp_path), env={})
    pages = PagesSite("https://o.github.io/r", root=tmp_path)
    (url,) = pages.pictures([report / "bands.png"]).urls.values()
    assert url == "https://o.github.io/r/runs/outputs-r0/bands.png"
    assert (result.out / url.removeprefix(pages.url)).is_file()
    assert (result.out / pages.page(report).removeprefix(pages.url) / "index.html").is_file()
    assert result.summary()["pictures"] == ["runs/outputs-r0/bands.png"]

    # the job summary (actions/site: summary.sh site) links the same addresses
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed (it is on GitHub runners)")
    (tmp_path / "site.json").write_text(json.dumps(result.summary()))
    env = {"PATH": "/usr/bin:/bin", "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}
    script = str(Path(__file__).parents[2] / "actions/summary.sh")
    subprocess.run(["bash", script, "site", str(tmp_path / "site.json"), pages.url], env=env, check=True)
    summary = (tmp_path / "summary.md").read_text()
    assert f"[outputs-r0]({pages.page(report)})" in summary and f"![bands.png]({url})" in summary
    assert "1 run pages" in summary


def test_broken_and_absolute_links_are_found(tmp_path: Path) -> None:
    (tmp_path / "a.css").write_text("")
    (tmp_path / "index.html").write_text(
        '<link href="a.css"><img src="gone.png"><a href="/repo/x.html">x</a><a href="https://github.com">gh</a>'
    )
    assert broken_links(tmp_path) == [
        "index.html: gone.png (no such file)",
        "index.html: /repo/x.html (not relative: breaks under /<repo>/)",
    ]
