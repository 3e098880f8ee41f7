"""Reading the serialised ee graphs the client sends (``expression`` of value.compute, computePixels
and image.export): expanded into one tree, searched for algorithm calls, constants and the
``planet_sentinel:role`` the ingest's graphs set to say which output they compute.
"""

from __future__ import annotations

from typing import Any

from tools.emulators import ee_eval

ROLE_PROPERTY = "planet_sentinel:role"


def expand(expression: dict[str, Any]) -> Any:
    """The expression as one nested tree: every ``valueReference`` replaced by its value."""
    values = expression["values"]

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [resolve(v) for v in node]
        if not isinstance(node, dict):
            return node
        if set(node) == {"valueReference"}:
            return resolve(values[node["valueReference"]])
        if "functionDefinitionValue" in node:
            fd = node["functionDefinitionValue"]
            return {"functionDefinitionValue": {**fd, "body": resolve(values[fd["body"]])}}
        return {k: resolve(v) for k, v in node.items()}

    return resolve(values[expression["result"]])


def calls(tree: Any, name: str) -> list[dict[str, Any]]:
    """Every invocation of algorithm ``name`` in an expanded tree (its ``arguments`` dicts)."""
    return [node["functionInvocationValue"].get("arguments", {}) for node in ee_eval.invocations(tree, name)]


def constants(tree: Any) -> list[Any]:
    """Every ``constantValue`` in an expanded tree."""
    found: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, dict):
            if "constantValue" in node:
                found.append(node["constantValue"])
            for v in node.values():
                walk(v)

    walk(tree)
    return found


def dictionary(tree: Any) -> dict[str, Any]:
    """The entries of an ee.Dictionary node (a ``dictionaryValue`` or a ``Dictionary`` call)."""
    if not isinstance(tree, dict):
        return {}
    if "dictionaryValue" in tree:
        entries: dict[str, Any] = tree["dictionaryValue"].get("values", {})
        return entries
    inv = tree.get("functionInvocationValue", {})
    if inv.get("functionName") == "Dictionary":
        return dictionary(inv.get("arguments", {}).get("input"))
    return {}


def role_of_metadata(tree: Any) -> str | None:
    """The window a metadata entry describes, from its ``planet_sentinel:role`` key."""
    value = dictionary(tree).get(ROLE_PROPERTY, {})
    role: str | None = value.get("constantValue") if isinstance(value, dict) else None
    return role


def role_of(tree: Any) -> str | None:
    """The output an expression computes, from ``Element.set(planet_sentinel:role, ...)``."""
    for args in calls(tree, "Element.set"):
        if args.get("key", {}).get("constantValue") == ROLE_PROPERTY:
            role: str | None = args.get("value", {}).get("constantValue")
            return role
    return None
