"""GitHub Actions routes: workflows (by id or file name), workflow dispatches (recorded, each also
creates a queued run, refused with GitHub's 422 for inputs the workflow does not declare or a
workflow without ``workflow_dispatch``) and runs (https://docs.github.com/en/rest/actions)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tools.emulators.github.core import BOT, Answer, ApiError, Query, now, paginate

if TYPE_CHECKING:
    from tools.emulators.github.emulator import GitHubEmulator


def list_workflows(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str) -> Answer:
    full = f"{owner}/{repo}"
    items = [em.workflow_json(full, f) for f in em.repo(full)["workflows"]]
    return 200, {"total_count": len(items), "workflows": items}, {}


def get_workflow(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str, wf: str) -> Answer:
    full = f"{owner}/{repo}"
    return 200, em.workflow_json(full, em.workflow_file(full, wf)), {}


def dispatch(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str, wf: str) -> Answer:
    full = f"{owner}/{repo}"
    file = em.workflow_file(full, wf)
    if user == BOT:
        em.require_bot(full, "actions")
    elif em.repo(full)["collaborators"].get(user) not in ("admin", "maintain", "write"):
        raise ApiError(403, "Must have admin rights to Repository.")
    if not isinstance(body, dict) or not body.get("ref"):
        raise ApiError(422, 'Invalid request.\n\n"ref" wasn\'t supplied.')
    inputs = body.get("inputs") or {}
    if not isinstance(inputs, dict) or not all(isinstance(v, str | bool | int | float) for v in inputs.values()):
        raise ApiError(422, "Invalid request.\n\nFor 'properties/inputs', it is not an object of scalars.")
    declared = em.repo(full)["workflows"][file].get("inputs")
    if declared is False:
        # The messages are GitHub's own, as clients report them (e.g. issues convictional/
        # trigger-workflow-and-wait#4, peter-evans/slash-command-dispatch#115,
        # elastic/terraform-provider-elasticstack#1829): the unexpected names as a JSON list.
        raise ApiError(422, "Workflow does not have 'workflow_dispatch' trigger")
    unexpected = sorted(set(inputs) - set(declared)) if isinstance(declared, list) else []
    if unexpected:
        raise ApiError(422, f"Unexpected inputs provided: {json.dumps(unexpected)}")
    r = em.repo(full)
    dispatch = {"workflow": file, "ref": body["ref"], "inputs": inputs, "actor": user, "created_at": now()}
    r["dispatches"].append(dispatch)
    run = {
        "id": 90000 + em.next_id("run_id"),
        "name": r["workflows"][file]["name"],
        "workflow_id": r["workflows"][file]["id"],
        "path": f".github/workflows/{file}",
        "event": "workflow_dispatch",
        "status": "queued",
        "conclusion": None,
        "head_branch": body["ref"],
        "head_sha": "0" * 40,
        "run_number": len([x for x in r["runs"] if x["workflow_id"] == r["workflows"][file]["id"]]) + 1,
        "run_attempt": 1,
        "actor": em.user_json(user),
        "triggering_actor": em.user_json(user),
        "created_at": now(),
        "updated_at": now(),
        "inputs": inputs,
    }
    r["runs"].append(run)
    if body.get("return_run_details"):
        details = {
            "workflow_run_id": run["id"],
            "run_url": f"{em.url}/repos/{full}/actions/runs/{run['id']}",
            "html_url": f"{em.url}/{full}/actions/runs/{run['id']}",
        }
        return 200, details, {}
    return 204, None, {}


def _runs(items: list[dict[str, Any]], em: GitHubEmulator, full: str, query: Query, url: str) -> Answer:
    items = [r for r in items if all(str(r.get(k)) == query[k] for k in ("status", "event") if k in query)]
    items = sorted(items, key=lambda r: r["id"], reverse=True)
    status, page, headers = paginate(items, query, url)
    return status, {"total_count": len(items), "workflow_runs": [em.run_json(full, r) for r in page]}, headers


def list_runs(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str) -> Answer:
    full = f"{owner}/{repo}"
    return _runs(em.repo(full)["runs"], em, full, query, f"{em.url}/repos/{full}/actions/runs")


def workflow_runs(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str, wf: str) -> Answer:
    full = f"{owner}/{repo}"
    wf_id = em.repo(full)["workflows"][em.workflow_file(full, wf)]["id"]
    items = [r for r in em.repo(full)["runs"] if r["workflow_id"] == wf_id]
    return _runs(items, em, full, query, f"{em.url}/repos/{full}/actions/workflows/{wf}/runs")


def get_run(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str, run_id: str) -> Answer:
    full = f"{owner}/{repo}"
    for run in em.repo(full)["runs"]:
        if str(run["id"]) == run_id:
            return 200, em.run_json(full, run), {}
    raise ApiError(404, "Not Found")
