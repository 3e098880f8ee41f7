"""The Earth Engine ``v1`` discovery document the emulator serves: only the methods ingest uses.

Why generate it: earthengine-api builds its API resource from
``{url}/$discovery/rest?version={VERSION}`` with ``VERSION = os.environ.get('EE_CLOUD_API_VERSION', 'v1')``
(ee/_cloud_api_utils.py, ``build_cloud_resource``; earthengine-api 1.7.50). The document shipped in the
package (``ee/tests/cloud_api_discovery_document.json``, ``"version": "v1alpha"``, revision 20200203) is
only read by ``ee/apitestcase.py`` through ``build_cloud_resource_from_document``: real sessions never
load it. Serving it made the real client post to ``/v1alpha/...`` where real use posts to ``/v1/...``.

The paths, path parameters and HTTP verbs are those of Google's v1 REST reference:
https://developers.google.com/earth-engine/reference/rest/v1/projects.algorithms/list
(``GET v1/{parent=projects/*}/algorithms``), .../v1/projects.value/compute, .../v1/projects.image/computePixels,
.../v1/projects.image/export (``POST v1/{project=projects/*}/...``) and .../v1/projects.operations/get
(``GET v1/{name=projects/*/operations/**}``). googleapiclient needs no more than this to build the methods.
"""

from __future__ import annotations

from typing import Any

#: The API version the emulator serves: the client's default (ee/_cloud_api_utils.py ``VERSION``).
API_VERSION = "v1"

_PROJECT = {"location": "path", "pattern": "^projects/[^/]+$", "required": True, "type": "string"}
_OPERATION = {"location": "path", "pattern": "^projects/[^/]+/operations/.*$", "required": True, "type": "string"}
#: (resource, method, verb, path parameter, its spec, path after the version, request schema, response schema)
_METHODS: tuple[tuple[str, str, str, str, dict[str, Any], str, str | None, str], ...] = (
    ("algorithms", "list", "GET", "parent", _PROJECT, "{+parent}/algorithms", None, "ListAlgorithmsResponse"),
    (
        "value",
        "compute",
        "POST",
        "project",
        _PROJECT,
        "{+project}/value:compute",
        "ComputeValueRequest",
        "ComputeValueResponse",
    ),
    (
        "image",
        "computePixels",
        "POST",
        "project",
        _PROJECT,
        "{+project}/image:computePixels",
        "ComputePixelsRequest",
        "HttpBody",
    ),
    ("image", "export", "POST", "project", _PROJECT, "{+project}/image:export", "ExportImageRequest", "Operation"),
    ("operations", "get", "GET", "name", _OPERATION, "{+name}", None, "Operation"),
)
_FLAT = {
    "parent": "projects/{projectsId}",
    "project": "projects/{projectsId}",
    "name": "projects/{projectsId}/operations/{operationsId}",
}
#: Google's standard query parameters (present in every Google discovery document).
_STANDARD = ("$.xgafv", "access_token", "alt", "callback", "fields", "key", "oauth_token", "prettyPrint", "quotaUser",
             "uploadType", "upload_protocol")  # fmt: skip


def _method(resource: str, name: str, verb: str, param: str, spec: dict[str, Any], tail: str,
            request: str | None, response: str) -> dict[str, Any]:  # fmt: skip
    flat_tail = tail.replace("{+" + param + "}", _FLAT[param])
    method: dict[str, Any] = {
        "id": f"earthengine.projects.{resource}.{name}",
        "httpMethod": verb,
        "path": f"{API_VERSION}/{tail}",
        "flatPath": f"{API_VERSION}/{flat_tail}",
        "parameterOrder": [param],
        "parameters": {param: dict(spec)},
        "response": {"$ref": response},
    }
    if request:
        method["request"] = {"$ref": request}
    return method


def discovery_document(root_url: str) -> dict[str, Any]:
    """A ``v1`` discovery document whose methods point at ``root_url`` (ending in ``/``)."""
    resources: dict[str, Any] = {}
    schemas: set[str] = set()
    for resource, name, verb, param, spec, tail, request, response in _METHODS:
        methods = resources.setdefault(resource, {"methods": {}})["methods"]
        methods[name] = _method(resource, name, verb, param, spec, tail, request, response)
        schemas.update(s for s in (request, response) if s)
    params = {p: {"location": "query", "type": "boolean" if p == "prettyPrint" else "string"} for p in _STANDARD}
    return {
        "kind": "discovery#restDescription",
        "discoveryVersion": "v1",
        "id": f"earthengine:{API_VERSION}",
        "name": "earthengine",
        "version": API_VERSION,
        "title": "Google Earth Engine API (emulated subset)",
        "protocol": "rest",
        "rootUrl": root_url,
        "servicePath": "",
        "baseUrl": root_url,
        "batchPath": "batch",
        "parameters": params,
        # Bodies travel as free-form JSON: the emulator reads them, googleapiclient does not check them.
        "schemas": {s: {"id": s, "type": "object", "additionalProperties": {"type": "any"}} for s in sorted(schemas)},
        "resources": {"projects": {"resources": resources}},
    }
