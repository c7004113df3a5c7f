"""Tests of the optional extras (``pip install ".[wandb]"`` and friends).

``pip install ".[test]" && python -m pytest -q`` is the README's test command, so a test that
needs an extra must skip cleanly where the extra is absent — and must not be able to skip
silently in CI, which installs the extras on purpose. So:

- a test (or module) that needs an extra is marked ``@pytest.mark.extra("wandb")``; where the
  extra's module cannot be imported it is skipped, naming the ``pip install`` that enables it;
- with ``ROBOTRACE_REQUIRE_EXTRAS=1`` (``.ci/run`` sets it after installing the extras) the same
  test fails instead, so CI cannot pass on skipped extra tests;
- a test module imports an extra's module with ``optional_import`` (``None`` when absent), so
  the module still collects and its tests that need no extra still run.

``pytest -m extra`` selects exactly the tests of the extras.
"""

from __future__ import annotations

import functools
import importlib
import os
from types import ModuleType

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
