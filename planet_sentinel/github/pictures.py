"""Pictures in drift issues and training comments, where GitHub renders them.

GitHub's markdown sanitizer keeps only ``http``, ``https`` and relative ``img src`` URLs, so a
``data:`` URI shows as nothing (the protocol allow-list of GitHub's html-pipeline,
gjtorikian/html-pipeline ``lib/html/pipeline/sanitization_filter.rb`` at f92b3db2). The REST API
cannot upload issue attachments either. So the PNGs are committed to a dedicated branch through
the contents API (``PUT /repos/{owner}/{repo}/contents/{path}``, PyGithub ``create_file``) and
linked as ``<html_url>/blob/<commit sha>/<path>?raw=true``: GitHub documents that form for images
in issues and comments, and it works in private repositories for viewers with read access
(https://docs.github.com/en/get-started/writing-on-github/getting-started-with-writing-and-formatting-on-github/basic-writing-and-formatting-syntax#images).
The commit sha pins the picture, so later runs never change what an old comment shows.

When the workflow publishes the site with GitHub Pages (``SENTINEL_PAGES_URL``, see
:class:`PagesSite`), the pictures are shown from the site instead: the run page of an output folder
(``runs/<slug>/``, :func:`planet_sentinel.site.runs.page_path`) holds its PNGs under their own
names, so nothing is committed and the token needs no ``contents: write`` for them.

The branch starts as an orphan commit holding only a README (git data API: tree, commit, ref),
not a copy of the default branch: it carries no workflow files, so commits to it never start
workflow runs and never need the ``workflows`` permission.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:
    from github.Repository import Repository

DEFAULT_BRANCH = "sentinel-reports"
BRANCH_README = (
    "# Planet Sentinel reports\n\n"
    "Pictures of drift issues and training comments, committed by `sentinel github report-drift` and "
    "`sentinel github report-training`. Each run writes its own folder; nothing here is overwritten.\n"
)


@dataclass
class Pictures:
    """What was published (name -> URL) and, if publishing failed, why."""

    urls: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    error: str = ""

    def markdown(self, where: str) -> list[str]:
        """Lines for the issue or comment: the images, or a sentence saying where they are instead."""
        lines = [f"![{name}]({url})" for name, url in self.urls.items()]
        if self.error:
            lines.append(f"The pictures could not be published to GitHub ({self.error}); they are in {where}.")
        return lines


#: The published site's address, set by the workflows that deploy it (monitor, train).
PAGES_URL_ENV = "SENTINEL_PAGES_URL"


@dataclass(frozen=True)
class PagesSite:
    """The site `sentinel site build` made of this workspace, as GitHub Pages serves it.

    ``url`` is the site's top (``https://<owner>.github.io/<repo>/``, or the deploy step's
    ``page_url``); ``root`` the workspace the site was built from, so an output folder's page is
    found the way the build named it."""

    url: str
    root: Path = Path(".")

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{PAGES_URL_ENV}={self.url!r} is not an http(s) URL")
        object.__setattr__(self, "url", self.url.rstrip("/") + "/")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, root: Path = Path(".")) -> PagesSite | None:
        """The site named by ``SENTINEL_PAGES_URL``; None when unset, empty or not a URL (a warning)."""
        value = (os.environ if env is None else env).get(PAGES_URL_ENV, "").strip()
        if not value:
            return None
        try:
            return cls(value, root)
        except ValueError as exc:
            warn(f"{exc}: pictures go to the reports branch instead")
            return None

    def page(self, folder: Path) -> str:
        """The address of an output folder's run page."""
        from planet_sentinel.site.runs import page_path

        return self.url + quote(page_path(folder, self.root))

    def pictures(self, images: list[Path]) -> Pictures:
        """Each existing image by its address on its folder's run page (a missing one is a warning)."""
        result = Pictures()
        for image in images:
            if image.is_file():
                result.urls[image.name] = self.page(image.parent) + quote(image.name)
            else:
                warn(f"picture {image} does not exist: not shown")
                result.missing.append(str(image))
        return result


def site_links(pages: PagesSite | None, images: list[Path]) -> str | None:
    """Markdown links to the run's page (the folder of the first picture) and the map, or None."""
    if pages is None:
        return None
    page = f"[run page]({pages.page(images[0].parent)}) · " if images else ""
    return f"{page}[map]({pages.url})"


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def run_folder(kind: str, key: str, run_id: str | None) -> str:
    """``<kind>/<key>/<run id>``: one folder per run, so reruns never overwrite another report."""
    safe = [re.sub(r"[^A-Za-z0-9._-]+", "-", part).strip("-") or "x" for part in (key, run_id or "local")]
    return f"{kind}/{safe[0]}/{safe[1]}"


def ensure_branch(repo: Repository, branch: str) -> None:
    """Create ``branch`` as an orphan commit with a README if it does not exist yet."""
    from github import GithubException, InputGitTreeElement

    try:
        repo.get_branch(branch)
        return
    except GithubException as exc:
        if exc.status != 404:
            raise
    tree = repo.create_git_tree([InputGitTreeElement("README.md", "100644", "blob", content=BRANCH_README)])
    commit = repo.create_git_commit(f"Start {branch}: pictures of Planet Sentinel reports", tree, [])
    try:
        repo.create_git_ref(f"refs/heads/{branch}", commit.sha)
    except GithubException as exc:  # created meanwhile by a concurrent run: use theirs
        if exc.status != 422:
            raise


def _put(repo: Repository, path: str, data: bytes, branch: str, message: str) -> str:
    """Commit one file; returns the commit sha. An existing file (the same run again) is updated."""
    from github import GithubException

    try:
        return repo.create_file(path, message, data, branch=branch)["commit"].sha
    except GithubException as exc:
        if exc.status != 422:
            raise
    current = repo.get_contents(path, ref=branch)
    sha = current[0].sha if isinstance(current, list) else current.sha
    return repo.update_file(path, message, data, sha, branch=branch)["commit"].sha


def publish(
    repo: Repository,
    images: list[Path],
    folder: str,
    branch: str = DEFAULT_BRANCH,
) -> Pictures:
    """Commit ``images`` under ``folder`` on ``branch``; never raises for an API failure.

    A missing file is a warning. A failure (typically 403: the token lacks ``contents: write``)
    is a warning too and leaves ``error`` set, so the report is still written without pictures."""
    import requests
    from github import GithubException

    result = Pictures()
    present = []
    for image in images:
        if image.is_file():
            present.append(image)
        else:
            warn(f"picture {image} does not exist: not published")
            result.missing.append(str(image))
    if not present:
        return result
    try:
        ensure_branch(repo, branch)
        for image in present:
            path = f"{folder}/{image.name}"
            sha = _put(repo, path, image.read_bytes(), branch, f"Report picture {path}")
            result.urls[image.name] = f"{repo.html_url}/blob/{sha}/{quote(path)}?raw=true"
    except GithubException as exc:
        message = exc.data.get("message") if isinstance(exc.data, dict) else exc.data
        hint = " (the token needs contents: write)" if exc.status in (403, 404) else ""
        result.error = f"HTTP {exc.status} {message}{hint}"
        warn(f"pictures not published to branch {branch}: {result.error}")
    except requests.exceptions.RequestException as exc:
        result.error = f"cannot reach the API ({type(exc).__name__})"
        warn(f"pictures not published to branch {branch}: {result.error}")
    return result


def show(
    repo: Repository, images: list[Path], pages: PagesSite | None, folder: str, branch: str = DEFAULT_BRANCH
) -> Pictures | None:
    """The pictures of a report: from the published site when there is one, else committed under
    ``folder`` on ``branch`` (:func:`publish`); None without images."""
    if not images:
        return None
    if pages is not None:
        return pages.pictures(images)
    return publish(repo, images, folder, branch)
