"""The PyGithub features this package needs, checked once at import so an old install fails clearly.

``Workflow.create_dispatch(..., throw=True)`` (raise on a failed dispatch instead of returning
False) first shipped in PyGithub 2.9.0: PyGithub/PyGithub commit 19e1c5032 "Add `throw` option
to `Workflow.create_dispatch` to raise exceptions (#2966)", released in tag v2.9.0
(3a17ecf4a5a4dc873f2632470a712497b38eea88, doc/changes.rst). On 2.3-2.8 every dispatch would raise
TypeError.
"""

from __future__ import annotations

import inspect

from planet_sentinel.errors import SentinelError

PYGITHUB_FLOOR = "2.9"


def installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("PyGithub")
    except PackageNotFoundError:
        return "unknown"


def check_pygithub() -> None:
    """Raise a SentinelError naming the needed version if the installed PyGithub is too old.

    A missing PyGithub is not an error here (helpers such as the drift-report reader work without
    it); :func:`require_pygithub` says so when the API is actually needed."""
    try:
        from github.Workflow import Workflow
    except ImportError:
        return
    if "throw" not in inspect.signature(Workflow.create_dispatch).parameters:
        raise SentinelError(
            f"PyGithub {installed_version()} is too old: planet-sentinel needs PyGithub>={PYGITHUB_FLOOR} "
            f"(Workflow.create_dispatch(throw=...)); run: pip install 'PyGithub>={PYGITHUB_FLOOR}'"
        )


def require_pygithub() -> None:
    """A clear error instead of an ImportError traceback when the ``github`` extra is missing."""
    try:
        import github  # noqa: F401 - PyGithub
    except ImportError:
        raise SentinelError(
            f"PyGithub is not installed: pip install 'planet-sentinel[github]' (PyGithub>={PYGITHUB_FLOOR})"
        ) from None
    check_pygithub()
