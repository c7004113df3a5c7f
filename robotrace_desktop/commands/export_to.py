"""``export-to wandb|mlflow|otel EPISODE... | --all``: send catalog episodes and their stored
findings to another tool.

The episodes are resolved first (ids, id prefixes, links, scanned paths), so a typo exports
nothing. Each episode then goes through the sink fail-soft: one that fails is reported as a
warning line and the rest are still exported (exit 1). A sink whose extra is not installed, or
whose options are wrong, stops before anything is sent, with one line saying what to install
(exit 2). Findings are the ones Explain stored; run ``explain --all`` first for fresh ones.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from robotrace_desktop.catalog.findings import findings_for
from robotrace_desktop.commands.common import open_catalog, print_json, progress_bar
from robotrace_desktop.core.episode import EpisodeInfo
from robotrace_desktop.core.finding import Finding
from robotrace_desktop.episodes import resolve
from robotrace_desktop.errors import ConfigurationError, RobotraceError
from robotrace_desktop.sinks.base import Sink, call_safely, make_sink

PROG = "robotrace-desktop export-to"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
WARNINGS_SHOWN = 20
SERVICE_NAME = "robotrace-desktop"
#: per sink: command-line option -> the sink's keyword
SINK_OPTIONS = {
    "wandb": {"project": "project", "entity": "entity"},
    "mlflow": {"tracking_uri": "tracking_uri", "experiment": "experiment"},
}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "export-to",
        help="export episodes and their findings to W&B, MLflow or OpenTelemetry",
        description="Export catalog episodes (reproducibility fields, outcome, deep link) and "
        "their stored Explain findings through a sink: wandb (tables and summary counts), "
        "mlflow (one run per episode) or otel (one span per episode, over OTLP/HTTP). Each "
        "needs its extra, e.g. pip install 'robotrace-desktop[wandb]'. Exit 0 when everything "
        "was exported, 1 when some episodes failed, 2 on usage errors or a missing extra.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "episodes", nargs="*", metavar="EPISODE", help="id, scanned path, DATASET#index or link"
    )
    common.add_argument("--all", action="store_true", help="every episode in the catalog")
    common.add_argument("--json", action="store_true", help="print what was exported as JSON")
    # one sub-command per sink: its own options, and EPISODEs may follow them
    sinks = parser.add_subparsers(dest="sink", metavar="SINK", required=True)
    wandb = sinks.add_parser("wandb", parents=[common], help="Weights & Biases tables")
    wandb.add_argument("--project", help="W&B project (default: WANDB_PROJECT or robotrace)")
    wandb.add_argument("--entity", help="W&B entity (team or user)")
    mlflow = sinks.add_parser("mlflow", parents=[common], help="one MLflow run per episode")
    mlflow.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI)")
    mlflow.add_argument(
        "--experiment", help="MLflow experiment (default: MLFLOW_EXPERIMENT_NAME or robotrace)"
    )
    sinks.add_parser(
        "otel",
        parents=[common],
        help="OpenTelemetry spans to OTEL_EXPORTER_OTLP_ENDPOINT (default localhost:4318)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        if args.all == bool(args.episodes):
            raise RobotraceError("give one or more EPISODEs or --all")
        options = sink_options(args)
        with open_catalog(args) as catalog:
            ids = _episode_ids(args, catalog)
            exporter = None
            if args.sink == "otel":
                options["tracer_provider"], exporter = otlp_tracer_provider()
            try:
                sink = _make_sink(args.sink, options)
                if sink is None:
                    return EXIT_FAILED
                failed, closing = _export(args, catalog, sink, ids)
            finally:
                if "tracer_provider" in options:
                    options["tracer_provider"].shutdown()
            if exporter is not None and exporter.unsent:
                closing.append(
                    f"otel: {exporter.unsent} span(s) could not be sent to {otlp_endpoint()}"
                )
    except RobotraceError as exc:  # ConfigurationError names the extra to install
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    exported = [i for i in ids if i not in failed]
    _report(args, exported, failed, closing)
    return EXIT_FAILED if failed or closing else EXIT_OK


def _make_sink(name: str, options: dict[str, Any]) -> Sink | None:
    """The sink; RobotraceError (a missing extra, a bad option) propagates as a usage error,
    anything else the library raised (bad credentials…) is printed and gives None."""
    try:
        return make_sink(name, **options)
    except RobotraceError:
        raise
    except Exception as exc:
        print(f"{PROG}: error: {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None


def sink_options(args: argparse.Namespace) -> dict[str, Any]:
    """The chosen sink's keywords from its command-line options (argparse rejects the options
    of another sink)."""
    options: dict[str, Any] = {}
    for option, keyword in SINK_OPTIONS.get(args.sink, {}).items():
        value = getattr(args, option, None)
        if value is not None:
            options[keyword] = value
    return options


def otlp_tracer_provider() -> tuple[Any, Any]:
    """A command has no application TracerProvider to borrow: the spans go over OTLP/HTTP to
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` (default http://localhost:4318), the collector (or Jaeger,
    Tempo, Langfuse, Phoenix…) a team already runs. ``OTEL_SERVICE_NAME`` and the other
    standard variables apply. Returns (provider, the exporter that counts unsent spans)."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )
    except ImportError as exc:
        raise ConfigurationError(
            "export-to otel sends spans over OTLP/HTTP, which needs the OpenTelemetry SDK: "
            f"pip install 'robotrace-desktop[otel-export]' ({exc})"
        ) from None

    class CountingExporter(SpanExporter):
        """The OTLP exporter only logs a failed send; count them so the command can say so."""

        def __init__(self) -> None:
            self.inner = OTLPSpanExporter()
            self.unsent = 0

        def export(self, spans: Any) -> Any:
            result = self.inner.export(spans)
            if result is not SpanExportResult.SUCCESS:
                self.unsent += len(spans)
            return result

        def shutdown(self) -> None:
            self.inner.shutdown()

        def force_flush(self, timeout_millis: int = 30_000) -> bool:
            return bool(self.inner.force_flush(timeout_millis))

    named = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": SERVICE_NAME}
    provider = TracerProvider(resource=Resource.create(named))
    exporter = CountingExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider, exporter


def otlp_endpoint() -> str:
    return (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or "http://localhost:4318"
    )


def _episode_ids(args: argparse.Namespace, catalog: Any) -> list[str]:
    if args.all:
        return [info.id for info in catalog.list_episodes()]
    ids: dict[str, None] = {}
    for argument in args.episodes:
        resolved = resolve(argument, catalog)
        if not resolved.in_catalog:
            raise RobotraceError(
                f"{argument}: not in the catalog; scan it first (robotrace-desktop scan PATH)"
            )
        ids[resolved.info.id] = None
    return list(ids)


def _export(
    args: argparse.Namespace, catalog: Any, sink: Sink, ids: list[str]
) -> tuple[dict[str, str], list[str]]:
    """Export every episode fail-soft: ({episode id: "episode NAME (ID): warning"} for the ones
    that failed, warnings from closing the sink)."""
    failed: dict[str, str] = {}
    update, close_bar = progress_bar(enabled=sys.stderr.isatty() and not args.json, unit="ep")
    try:
        for done, episode_id in enumerate(ids, start=1):
            info = catalog.get(episode_id)
            action = _exporter(info, findings_for(catalog, episode_id))
            for warning in call_safely([sink], action):
                failed[episode_id] = f"episode {info.name} ({episode_id}): {warning}"
            if update is not None:
                update(done, len(ids), info.name)
    finally:
        close_bar()
        closing = call_safely([sink], lambda s: s.close())
    return failed, closing


def _exporter(info: EpisodeInfo, findings: list[Finding]) -> Callable[[Sink], None]:
    return lambda sink: sink.export_episode(info, findings)


def _report(
    args: argparse.Namespace, exported: list[str], failed: dict[str, str], closing: list[str]
) -> None:
    if args.json:
        print_json({"sink": args.sink, "exported": exported, "failed": failed, "warnings": closing})
    else:
        total = len(exported) + len(failed)
        trouble = "; the sink reported a problem (see the warnings)" if closing else ""
        print(f"exported {len(exported)} of {total} episode(s) to {args.sink}{trouble}")
    lines = [*failed.values(), *closing]
    for line in lines[:WARNINGS_SHOWN]:
        print(f"{PROG}: warning: {line}", file=sys.stderr)
    if len(lines) > WARNINGS_SHOWN:
        print(f"{PROG}: warning: … and {len(lines) - WARNINGS_SHOWN} more", file=sys.stderr)
