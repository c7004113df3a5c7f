"""Tests of the optional extras (``pip install ".[wandb]"`` and friends).

``pip install ".[test]" && python -m pytest -q`` is the README's test command, so a test that
needs an extra must skip cleanly where the extra is absent — and must not be able to skip
silently in CI, which installs the extras on purpose. So:

- a test (or module) that needs an extra is marked ``@pytest.mark.extra("wandb")``; where the
  extra's module cannot be imported it is skipped, naming the ``pip install`` that enables it;
- with ``ROBOTRACE_REQUIRE_EXTRAS=1`` (``.ci/run`` sets it after installing the extras) the same
  test fails instead, so CI cannot pass on skipped extra tests;
- a test module imports an extra's module with ``optional_import`` (``None`` when absent), so
  the module still collects and its tests that need no extra still run; or with
  ``lazy_import`` when only tests marked with the extra use it: nothing is imported until one
  of them does (mlflow and wandb take seconds to import, in every xdist worker that collects
  the module, whether or not it runs those tests).

``pytest -m extra`` selects exactly the tests of the extras.
"""

from __future__ import annotations

import functools
import importlib
import os
from types import ModuleType
from typing import Any

REQUIRE_ENV = "ROBOTRACE_REQUIRE_EXTRAS"
#: the extra's name in pyproject.toml -> a module only that extra installs
EXTRA_MODULES = {
    "wandb": "wandb",
    "mlflow": "mlflow",
    "ray": "ray",
    "otel-export": "opentelemetry.exporter.otlp.proto.http",
}


def extras_required() -> bool:
    """Whether a missing extra is a failure (CI) rather than a skip (a user's fresh venv)."""
    return os.environ.get(REQUIRE_ENV) == "1"


@functools.cache
def is_installed(extra: str) -> bool:
    """Whether the extra's module imports (not just exists: a broken install is absent too)."""
    if extra not in EXTRA_MODULES:
        raise ValueError(f"unknown extra {extra!r}; known: {', '.join(sorted(EXTRA_MODULES))}")
    return optional_import(EXTRA_MODULES[extra]) is not None


def missing_reason(extra: str) -> str:
    return (
        f'needs the [{extra}] extra, not installed: pip install ".[{extra}]" '
        f"({REQUIRE_ENV}=1 makes this a failure)"
    )


def optional_import(name: str) -> ModuleType | None:
    """``name`` imported, or ``None`` when its extra is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


class LazyModule:
    """A module imported on first attribute access (``lazy_import``)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def lazy_import(name: str) -> Any:
    """``name``, imported when first used: for module-level names that only tests marked
    ``extra`` use (skipped before they touch it when the extra is absent)."""
    return LazyModule(name)
