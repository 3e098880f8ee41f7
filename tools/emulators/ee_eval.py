"""Evaluate the per-image parts of ingest graphs the way Earth Engine documents them.

The emulator cannot compute pixels from a graph, but it can follow what happens to each image of
a window: which bands exist, and whether each band still holds data or is fully masked. That is
enough to answer the questions a wrong graph gets wrong on the real service:

- ``Image.linkCollection``: "If a matching image is not found, any new or updated bands will be
  fully masked and any new or updated metadata will be null. The output footprint will be the
  same as the source image footprint."
  (https://developers.google.com/earth-engine/apidocs/ee-image-linkcollection). So the linked
  band is *always there*; asking ``bandNames().contains(band)`` is always true.
- ``Image.select``: a band that is not there fails the whole computation
  ("Image.select: Pattern 'x' did not match any bands.").
- ``ee.Algorithms.If``: "Earth Engine uses deferred execution ... In some cases, this type of
  execution model will evaluate both the true and false alternatives of an ee.Algorithms.If()
  statement" (https://developers.google.com/earth-engine/tutorials/tutorial_js_03, "If/Else
  Conditions"). The evaluator always evaluates both: a graph that passes here passes whichever
  the server picks. Truthiness follows
  https://developers.google.com/earth-engine/apidocs/ee-algorithms-if (0, NaN, empty strings,
  lists and dictionaries, and null are false).

Values: :class:`Img` (band -> ``"data"`` or ``"masked"``, plus properties), lists of them for
collections, and plain JSON values. Collection filters other than ``Filter.listContains`` are
taken as already applied: the caller hands in the window's catalogue. Anything else raises
:class:`EvalError`, so a graph using an algorithm the emulator does not know fails loudly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DATA, MASKED = "data", "masked"


class EvalError(Exception):
    """What Earth Engine (or the emulator, for what it does not model) would answer with a 400."""


@dataclass
class Img:
    """One image as the evaluator sees it: its bands' states and its properties."""

    bands: dict[str, str]
    props: dict[str, Any] = field(default_factory=dict)

    def contributes(self) -> bool:
        """Whether any band still holds data (a fully masked image adds nothing to a composite)."""
        return any(state == DATA for state in self.bands.values())


@dataclass
class Catalogue:
    """What the collections hold in one window: the Sentinel-2 images and the Cloud Score+ ones."""

    collections: dict[str, list[Img]]

    def load(self, asset_id: str) -> list[Img]:
        if asset_id not in self.collections:
            raise EvalError(f"emulator: collection {asset_id!r} is not emulated")
        return [Img(dict(i.bands), dict(i.props)) for i in self.collections[asset_id]]


@dataclass
class _Function:
    names: list[str]
    body: Any
    env: dict[str, Any]


def truthy(value: Any) -> bool:
    """Earth Engine's reading of a condition (ee.Algorithms.If reference)."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return not (value == 0 or math.isnan(value))
    if isinstance(value, str | list | dict):
        return len(value) > 0
    return True


def _combine(*states: str) -> str:
    return MASKED if MASKED in states else DATA


def _single(image: Img, what: str) -> str:
    if len(image.bands) != 1:
        raise EvalError(f"emulator: {what} needs a one-band image, got {list(image.bands)}")
    return next(iter(image.bands.values()))


def _as_image(value: Any) -> Img:
    if isinstance(value, Img):
        return value
    if isinstance(value, int | float):
        return Img({"constant": DATA})
    raise EvalError(f"emulator: expected an image, got {type(value).__name__}")


class Evaluator:
    """Evaluates expanded graph nodes (see ``tools.emulators.earthengine.expand``) over a catalogue."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._algorithms: dict[str, Callable[[dict[str, Any], dict[str, Any]], Any]] = {
            "ImageCollection.load": lambda a, e: self.catalogue.load(self._arg(a, e, "id")),
            "Collection.filter": self._filter,
            "Collection.map": lambda a, e: self._map(a, e, "collection"),
            "List.map": lambda a, e: self._map(a, e, "list"),
            "List.contains": lambda a, e: self._arg(a, e, "element") in self._arg(a, e, "list"),
            "AggregateFeatureCollection.array": self._aggregate_array,
            "If": self._if,
            "Image.linkCollection": self._link,
            "Image.bandNames": lambda a, e: list(_as_image(self._arg(a, e, "image")).bands),
            "Image.select": self._select,
            "Image.constant": lambda a, e: Img({"constant": DATA}),
            "Image.remap": self._remap,
            "Image.unmask": self._unmask,
            "Image.updateMask": self._update_mask,
            "Image.resample": lambda a, e: self._arg(a, e, "image"),
            "Image.rename": self._rename,
            "Element.set": self._set,
            "Element.get": lambda a, e: self._arg(a, e, "object").props.get(self._arg(a, e, "property")),
        }  # fmt: skip
        for op in ("gte", "gt", "lte", "lt", "eq", "neq", "And", "Or", "add", "subtract", "multiply", "divide"):
            self._algorithms[f"Image.{op}"] = self._binary

    # -- the interpreter ---------------------------------------------------------------------

    def evaluate(self, node: Any, env: dict[str, Any] | None = None) -> Any:
        env = env or {}
        if isinstance(node, list):
            return [self.evaluate(v, env) for v in node]
        if not isinstance(node, dict):
            return node
        if "constantValue" in node:
            return node["constantValue"]
        if "argumentReference" in node:
            return env[node["argumentReference"]]
        if "arrayValue" in node:
            return [self.evaluate(v, env) for v in node["arrayValue"].get("values", [])]
        if "dictionaryValue" in node:
            return {k: self.evaluate(v, env) for k, v in node["dictionaryValue"].get("values", {}).items()}
        if "functionDefinitionValue" in node:
            fd = node["functionDefinitionValue"]
            return _Function(list(fd.get("argumentNames", [])), fd["body"], env)
        inv = node.get("functionInvocationValue")
        if inv is None:
            raise EvalError(f"emulator: cannot read graph node {sorted(node)}")
        name = inv.get("functionName")
        algorithm = self._algorithms.get(name)
        if algorithm is None:
            raise EvalError(f"emulator: algorithm {name!r} is not evaluated per image")
        return algorithm(inv.get("arguments", {}), env)

    def call(self, function: Any, *values: Any) -> Any:
        if not isinstance(function, _Function):
            raise EvalError("emulator: a mapped algorithm must be a function definition")
        env = {**function.env, **dict(zip(function.names, values, strict=True))}
        return self.evaluate(function.body, env)

    def _arg(self, args: dict[str, Any], env: dict[str, Any], name: str, default: Any = None) -> Any:
        return self.evaluate(args[name], env) if name in args else default

    # -- collections and lists ------------------------------------------------------------------

    def _map(self, args: dict[str, Any], env: dict[str, Any], over: str) -> list[Any]:
        function = self._arg(args, env, "baseAlgorithm")
        return [self.call(function, item) for item in self._arg(args, env, over)]

    def _filter(self, args: dict[str, Any], env: dict[str, Any]) -> list[Img]:
        images: list[Img] = self._arg(args, env, "collection")
        inv = args.get("filter", {}).get("functionInvocationValue", {})
        if inv.get("functionName") != "Filter.listContains":
            return images  # bounds and dates: the catalogue already holds the window's images
        fargs = inv.get("arguments", {})
        values, prop = self._arg(fargs, env, "leftValue"), self._arg(fargs, env, "rightField")
        if not isinstance(values, list) or not isinstance(prop, str):
            raise EvalError("emulator: Filter.listContains needs a list value and a property name")
        return [i for i in images if i.props.get(prop) in values]

    def _aggregate_array(self, args: dict[str, Any], env: dict[str, Any]) -> list[Any]:
        prop = self._arg(args, env, "property")
        return [i.props[prop] for i in self._arg(args, env, "collection") if i.props.get(prop) is not None]

    def _if(self, args: dict[str, Any], env: dict[str, Any]) -> Any:
        condition = self._arg(args, env, "condition")
        true_case = self._arg(args, env, "trueCase")  # both branches, as the server may (module doc)
        false_case = self._arg(args, env, "falseCase")
        return true_case if truthy(condition) else false_case

    # -- images ---------------------------------------------------------------------------------

    def _link(self, args: dict[str, Any], env: dict[str, Any]) -> Img:
        image = _as_image(self._arg(args, env, "input"))
        others = self._arg(args, env, "imageCollection")
        bands = self._arg(args, env, "linkedBands") or []
        props = self._arg(args, env, "linkedProperties") or []
        key = self._arg(args, env, "matchPropertyName") or "system:index"
        bands, props = ([bands] if isinstance(bands, str) else bands), ([props] if isinstance(props, str) else props)
        match = next((o for o in others if o.props.get(key) == image.props.get(key)), None)
        out = Img(dict(image.bands), dict(image.props))
        for band in bands:
            if match is not None and band not in match.bands:
                raise EvalError(f"Image.linkCollection: Pattern '{band}' did not match any bands.")
            out.bands[band] = match.bands[band] if match is not None else MASKED
        for prop in props:
            out.props[prop] = match.props.get(prop) if match is not None else None
        return out

    def _select(self, args: dict[str, Any], env: dict[str, Any]) -> Img:
        image = _as_image(self._arg(args, env, "input"))
        selectors = self._arg(args, env, "bandSelectors")
        selectors = [selectors] if isinstance(selectors, str) else list(selectors)
        bands: dict[str, str] = {}
        for pattern in selectors:
            hits = [b for b in image.bands if re.fullmatch(str(pattern), b)]
            if not hits:
                raise EvalError(f"Image.select: Pattern '{pattern}' did not match any bands.")
            bands.update({b: image.bands[b] for b in hits})
        names = self._arg(args, env, "newNames")
        if names:
            bands = dict(zip(names, bands.values(), strict=True))
        return Img(bands, dict(image.props))

    def _binary(self, args: dict[str, Any], env: dict[str, Any]) -> Img:
        first, second = _as_image(self._arg(args, env, "image1")), _as_image(self._arg(args, env, "image2"))
        if len(second.bands) == 1:
            other = next(iter(second.bands.values()))
            return Img({b: _combine(s, other) for b, s in first.bands.items()}, dict(first.props))
        if len(first.bands) == 1:
            mine = next(iter(first.bands.values()))
            return Img({b: _combine(mine, s) for b, s in second.bands.items()}, dict(first.props))
        if len(first.bands) != len(second.bands):
            raise EvalError(f"Image: mismatched band counts {list(first.bands)} and {list(second.bands)}")
        states = zip(first.bands.items(), second.bands.values(), strict=True)
        return Img({b: _combine(s, o) for (b, s), o in states}, dict(first.props))

    def _remap(self, args: dict[str, Any], env: dict[str, Any]) -> Img:
        image = _as_image(self._arg(args, env, "image"))
        return Img({"remapped": _single(image, "Image.remap")}, dict(image.props))

    def _unmask(self, args: dict[str, Any], env: dict[str, Any]) -> Img:
        image = _as_image(self._arg(args, env, "input"))
        value = self._arg(args, env, "value", 0)
        fill = _single(value, "Image.unmask value") if isinstance(value, Img) else DATA
        return Img({b: fill if s == MASKED else s for b, s in image.bands.items()}, dict(image.props))

    def _update_mask(self, args: dict[str, Any], env: dict[str, Any]) -> Img:
        image, mask = _as_image(self._arg(args, env, "image")), _as_image(self._arg(args, env, "mask"))
        # A masked mask pixel masks the image there; a one-band mask applies to every band.
        if len(mask.bands) == 1:
            state = next(iter(mask.bands.values()))
            return Img({b: _combine(s, state) for b, s in image.bands.items()}, dict(image.props))
        states = zip(image.bands.items(), mask.bands.values(), strict=True)
        return Img({b: _combine(s, m) for (b, s), m in states}, dict(image.props))

    def _rename(self, args: dict[str, Any], env: dict[str, Any]) -> Img:
        image = _as_image(self._arg(args, env, "input"))
        names = self._arg(args, env, "names")
        names = [names] if isinstance(names, str) else names
        return Img(dict(zip(names, image.bands.values(), strict=True)), dict(image.props))

    def _set(self, args: dict[str, Any], env: dict[str, Any]) -> Img:
        image = _as_image(self._arg(args, env, "object"))
        return Img(dict(image.bands), {**image.props, self._arg(args, env, "key"): self._arg(args, env, "value")})


def invocations(tree: Any, name: str, nested: bool = True) -> list[dict[str, Any]]:
    """Nodes invoking algorithm ``name`` in an expanded tree, pre-order; ``nested=False``: outermost only."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, dict):
            inv = node.get("functionInvocationValue")
            if isinstance(inv, dict) and inv.get("functionName") == name:
                found.append(node)
                if not nested:
                    return
            for v in node.values():
                walk(v)

    walk(tree)
    return found
