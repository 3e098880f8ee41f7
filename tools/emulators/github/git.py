"""The git side of the emulator: blobs, trees, commits and refs of each repository, the contents
API on top of them, branches, and the web routes that serve a committed file (``blob/...?raw=true``).

Routes (GitHub REST, https://docs.github.com/en/rest/git and /rest/repos/contents):
``GET /repos/{o}/{r}/branches/{branch}``, ``GET|PUT /repos/{o}/{r}/contents/{path}``,
``POST /repos/{o}/{r}/git/trees|commits|refs``, ``GET /repos/{o}/{r}/git/ref/{ref}``. Blob shas are
real git object ids (``sha1("blob <size>\\0" + data)``); tree and commit shas are hashes of their
JSON here, not of git's binary encoding. Trees are flat ``path -> blob sha`` maps.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from tools.emulators.github.core import BOT, BOT_EMAIL, Answer, ApiError, Query, now
from tools.emulators.github.shapes import node_id

if TYPE_CHECKING:
    from tools.emulators.github.emulator import GitHubEmulator

README = b"# planet-sentinel (GitHub emulator)\n"
UNSIGNED = {"verified": False, "reason": "unsigned", "signature": None, "payload": None, "verified_at": None}


def blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324 - git's object id


def _hash(kind: str, value: Any) -> str:
    return hashlib.sha1(f"{kind} {json.dumps(value, sort_keys=True)}".encode()).hexdigest()  # noqa: S324


def store(repo: dict[str, Any]) -> dict[str, Any]:
    """The repository's object store, seeded with one commit (a README) on the default branch."""
    git = repo.get("git")
    if git is None:
        git = repo["git"] = {"blobs": {}, "trees": {}, "commits": {}, "refs": {}}
        tree = put_tree(git, {"README.md": put_blob(git, README)})
        author = {"name": "octo-admin", "email": "octo-admin@example.com", "date": "2026-01-01T00:00:00Z"}
        git["refs"][f"refs/heads/{repo['default_branch']}"] = put_commit(git, tree, [], "Initial commit", author)
    return git


def put_blob(git: dict[str, Any], data: bytes) -> str:
    sha = blob_sha(data)
    git["blobs"][sha] = base64.b64encode(data).decode()
    return sha


def put_tree(git: dict[str, Any], entries: dict[str, str]) -> str:
    sha = _hash("tree", entries)
    git["trees"][sha] = dict(entries)
    return sha


def put_commit(git: dict[str, Any], tree: str, parents: list[str], message: str, author: dict[str, str]) -> str:
    commit = {"tree": tree, "parents": parents, "message": message, "author": author}
    sha = _hash("commit", commit)
    git["commits"][sha] = commit
    return sha


def git_author(em: GitHubEmulator, user: str) -> dict[str, str]:
    email = BOT_EMAIL if user == BOT else f"{user}@users.noreply.example.com"
    return {"name": user, "email": email, "date": now()}


def _require_contents_write(em: GitHubEmulator, full: str, user: str) -> None:
    """GITHUB_TOKEN needs ``contents: write`` (repo ``bot_permissions``); people need write or more."""
    repo = em.repo(full)
    if user == BOT:
        if repo.get("bot_permissions", {}).get("contents", "write") != "write":
            raise ApiError(403, "Resource not accessible by integration")
    elif repo["collaborators"].get(user) not in ("admin", "maintain", "write"):
        raise ApiError(403, f"Permission to {full}.git denied to {user}.")


# ---------------------------------------------------------------------------- JSON shapes


def commit_json(em: GitHubEmulator, full: str, sha: str) -> dict[str, Any]:
    """``git-commit`` (the git data API and the ``commit`` of a contents PUT)."""
    commit = store(em.repo(full))["commits"][sha]
    api, html = f"{em.url}/repos/{full}", f"{em.url}/{full}"
    return {
        "sha": sha,
        "node_id": node_id("Commit", sha),
        "url": f"{api}/git/commits/{sha}",
        "html_url": f"{html}/commit/{sha}",
        "author": commit["author"],
        "committer": commit["author"],
        "message": commit["message"],
        "tree": {"sha": commit["tree"], "url": f"{api}/git/trees/{commit['tree']}"},
        "parents": [
            {"sha": p, "url": f"{api}/git/commits/{p}", "html_url": f"{html}/commit/{p}"} for p in commit["parents"]
        ],
        "verification": UNSIGNED,
    }


def rest_commit_json(em: GitHubEmulator, full: str, sha: str) -> dict[str, Any]:
    """``commit`` (the commits API shape a branch carries)."""
    git_commit = commit_json(em, full, sha)
    api, html = f"{em.url}/repos/{full}", f"{em.url}/{full}"
    inner = {key: git_commit[key] for key in ("author", "committer", "message", "tree", "verification")}
    return {
        "sha": sha,
        "node_id": git_commit["node_id"],
        "url": f"{api}/commits/{sha}",
        "html_url": f"{html}/commit/{sha}",
        "comments_url": f"{api}/commits/{sha}/comments",
        "commit": {**inner, "url": git_commit["url"], "comment_count": 0},
        "author": None,
        "committer": None,
        "parents": [{**p, "url": f"{api}/commits/{p['sha']}"} for p in git_commit["parents"]],
    }


def content_json(em: GitHubEmulator, full: str, path: str, blob: str, ref: str, with_content: bool) -> dict[str, Any]:
    """``content-file``; GitHub wraps the base64 content at 60 characters."""
    data = store(em.repo(full))["blobs"][blob]
    api, html = f"{em.url}/repos/{full}", f"{em.url}/{full}"
    self_url = f"{api}/contents/{quote(path)}?ref={quote(ref)}"
    out = {
        "type": "file",
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": blob,
        "size": len(base64.b64decode(data)),
        "url": self_url,
        "html_url": f"{html}/blob/{quote(ref)}/{quote(path)}",
        "git_url": f"{api}/git/blobs/{blob}",
        "download_url": f"{html}/raw/{quote(ref)}/{quote(path)}",
        "_links": {
            "self": self_url,
            "git": f"{api}/git/blobs/{blob}",
            "html": f"{html}/blob/{quote(ref)}/{quote(path)}",
        },
    }
    if with_content:
        out["encoding"] = "base64"
        out["content"] = "\n".join(data[i : i + 60] for i in range(0, len(data), 60)) + "\n"
    return out


def ref_json(em: GitHubEmulator, full: str, ref: str) -> dict[str, Any]:
    sha = store(em.repo(full))["refs"][ref]
    api = f"{em.url}/repos/{full}"
    return {
        "ref": ref,
        "node_id": node_id("Ref", f"{full}:{ref}"),
        "url": f"{api}/git/{ref}",
        "object": {"type": "commit", "sha": sha, "url": f"{api}/git/commits/{sha}"},
    }


# ---------------------------------------------------------------------------- lookups


def resolve(em: GitHubEmulator, full: str, ref: str) -> str:
    """A commit sha for a branch name, a full ref or a commit sha; 404 otherwise."""
    git = store(em.repo(full))
    for candidate in (ref, f"refs/heads/{ref}"):
        if candidate in git["refs"]:
            return str(git["refs"][candidate])
    if ref in git["commits"]:
        return ref
    raise ApiError(404, f"No commit found for the ref {ref}")


def _branch_head(em: GitHubEmulator, full: str, branch: str) -> str:
    git = store(em.repo(full))
    try:
        return str(git["refs"][f"refs/heads/{branch}"])
    except KeyError:
        raise ApiError(404, f"Branch {branch} not found") from None


# ---------------------------------------------------------------------------- route handlers


def get_branch(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str, branch: str) -> Answer:
    full = f"{owner}/{repo}"
    git = store(em.repo(full))
    if f"refs/heads/{branch}" not in git["refs"]:
        raise ApiError(404, "Branch not found")
    api = f"{em.url}/repos/{full}/branches/{quote(branch)}"
    return (
        200,
        {
            "name": branch,
            "commit": rest_commit_json(em, full, git["refs"][f"refs/heads/{branch}"]),
            "_links": {"self": api, "html": f"{em.url}/{full}/tree/{quote(branch)}"},
            "protected": False,
            "protection": {"enabled": False},
            "protection_url": f"{api}/protection",
        },
        {},
    )


def get_contents(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str, path: str) -> Answer:
    full = f"{owner}/{repo}"
    ref = query.get("ref") or em.repo(full)["default_branch"]
    git = store(em.repo(full))
    tree = git["trees"][git["commits"][resolve(em, full, ref)]["tree"]]
    path = path.strip("/")
    if path in tree:
        return 200, content_json(em, full, path, tree[path], ref, with_content=True), {}
    listing = sorted({p[len(path) + 1 :].split("/", 1)[0] for p in tree if p.startswith(f"{path}/")})
    if not listing:
        raise ApiError(404, "Not Found")
    entries = []
    for name in listing:
        child = f"{path}/{name}"
        if child in tree:
            entries.append(content_json(em, full, child, tree[child], ref, with_content=False))
        else:
            api = f"{em.url}/repos/{full}/contents/{quote(child)}?ref={quote(ref)}"
            html = f"{em.url}/{full}/tree/{quote(ref)}/{quote(child)}"
            sha = _hash("dir", sorted(p for p in tree if p.startswith(f"{child}/")))
            links = {"self": api, "git": f"{em.url}/repos/{full}/git/trees/{sha}", "html": html}
            entries.append(
                {"type": "dir", "name": name, "path": child, "sha": sha, "size": 0, "url": api, "html_url": html,
                 "git_url": links["git"], "download_url": None, "_links": links}
            )  # fmt: skip
    return 200, entries, {}


def put_contents(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str, path: str) -> Answer:
    """Create or update one file with a commit on ``branch`` (default: the default branch).

    As GitHub answers (https://docs.github.com/en/rest/repos/contents#create-or-update-file-contents):
    201 created, 200 updated, 422 ``"sha" wasn't supplied`` for an existing file without its blob
    sha, 409 ``<path> does not match <sha>`` for a stale one, 404 for a branch that does not exist."""
    full = f"{owner}/{repo}"
    _require_contents_write(em, full, user)
    if not isinstance(body, dict):
        raise ApiError(400, "Problems parsing JSON")
    for key in ("message", "content"):
        if not isinstance(body.get(key), str):
            raise ApiError(422, f'Invalid request.\n\n"{key}" wasn\'t supplied.')
    try:
        data = base64.b64decode(body["content"], validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, "content is not valid Base64") from None
    path = path.strip("/")
    branch = body.get("branch") or em.repo(full)["default_branch"]
    git = store(em.repo(full))
    head = _branch_head(em, full, branch)
    tree = dict(git["trees"][git["commits"][head]["tree"]])
    if path in tree and not body.get("sha"):
        raise ApiError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
    if body.get("sha") and tree.get(path) != body["sha"]:
        raise ApiError(409, f"{path} does not match {body['sha']}")
    created = path not in tree
    tree[path] = put_blob(git, data)
    commit = put_commit(git, put_tree(git, tree), [head], body["message"], git_author(em, user))
    git["refs"][f"refs/heads/{branch}"] = commit
    em.repo(full)["pushed_at"] = now()
    payload = {
        "content": content_json(em, full, path, tree[path], branch, with_content=False),
        "commit": commit_json(em, full, commit),
    }
    return (201 if created else 200), payload, {}


def create_tree(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str) -> Answer:
    full = f"{owner}/{repo}"
    _require_contents_write(em, full, user)
    git = store(em.repo(full))
    items = body.get("tree") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ApiError(422, 'Invalid request.\n\n"tree" wasn\'t supplied.')
    entries = dict(git["trees"].get(body.get("base_tree") or "", {}))
    for item in items:
        if not isinstance(item, dict) or item.get("type") != "blob" or not item.get("path"):
            raise ApiError(422, "Invalid tree info: only blobs with a path are supported by the emulator")
        if isinstance(item.get("content"), str):
            entries[item["path"]] = put_blob(git, item["content"].encode())
        elif item.get("sha") in git["blobs"]:
            entries[item["path"]] = item["sha"]
        elif "sha" in item and item["sha"] is None:
            entries.pop(item["path"], None)
        else:
            raise ApiError(422, f"tree.sha {item.get('sha')} is not a valid blob")
    sha = put_tree(git, entries)
    api = f"{em.url}/repos/{full}/git"
    tree = [
        {"path": p, "mode": "100644", "type": "blob", "sha": b, "size": len(base64.b64decode(git["blobs"][b])),
         "url": f"{api}/blobs/{b}"}
        for p, b in sorted(entries.items())
    ]  # fmt: skip
    return 201, {"sha": sha, "url": f"{api}/trees/{sha}", "tree": tree, "truncated": False}, {}


def create_commit(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str) -> Answer:
    full = f"{owner}/{repo}"
    _require_contents_write(em, full, user)
    git = store(em.repo(full))
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        raise ApiError(422, 'Invalid request.\n\n"message" wasn\'t supplied.')
    if body.get("tree") not in git["trees"]:
        raise ApiError(422, "Tree SHA does not exist")
    parents = body.get("parents") or []
    if not isinstance(parents, list) or any(p not in git["commits"] for p in parents):
        raise ApiError(422, "Parent SHA does not exist or is not a commit object")
    sha = put_commit(git, body["tree"], parents, body["message"], git_author(em, user))
    return 201, commit_json(em, full, sha), {"Location": f"{em.url}/repos/{full}/git/commits/{sha}"}


def create_ref(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str) -> Answer:
    """``POST git/refs``: 201, or 422 "Reference already exists" (https://docs.github.com/en/rest/git/refs)."""
    full = f"{owner}/{repo}"
    _require_contents_write(em, full, user)
    git = store(em.repo(full))
    ref, sha = (body.get("ref"), body.get("sha")) if isinstance(body, dict) else (None, None)
    if not isinstance(ref, str) or not ref.startswith("refs/") or ref.count("/") < 2:
        raise ApiError(422, "Reference name must start with 'refs/' and have at least two slashes.")
    if sha not in git["commits"]:
        raise ApiError(422, "Object does not exist")
    if ref in git["refs"]:
        raise ApiError(422, "Reference already exists")
    git["refs"][ref] = sha
    return 201, ref_json(em, full, ref), {"Location": f"{em.url}/repos/{full}/git/{ref}"}


def get_ref(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str, ref: str) -> Answer:
    full = f"{owner}/{repo}"
    if f"refs/{ref}" not in store(em.repo(full))["refs"]:
        raise ApiError(404, "Not Found")
    return 200, ref_json(em, full, f"refs/{ref}"), {}


# ---------------------------------------------------------------------------- web (github.com) routes


def web_blob(em: GitHubEmulator, query: Query, owner: str, repo: str, sha: str, path: str) -> Answer:
    """``/{o}/{r}/blob/{sha}/{path}?raw=true`` redirects to the raw file, as github.com does."""
    if query.get("raw") not in ("true", "1"):
        raise ApiError(404, "the emulator serves blob pages only with ?raw=true")
    return 302, None, {"Location": f"{em.url}/{owner}/{repo}/raw/{sha}/{quote(path)}"}


def web_raw(em: GitHubEmulator, query: Query, owner: str, repo: str, sha: str, path: str) -> Answer:
    """The committed file at a commit sha or branch (``raw.githubusercontent.com`` on GitHub)."""
    full = f"{owner}/{repo}"
    git = store(em.repo(full))
    tree = git["trees"][git["commits"][resolve(em, full, sha)]["tree"]]
    if path not in tree:
        raise ApiError(404, "Not Found")
    data = base64.b64decode(git["blobs"][tree[path]])
    kind = "image/png" if path.lower().endswith(".png") else "application/octet-stream"
    return 200, data, {"Content-Type": kind}
