"""What the emulators' HTTP side shares: the parsed request, the answer, the error, and routing by
method + path template.

An emulator finds its endpoint with a :class:`Router` (templates such as ``/repos/{owner}/{repo}``,
as in an OpenAPI description), answers with a :class:`Response` and refuses with an
:class:`HttpError` subclass that writes its service's own error body. :mod:`tools.emulators.server`
reads requests into these and writes the answers back.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, Generic, NamedTuple, TypeVar
from urllib.parse import parse_qs, urlsplit

H = TypeVar("H")
JSON_TYPE = "application/json"


@dataclass
class Request:
    """One request as read off the wire; ``label`` is set by the emulator to name the endpoint that
    served it in its own record (None until known)."""

    method: str
    target: str  # as sent: path and query string
    headers: Message
    body: bytes = b""
    received: float = field(default_factory=time.perf_counter)
    label: str | None = None

    @property
    def path(self) -> str:
        """The path, not percent-decoded (each emulator decodes as its service does)."""
        return urlsplit(self.target).path

    @property
    def query_string(self) -> str:
        return urlsplit(self.target).query

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.query_string)

    def header(self, name: str) -> str:
        return self.headers.get(name) or ""

    def bearer(self) -> str | None:
        """The token of an ``Authorization: Bearer <token>`` header, if any."""
        auth = self.header("Authorization")
        return auth[7:] if auth.startswith("Bearer ") else None


@dataclass
class Response:
    """An answer. ``data`` is the JSON value ``body`` encodes (None for other bodies), ``error`` why
    it failed and ``info`` any detail the emulator keeps in its record of the exchange."""

    status: int
    body: bytes = b""
    content_type: str | None = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    data: Any = None
    error: str | None = None
    info: dict[str, object] = field(default_factory=dict)

    @classmethod
    def json(
        cls, status: int, data: Any, content_type: str = JSON_TYPE, headers: dict[str, str] | None = None
    ) -> Response:
        return cls(status, json.dumps(data).encode(), content_type, dict(headers or {}), data)


class HttpError(Exception):
    """A refusal with an HTTP status; subclasses give the service's error body (``payload``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message

    def payload(self) -> Any:
        return {"message": self.message}

    def response(self) -> Response:
        answer = Response.json(self.status, self.payload())
        answer.error = self.message
        return answer


class Route(NamedTuple, Generic[H]):
    """A path template, its compiled pattern and its handler per HTTP method."""

    template: str
    pattern: re.Pattern[str]
    methods: Mapping[str, H]


@dataclass(frozen=True)
class Match(Generic[H]):
    """The route a path belongs to, its path parameters (as sent), and the handler for the request's
    method (None when the path is served but not with that method)."""

    route: Route[H]
    params: dict[str, str]
    handler: H | None


def compile_template(template: str, wide: Iterable[str] = ()) -> re.Pattern[str]:
    """A path template as a regex: ``{name}`` is one path segment, or any text when ``name`` is in
    ``wide``; ``{name:regex}`` is what ``regex`` matches."""
    wide = set(wide)
    out = []
    for i, part in enumerate(re.split(r"\{(\w+(?::[^{}]+)?)\}", template)):
        if i % 2 == 0:
            out.append(re.escape(part))
            continue
        name, _, regex = part.partition(":")
        out.append(f"(?P<{name}>{regex or ('.+' if name in wide else '[^/]+')})")
    return re.compile("".join(out))


class Router(Generic[H]):
    """Routes tried in the order they were added; iterating yields them as ``Route`` tuples."""

    def __init__(self, wide: Iterable[str] = ()) -> None:
        self.wide = tuple(wide)
        self.routes: list[Route[H]] = []

    def add(self, template: str, methods: Mapping[str, H]) -> None:
        self.routes.append(Route(template, compile_template(template, self.wide), dict(methods)))

    def resolve(self, method: str, path: str) -> Match[H] | None:
        """The first route whose template matches ``path`` and that serves ``method``; else the first
        whose template matches (with no handler); None when no template matches."""
        found: Match[H] | None = None
        for route in self.routes:
            match = route.pattern.fullmatch(path)
            if match is None:
                continue
            if method in route.methods:
                return Match(route, match.groupdict(), route.methods[method])
            found = found or Match(route, match.groupdict(), None)
        return found

    def __iter__(self) -> Iterator[Route[H]]:
        return iter(self.routes)

    def __len__(self) -> int:
        return len(self.routes)
