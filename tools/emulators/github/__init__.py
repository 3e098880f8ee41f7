"""The GitHub REST emulator (see :mod:`tools.emulators.github.emulator`)."""

from tools.emulators.github.core import BOT, ApiError
from tools.emulators.github.emulator import GitHubEmulator
from tools.emulators.github.routes import ROUTES
from tools.emulators.github.state import DEFAULT_REPO, default_state

__all__ = ["BOT", "DEFAULT_REPO", "ROUTES", "ApiError", "GitHubEmulator", "default_state"]
