"""The GitHub REST emulator (see :mod:`tools.emulators.github.emulator`)."""

from tools.emulators.github.emulator import (
    BOT,
    DEFAULT_REPO,
    ROUTES,
    ApiError,
    GitHubEmulator,
    default_state,
)

__all__ = ["BOT", "DEFAULT_REPO", "ROUTES", "ApiError", "GitHubEmulator", "default_state"]
