"""The planner's version, in one place: every output carries it."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("planner")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
