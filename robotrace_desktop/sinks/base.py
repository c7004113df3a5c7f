"""What every sink implements, and the fail-soft way to call sinks.

A sink is optional plumbing: a broken one (extra not installed, server down, bad credentials)
logs a warning and returns it as text — it never breaks ``log_episode``, a scan or a verify
run. Sinks are named ("wandb", "mlflow", "otel") so the CLI (``export-to NAME``,
``verify --export-to NAME``) and the SDK (``rt.init(sinks=[...])``) can make them by name.
"""

from __future__ import annotations

import importlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from robotrace_desktop.errors import ConfigurationError

if TYPE_CHECKING:
    from robotrace_desktop.core.episode import EpisodeInfo
    from robotrace_desktop.core.finding import Finding
    from robotrace_desktop.verify.model import VerifyResult

log = logging.getLogger(__name__)

#: name -> "module:Class"; the module imports its third-party library lazily or at import
SINKS = {
    "wandb": "robotrace_desktop.sinks.wandb_sink:WandbSink",
    "mlflow": "robotrace_desktop.sinks.mlflow_sink:MlflowSink",
    "otel": "robotrace_desktop.sinks.otel_sink:OtelSink",
}
#: the pip extra that provides each sink's library
EXTRAS = {"wandb": "wandb", "mlflow": "mlflow", "otel": "otel"}


class Sink(ABC):
    """One destination. Instances may hold a connection/run; ``close`` releases it."""

    name: str = ""

    @abstractmethod
    def export_episode(self, info: EpisodeInfo, findings: Sequence[Finding]) -> None:
        """One episode (reproducibility fields, outcome, streams summary, deep link) and its
        ranked findings."""

    @abstractmethod
    def export_verify(self, result: VerifyResult) -> None:
        """A verify run: verdict, gate checks, metric rows, the worst pairs."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Flush and release (finish a W&B run, end an MLflow run, flush spans)."""


def make_sink(name: str, **options: Any) -> Sink:
    """Build the sink called ``name``. ConfigurationError names the extra to install when its
    library is missing, or the option that is wrong."""
    target = SINKS.get(name)
    if target is None:
        raise ConfigurationError(f"unknown sink {name!r} (known: {', '.join(sorted(SINKS))})")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, class_name)
        return cls(**options)
    except ImportError as exc:
        raise ConfigurationError(
            f"the {name} sink needs its optional extra: pip install "
            f"'robotrace-desktop[{EXTRAS[name]}]' ({exc})"
        ) from None


def call_safely(sinks: Iterable[Sink], action: Callable[[Sink], None]) -> list[str]:
    """Run ``action`` on every sink; a failure is logged and returned as one warning line
    ("wandb: ConnectionError: ..."), never raised."""
    warnings: list[str] = []
    for sink in sinks:
        try:
            action(sink)
        except Exception as exc:  # a sink must never break logging or verify
            text = f"{sink.name or type(sink).__name__}: {type(exc).__name__}: {exc}"
            log.warning("sink failed: %s", text)
            warnings.append(text)
    return warnings


def make_sinks_safely(names: Iterable[str], **options: Any) -> tuple[list[Sink], list[str]]:
    """Build sinks by name, fail-soft: (the ones that could be made, warnings for the rest)."""
    made: list[Sink] = []
    warnings: list[str] = []
    for name in names:
        try:
            made.append(make_sink(name, **options.get(name, {})))
        except Exception as exc:
            text = f"{name}: {exc}"
            log.warning("sink unavailable: %s", text)
            warnings.append(text)
    return made, warnings
