"""Validate JSON against schemas taken from an OpenAPI document (3.0 or 3.1) with ``jsonschema``.

OpenAPI 3.0 schemas are JSON Schema draft 4/5 plus ``nullable``; draft 4 is the closest validator
once ``nullable: true`` is rewritten as a ``null`` alternative (OpenAPI 3.0.3, "Schema Object":
https://spec.openapis.org/oas/v3.0.3#fixed-fields-19). OpenAPI 3.1 schemas are JSON Schema 2020-12
as they stand. ``$ref`` pointers (``#/components/...``) resolve against the whole document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema
import referencing
import referencing.jsonschema

_URI = "urn:openapi-document"


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def denullable(node: Any) -> Any:
    """An OpenAPI 3.0 schema tree with ``nullable: true`` turned into JSON Schema's ``null``."""
    if isinstance(node, list):
        return [denullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: denullable(value) for key, value in node.items()}
    if out.pop("nullable", False) is True:
        if isinstance(out.get("type"), str) and "$ref" not in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            return {"anyOf": [out, {"type": "null"}]}
    return out


@dataclass
class OpenApiDocument:
    """One OpenAPI description and validators for its responses, components and webhooks."""

    path: Path

    @cached_property
    def raw(self) -> dict[str, Any]:
        return json.loads(self.path.read_text())

    @cached_property
    def is_30(self) -> bool:
        return str(self.raw.get("openapi", "")).startswith("3.0")

    @cached_property
    def _registry(self) -> referencing.Registry:
        spec = referencing.jsonschema.DRAFT4 if self.is_30 else referencing.jsonschema.DRAFT202012
        contents = denullable(self.raw) if self.is_30 else self.raw
        return referencing.Registry().with_resource(_URI, spec.create_resource(contents))

    def _validator(self, pointer: str) -> jsonschema.protocols.Validator:
        cls = jsonschema.Draft4Validator if self.is_30 else jsonschema.Draft202012Validator
        return cls({"$ref": f"{_URI}#/{pointer}"}, registry=self._registry)

    def operation(self, template: str, method: str) -> dict[str, Any]:
        """The operation object, or KeyError naming what the description lacks."""
        item = self.raw["paths"].get(template)
        if item is None:
            raise KeyError(f"the description has no path {template}")
        if method.lower() not in item:
            raise KeyError(f"the description has no {method.upper()} {template}")
        return item[method.lower()]

    def response_errors(self, template: str, method: str, status: int, body: Any) -> list[str]:
        """Why ``body`` is not an allowed ``status`` answer of ``method template`` (empty if it is).

        A status the operation does not list is an error for 1xx-3xx; for 4xx/5xx (GitHub
        documents only some, e.g. not 401 or the 403 of a token without the permission) the body
        must still be GitHub's ``basic-error``."""
        responses = self.operation(template, method).get("responses", {})
        key = str(status)
        if key not in responses:
            if status < 400:
                return [f"{method} {template}: status {status} is not among the documented {sorted(responses)}"]
            return self._errors("components/schemas/basic-error", body)
        response = responses[key]
        pointer = _pointer("paths", template, method.lower(), "responses", key)
        if "$ref" in response:  # a shared response, e.g. #/components/responses/not_found
            pointer = response["$ref"].removeprefix("#/")
            response = self._resolve(pointer)
        content = (response.get("content") or {}).get("application/json")
        if content is None or "schema" not in content:
            return [] if body is None else [f"{method} {template} {status}: documented without a body, got one"]
        return self._errors(f"{pointer}/content/{_pointer('application/json')}/schema", body)

    def component_errors(self, name: str, body: Any, kind: str = "schemas") -> list[str]:
        return self._errors(f"components/{kind}/{_pointer(name)}", body)

    def webhook_errors(self, name: str, body: Any) -> list[str]:
        """Why ``body`` is not the payload of webhook ``name`` (e.g. ``issue-comment-created``)."""
        item = self.raw["webhooks"][name]["post"]
        schema = item["requestBody"]["content"]["application/json"]["schema"]
        pointer = schema["$ref"].removeprefix("#/") if "$ref" in schema else None
        if pointer is None:
            raise KeyError(f"webhook {name} has an inline schema")
        return self._errors(pointer, body)

    def _resolve(self, pointer: str) -> dict[str, Any]:
        node: Any = self.raw
        for part in pointer.split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def _errors(self, pointer: str, body: Any) -> list[str]:
        validator = self._validator(pointer)
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}"
            for e in sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
        ]
