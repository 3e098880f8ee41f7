"""The Earth Engine emulator's refusals, in Google's words: JSON
``{"error": {"code", "message", "status"}}`` with the HTTP status, as the REST API answers them.
"""

from __future__ import annotations

from typing import Any

from tools.emulators.routing import HttpError, Response


class EmulatorError(HttpError):
    """A refusal in Google's words: HTTP status, message and the canonical ``status`` reason."""

    def __init__(self, status: int, message: str, reason: str = "INVALID_ARGUMENT") -> None:
        super().__init__(status, message)
        self.reason = reason

    def payload(self) -> dict[str, Any]:
        return {"error": {"code": self.status, "message": self.message, "status": self.reason}}


def failure(exc: Exception) -> Response:
    """An emulator bug, reported as the server would (500 INTERNAL), logged with its type."""
    answer = EmulatorError(500, f"emulator failure: {type(exc).__name__}: {exc}", "INTERNAL").response()
    answer.error = f"{type(exc).__name__}: {exc}"
    return answer
