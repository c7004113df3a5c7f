"""Export episodes, findings and verify runs as OpenTelemetry spans.

One ``robotrace.episode`` span per episode (the reproducibility fields as attributes, placed at
the recording's own time), a ``robotrace.finding`` child per ranked finding, and for a verify run
a ``robotrace.verify`` span with ``robotrace.gate_check`` and ``robotrace.pair`` children. Any
OTLP backend (Jaeger, Tempo, Honeycomb, Datadog, Langfuse, Phoenix…) then shows robot runs next
to the training/eval traces: an episode logged inside a span (``metadata["otel"]``) is linked to
that span.

Only ``opentelemetry-api`` is needed; spans go wherever the application's TracerProvider sends
them (without an SDK they are no-ops). The service name belongs to the provider's Resource, so
``service_name`` names the instrumentation scope here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from robotrace_desktop import __version__
from robotrace_desktop.core.episode import Outcome, Status
from robotrace_desktop.core.links import EpisodeLink
from robotrace_desktop.core.otel import parse_trace_context
from robotrace_desktop.core.timebase import NS_PER_S as NS
from robotrace_desktop.errors import RobotraceError, ValidationError
from robotrace_desktop.sinks.base import Sink

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer, TracerProvider

    from robotrace_desktop.core.episode import EpisodeInfo
    from robotrace_desktop.core.finding import Finding
    from robotrace_desktop.verify.model import VerifyResult

#: regressed pairs exported per verify run, worst first (a trace view is not a table)
MAX_PAIRS = 25
FLUSH_TIMEOUT_MS = 30_000

EPISODE_SPAN = "robotrace.episode"
FINDING_SPAN = "robotrace.finding"
VERIFY_SPAN = "robotrace.verify"
GATE_CHECK_SPAN = "robotrace.gate_check"
PAIR_SPAN = "robotrace.pair"
METRIC_EVENT = "robotrace.metric"


def _attributes(prefix: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """OTel attributes: None dropped (OTel would warn), lists of str kept, others as str."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool | int | float | str):
            out[f"{prefix}.{key}"] = value
        elif isinstance(value, list | tuple):
            out[f"{prefix}.{key}"] = [str(v) for v in value]
        else:
            out[f"{prefix}.{key}"] = str(getattr(value, "value", value))
    return out


def episode_attributes(info: EpisodeInfo) -> dict[str, Any]:
    """The ``robotrace.episode.*`` attributes: what you need to find and re-run the episode."""
    reason = info.metadata.get("failure_reason")
    return _attributes(
        "robotrace.episode",
        {
            "id": info.id,
            "name": info.name,
            "url": EpisodeLink(info.id).url(),
            "source": info.source,
            "robot": info.robot,
            "policy_version": info.policy_version,
            "env_version": info.env_version,
            "git_sha": info.git_sha,
            "seed": info.seed,
            "task": info.task,
            "outcome": info.outcome.value,
            "status": info.status.value,
            "duration_s": info.duration_ns / NS,
            "kind": info.kind,
            "failure_reason": None if reason in (None, "") else str(reason),
            "missing_reproducibility": info.missing_reproducibility or None,
        },
    )


def finding_attributes(finding: Finding, start_time_ns: int | None) -> dict[str, Any]:
    values: dict[str, Any] = {
        "cause": finding.cause,
        "title": finding.title,
        "confidence": finding.confidence,
        "severity": finding.severity,
        "rank": finding.rank,
        "explanation": finding.explanation,
        "next_step": finding.next_step or None,
        "channels": finding.channels or None,
        "t_start_s": None if finding.t_start_ns is None else finding.t_start_ns / NS,
        "t_end_s": None if finding.t_end_ns is None else finding.t_end_ns / NS,
    }
    if start_time_ns is not None and finding.t_start_ns is not None:
        values["t_start_ns"] = start_time_ns + int(finding.t_start_ns)  # absolute epoch ns
    return _attributes("robotrace.finding", values)


class OtelSink(Sink):
    """Spans through ``tracer_provider`` (the global one by default)."""

    name = "otel"

    def __init__(
        self, tracer_provider: TracerProvider | None = None, service_name: str = "robotrace-desktop"
    ) -> None:
        from opentelemetry import trace  # ImportError → make_sink names the [otel] extra
        from opentelemetry.context import Context

        self._trace = trace
        self._empty_context = Context
        self._provider = tracer_provider
        if tracer_provider is None:
            self._tracer: Tracer = trace.get_tracer(service_name, __version__)
        else:
            self._tracer = tracer_provider.get_tracer(service_name, __version__)

    # --- episodes -----------------------------------------------------------------------

    def export_episode(self, info: EpisodeInfo, findings: Sequence[Finding]) -> None:
        start, end = self._episode_times(info)
        failed = info.outcome == Outcome.FAILURE or info.status == Status.FAILED
        with self._span(
            EPISODE_SPAN,
            start,
            end,
            None,
            episode_attributes(info),
            links=self._links(info),
            error=self._failure_text(info) if failed else None,
        ) as episode:
            for finding in findings:
                f_start, f_end = self._finding_times(finding, start, end)
                with self._span(
                    FINDING_SPAN,
                    f_start,
                    f_end,
                    episode,
                    finding_attributes(finding, info.start_time_ns),
                ):
                    pass

    @staticmethod
    def _episode_times(info: EpisodeInfo) -> tuple[int, int]:
        """The recording's own start + duration; unknown start → the span ends now."""
        duration = max(int(info.duration_ns or 0), 0)
        if info.start_time_ns is not None:
            return int(info.start_time_ns), int(info.start_time_ns) + duration
        now = time.time_ns()
        return now - duration, now

    @staticmethod
    def _finding_times(finding: Finding, start: int, end: int) -> tuple[int, int]:
        """Episode time → span time, inside the episode span; a finding with no time is an
        instant at the episode start."""
        if finding.t_start_ns is None:
            return start, start
        f_start = min(max(start + int(finding.t_start_ns), start), end)
        t_end = finding.t_end_ns if finding.t_end_ns is not None else finding.t_start_ns
        f_end = min(max(start + int(t_end), f_start), end)
        return f_start, f_end

    def _links(self, info: EpisodeInfo) -> list[Any]:
        """A link to the span the episode was logged in, when its metadata says which."""
        block = info.metadata.get("otel")
        if block is None:
            return []
        try:
            ctx = parse_trace_context(block)
        except ValidationError:
            return []  # a malformed block links to nothing rather than to a made-up trace
        span_context = self._trace.SpanContext(
            trace_id=int(ctx.trace_id, 16),
            span_id=int(ctx.span_id, 16),
            is_remote=True,
            trace_flags=self._trace.TraceFlags(int(ctx.flags, 16)),
        )
        return [self._trace.Link(span_context, {"robotrace.link": "logged_in"})]

    @staticmethod
    def _failure_text(info: EpisodeInfo) -> str:
        reason = info.metadata.get("failure_reason")
        if reason not in (None, ""):
            return str(reason)
        return f"episode {info.status.value}, outcome {info.outcome.value}"

    # --- verify -------------------------------------------------------------------------

    def export_verify(self, result: VerifyResult) -> None:
        end = time.time_ns()
        start = end - max(int(result.elapsed_s * NS), 0)
        regressed = [p for p in result.pairs if p.regressed]
        counts = {
            "baseline_episodes": len(result.baseline_ids),
            "candidate_episodes": len(result.candidate_ids),
            "pairs": len(result.pairs),
            "regressed_pairs": len(regressed),
            "checks": len(result.checks),
            "failed_checks": len(result.failed_checks),
            "errors": len(result.errors),
        }
        attributes = _attributes(
            "robotrace.verify",
            {
                "verdict": result.verdict,
                "baseline": result.baseline,
                "candidate": result.candidate,
                "policy": result.policy,
                "gate": result.gate_path,
                "cancelled": result.cancelled,
                "elapsed_s": result.elapsed_s,
                **counts,
            },
        )
        failed = result.verdict == "fail"
        error = "; ".join(c.name for c in result.failed_checks) or "verdict fail"
        with self._span(
            VERIFY_SPAN, start, end, None, attributes, error=error if failed else None
        ) as verify:
            for metric in result.metrics:
                verify.add_event(
                    METRIC_EVENT,
                    _attributes(
                        "robotrace.metric",
                        {
                            "name": metric.metric,
                            "label": metric.label,
                            "unit": metric.unit,
                            "baseline": metric.baseline,
                            "candidate": metric.candidate,
                            "delta": metric.delta,
                            "p_value": metric.p_value,
                            "better": metric.better,
                        },
                    ),
                    timestamp=end,
                )
            for check in result.checks:
                with self._span(
                    GATE_CHECK_SPAN,
                    start,
                    end,
                    verify,
                    _attributes("robotrace.gate_check", check.to_dict()),
                    error=None if check.passed else check.detail,
                ):
                    pass
            for pair in regressed[:MAX_PAIRS]:
                values = {k: v for k, v in pair.to_dict().items() if k != "diffs"}
                values |= {
                    f"diff.{k}": v
                    for k, v in pair.diffs.items()
                    if isinstance(v, bool | int | float | str)
                }
                with self._span(
                    PAIR_SPAN,
                    start,
                    end,
                    verify,
                    _attributes("robotrace.pair", values),
                    error=pair.summary or "regressed",
                ):
                    pass

    # --- plumbing -----------------------------------------------------------------------

    @contextmanager
    def _span(
        self,
        name: str,
        start: int,
        end: int,
        parent: Span | None,
        attributes: Mapping[str, Any],
        *,
        links: Sequence[Any] = (),
        error: str | None = None,
    ) -> Iterator[Span]:
        """A span with explicit times; no parent → a new root (an export is not part of
        whatever span happens to be current). Ended even when a child fails."""
        trace = self._trace
        context = self._empty_context() if parent is None else trace.set_span_in_context(parent)
        span = self._tracer.start_span(
            name,
            context=context,
            kind=trace.SpanKind.INTERNAL,
            attributes=dict(attributes),
            links=list(links),
            start_time=start,
        )
        try:
            if error is not None:
                span.set_status(trace.Status(trace.StatusCode.ERROR, error))
            yield span
        finally:
            span.end(end_time=end)

    def close(self) -> None:
        """Flush the provider's span processors (batch exporters send on their own clock)."""
        provider = self._provider or self._trace.get_tracer_provider()
        flush = getattr(provider, "force_flush", None)
        if callable(flush) and flush(FLUSH_TIMEOUT_MS) is False:
            raise RobotraceError(f"spans were not flushed within {FLUSH_TIMEOUT_MS / 1000:g} s")
