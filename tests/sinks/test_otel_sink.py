"""The OTel sink as a tracing backend sees it: one span per episode at the recording's own
time with the reproducibility fields, findings as children, a link to the trace the episode was
logged in, verify runs with their gate checks and worst pairs — and a broken exporter or a
missing SDK never breaks anything."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from robotrace_desktop.core.episode import EpisodeInfo, Outcome, Status
from robotrace_desktop.core.finding import Finding
from robotrace_desktop.core.otel import trace_context
from robotrace_desktop.episodes import resolve
from robotrace_desktop.errors import ConfigurationError
from robotrace_desktop.library.explain_runner import explain_resolved
from robotrace_desktop.sinks.base import call_safely, make_sink
from robotrace_desktop.sinks.otel_sink import MAX_PAIRS, OtelSink
from robotrace_desktop.verify.model import GateCheck, MetricComparison, PairDiff, VerifyResult

S = 1_000_000_000
START = 1_700_000_000 * S


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
def sink(provider: TracerProvider) -> OtelSink:
    return OtelSink(tracer_provider=provider)


def by_name(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


def finding(cause: str, rank: int, t_start: int | None, t_end: int | None = None) -> Finding:
    return Finding(
        cause=cause,
        title=f"{cause} title",
        explanation=f"{cause} happened",
        confidence=0.8,
        severity="high",
        t_start_ns=t_start,
        t_end_ns=t_end,
        channels=["/joint_states/effort/gripper"],
        rank=rank,
    )


def episode(**changes: object) -> EpisodeInfo:
    values: dict[str, object] = {
        "id": "0123456789abcdef",
        "kind": "bundle",
        "path": "/lib/ep",
        "episode_index": None,
        "name": "pick cube, seed 7",
        "duration_ns": 12 * S,
        "start_time_ns": START,
        "source": "sim",
        "robot": "arm-7dof",
        "policy_version": "pick-v0.3.1",
        "env_version": "tabletop-v2",
        "git_sha": "a" * 40,
        "seed": 7,
        "task": "pick the red cube",
        "outcome": Outcome.FAILURE,
        "status": Status.FAILED,
        "metadata": {"failure_reason": "RuntimeError: gripper closed on nothing"},
    }
    values.update(changes)
    return EpisodeInfo(**values)  # type: ignore[arg-type]


# --- episodes ---------------------------------------------------------------------------


def test_a_real_bag_becomes_an_episode_span_with_its_finding(
    shared_data: Path, sink: OtelSink, exporter: InMemorySpanExporter
) -> None:
    resolved = resolve(str(shared_data / "ros1/example.bag"), None)
    info = resolved.info
    findings = explain_resolved(resolved, None)
    assert [f.cause for f in findings] == ["timestamp_gap"]
    sink.export_episode(info, findings)

    (span,) = by_name(exporter, "robotrace.episode")
    assert span.parent is None
    assert span.start_time == info.start_time_ns == 1396293887844783943
    assert span.end_time == info.start_time_ns + info.duration_ns
    attributes = dict(span.attributes or {})
    assert attributes["robotrace.episode.id"] == info.id
    assert attributes["robotrace.episode.url"] == f"robotrace://episode/{info.id}"
    assert attributes["robotrace.episode.kind"] == "rosbag1"
    assert attributes["robotrace.episode.name"] == info.name
    assert attributes["robotrace.episode.outcome"] == "unknown"
    assert attributes["robotrace.episode.status"] == "ready"
    assert attributes["robotrace.episode.duration_s"] == pytest.approx(21.700086256)
    assert "robotrace.episode.seed" not in attributes  # not recorded: absent, not "None"
    assert attributes["robotrace.episode.missing_reproducibility"] == (
        "policy_version",
        "env_version",
        "git_sha",
        "seed",
    )
    assert span.status.status_code == StatusCode.UNSET

    (child,) = by_name(exporter, "robotrace.finding")
    top = findings[0]
    assert child.parent is not None and child.parent.span_id == span.context.span_id
    assert child.context.trace_id == span.context.trace_id
    assert child.start_time == info.start_time_ns + top.t_start_ns
    assert child.end_time == info.start_time_ns + top.t_end_ns
    fa = dict(child.attributes or {})
    assert fa["robotrace.finding.cause"] == "timestamp_gap"
    assert fa["robotrace.finding.rank"] == 1
    assert fa["robotrace.finding.title"] == top.title
    assert fa["robotrace.finding.explanation"] == top.explanation
    assert fa["robotrace.finding.severity"] == top.severity
    assert fa["robotrace.finding.confidence"] == pytest.approx(top.confidence)
    assert fa["robotrace.finding.t_start_ns"] == info.start_time_ns + top.t_start_ns
    assert fa["robotrace.finding.t_start_s"] == pytest.approx(top.t_start_ns / S)


def test_a_failed_episode_has_every_field_an_error_status_and_ranked_children(
    sink: OtelSink, exporter: InMemorySpanExporter
) -> None:
    findings = [
        finding("gripper_closed_early", 1, 3 * S, 4 * S),
        finding("torque_spike", 2, 7 * S),  # an instant
        finding("battery", 3, None),  # not tied to a time: an instant at the start
        finding("late", 4, 11 * S, 30 * S),  # past the end: clamped into the episode
    ]
    sink.export_episode(episode(), findings)

    (span,) = by_name(exporter, "robotrace.episode")
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description == "RuntimeError: gripper closed on nothing"
    assert (span.start_time, span.end_time) == (START, START + 12 * S)
    assert {k: v for k, v in (span.attributes or {}).items()} == {
        "robotrace.episode.id": "0123456789abcdef",
        "robotrace.episode.name": "pick cube, seed 7",
        "robotrace.episode.url": "robotrace://episode/0123456789abcdef",
        "robotrace.episode.source": "sim",
        "robotrace.episode.robot": "arm-7dof",
        "robotrace.episode.policy_version": "pick-v0.3.1",
        "robotrace.episode.env_version": "tabletop-v2",
        "robotrace.episode.git_sha": "a" * 40,
        "robotrace.episode.seed": 7,
        "robotrace.episode.task": "pick the red cube",
        "robotrace.episode.outcome": "failure",
        "robotrace.episode.status": "failed",
        "robotrace.episode.duration_s": 12.0,
        "robotrace.episode.kind": "bundle",
        "robotrace.episode.failure_reason": "RuntimeError: gripper closed on nothing",
    }
    children = by_name(exporter, "robotrace.finding")
    assert [c.attributes["robotrace.finding.rank"] for c in children] == [1, 2, 3, 4]
    assert all(c.parent.span_id == span.context.span_id for c in children)
    assert [(c.start_time - START, c.end_time - START) for c in children] == [
        (3 * S, 4 * S),
        (7 * S, 7 * S),
        (0, 0),
        (11 * S, 12 * S),
    ]
    assert "robotrace.finding.t_start_ns" not in children[2].attributes


def test_only_a_failed_status_is_enough_for_an_error(
    sink: OtelSink, exporter: InMemorySpanExporter
) -> None:
    sink.export_episode(episode(outcome=Outcome.UNKNOWN, metadata={}), [])
    sink.export_episode(episode(status=Status.READY, outcome=Outcome.SUCCESS), [])
    failed, ok = by_name(exporter, "robotrace.episode")
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.status.description == "episode failed, outcome unknown"
    assert ok.status.status_code == StatusCode.UNSET


def test_an_episode_logged_inside_a_span_links_to_that_trace(
    sink: OtelSink, exporter: InMemorySpanExporter
) -> None:
    training = TracerProvider().get_tracer("training-loop")
    with training.start_as_current_span("eval epoch 3") as eval_span:
        block = trace_context()
        assert block is not None
        # exported while the training span is still current: still its own root
        sink.export_episode(episode(metadata={"otel": block}), [])

    (span,) = by_name(exporter, "robotrace.episode")
    assert span.parent is None
    assert span.context.trace_id != eval_span.get_span_context().trace_id
    (link,) = span.links
    assert link.context.trace_id == eval_span.get_span_context().trace_id
    assert link.context.span_id == eval_span.get_span_context().span_id
    assert link.context.is_remote
    assert link.context.trace_flags == eval_span.get_span_context().trace_flags
    assert dict(link.attributes or {}) == {"robotrace.link": "logged_in"}


@pytest.mark.parametrize(
    "block",
    [
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        {"trace_id": "4BF92F3577B34DA6A3CE929D0E0E4736", "span_id": "00f067aa0ba902b7"},
        {"trace_id": "0" * 32, "span_id": "00f067aa0ba902b7", "traceparent": "x"},
    ],
)
def test_a_malformed_otel_block_links_to_nothing(
    block: object, sink: OtelSink, exporter: InMemorySpanExporter
) -> None:
    sink.export_episode(episode(metadata={"otel": block}), [])
    (span,) = by_name(exporter, "robotrace.episode")
    assert span.links == ()


def test_an_episode_without_a_start_time_ends_now(
    shared_data: Path, sink: OtelSink, exporter: InMemorySpanExporter
) -> None:
    info = resolve(str(shared_data / "lerobot/g1_pick_bottle_v21#1"), None).info
    assert info.start_time_ns is None
    before = time.time_ns()
    sink.export_episode(info, [finding("late", 1, 2 * S)])
    after = time.time_ns()
    (span,) = by_name(exporter, "robotrace.episode")
    assert before <= span.end_time <= after
    assert span.end_time - span.start_time == info.duration_ns == 13_100_000_000
    assert span.attributes["robotrace.episode.kind"] == "lerobot"
    (child,) = by_name(exporter, "robotrace.finding")
    assert child.start_time == span.start_time + 2 * S  # placed in the span, no absolute time
    assert "robotrace.finding.t_start_ns" not in child.attributes


# --- verify -----------------------------------------------------------------------------


def verify_result(verdict: str = "fail") -> VerifyResult:
    pairs = [
        PairDiff(
            baseline_id=f"b{i:02d}",
            candidate_id=f"c{i:02d}",
            matched_on=["env_version", "seed"],
            diffs={"duration_s": 1.5, "notes": ["x"]},
            new_causes=["action_saturation"] if i % 2 else [],
            regression=float(40 - i),
            regressed=i != 3,  # one non-regressed pair in the middle is skipped
            summary=f"pair {i}: success → failure",
            moment_ns=i * S,
            link=f"robotrace://episode/c{i:02d}?t={i}000ms",
        )
        for i in range(30)
    ]
    return VerifyResult(
        verdict=verdict,  # type: ignore[arg-type]
        baseline="v1.2",
        candidate="v1.3",
        baseline_ids=[f"b{i:02d}" for i in range(30)],
        candidate_ids=[f"c{i:02d}" for i in range(31)],
        metrics=[
            MetricComparison("success_rate", "Success rate", "%", True, 0.81, 0.70, 30, 31, -0.11)
        ],
        pairs=pairs,
        checks=[
            GateCheck("success_rate_drop", verdict == "pass", "81% → 70% drops 11 points", -11, 2),
            GateCheck("new_critical_findings", True, "no new critical findings"),
        ],
        errors={"c30": "video missing"},
        policy="pkg.policy:make",
        gate_path="gate.toml",
        elapsed_s=12.5,
    )


def test_a_verify_run_with_its_gate_checks_and_worst_pairs(
    sink: OtelSink, exporter: InMemorySpanExporter
) -> None:
    before = time.time_ns()
    sink.export_verify(verify_result())
    (span,) = by_name(exporter, "robotrace.verify")
    assert span.parent is None
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description == "success_rate_drop"
    assert span.end_time - span.start_time == int(12.5 * S)
    assert span.end_time >= before
    attributes = dict(span.attributes or {})
    assert attributes["robotrace.verify.verdict"] == "fail"
    assert attributes["robotrace.verify.baseline"] == "v1.2"
    assert attributes["robotrace.verify.candidate"] == "v1.3"
    assert attributes["robotrace.verify.policy"] == "pkg.policy:make"
    assert attributes["robotrace.verify.baseline_episodes"] == 30
    assert attributes["robotrace.verify.candidate_episodes"] == 31
    assert attributes["robotrace.verify.pairs"] == 30
    assert attributes["robotrace.verify.regressed_pairs"] == 29
    assert attributes["robotrace.verify.failed_checks"] == 1
    assert attributes["robotrace.verify.errors"] == 1
    (event,) = span.events
    assert event.name == "robotrace.metric"
    assert event.attributes["robotrace.metric.name"] == "success_rate"
    assert event.attributes["robotrace.metric.delta"] == pytest.approx(-0.11)

    checks = by_name(exporter, "robotrace.gate_check")
    assert [c.attributes["robotrace.gate_check.name"] for c in checks] == [
        "success_rate_drop",
        "new_critical_findings",
    ]
    assert [c.attributes["robotrace.gate_check.passed"] for c in checks] == [False, True]
    assert checks[0].attributes["robotrace.gate_check.detail"] == "81% → 70% drops 11 points"
    assert checks[0].attributes["robotrace.gate_check.threshold"] == 2
    assert [c.status.status_code for c in checks] == [StatusCode.ERROR, StatusCode.UNSET]

    pairs = by_name(exporter, "robotrace.pair")
    assert len(pairs) == MAX_PAIRS == 25
    expected = [f"b{i:02d}" for i in range(30) if i != 3][:25]
    assert [p.attributes["robotrace.pair.baseline_id"] for p in pairs] == expected
    first = dict(pairs[0].attributes or {})
    assert first["robotrace.pair.candidate_id"] == "c00"
    assert first["robotrace.pair.matched_on"] == ("env_version", "seed")
    assert first["robotrace.pair.summary"] == "pair 0: success → failure"
    assert first["robotrace.pair.diff.duration_s"] == 1.5
    assert "robotrace.pair.diff.notes" not in first
    assert first["robotrace.pair.link"] == "robotrace://episode/c00?t=0000ms"
    for child in [*checks, *pairs]:
        assert child.parent.span_id == span.context.span_id
        assert child.context.trace_id == span.context.trace_id


def test_a_passing_verify_run_is_not_an_error(
    sink: OtelSink, exporter: InMemorySpanExporter
) -> None:
    sink.export_verify(verify_result("pass"))
    (span,) = by_name(exporter, "robotrace.verify")
    assert span.status.status_code == StatusCode.UNSET
    assert span.attributes["robotrace.verify.failed_checks"] == 0


# --- plumbing: global provider, flushing, failures, missing libraries --------------------


def test_make_sink_by_name_uses_the_given_provider(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    sink = make_sink("otel", tracer_provider=provider)
    assert isinstance(sink, OtelSink) and sink.name == "otel"
    sink.export_episode(episode(), [])
    (span,) = exporter.get_finished_spans()
    assert span.instrumentation_scope.name == "robotrace-desktop"


def test_close_flushes_a_batching_provider(exporter: InMemorySpanExporter) -> None:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=600_000))
    try:
        sink = OtelSink(provider)
        sink.export_episode(episode(), [finding("x", 1, S)])
        assert exporter.get_finished_spans() == ()  # still queued in the batch
        sink.close()
        assert [s.name for s in exporter.get_finished_spans()] == [
            "robotrace.finding",
            "robotrace.episode",
        ]
    finally:
        provider.shutdown()


class RaisingProcessor(SpanProcessor):
    """A processor that exports synchronously and lets the exporter's error through (OTel's
    SimpleSpanProcessor would swallow it)."""

    def on_end(self, span: ReadableSpan) -> None:
        raise ConnectionError("collector at localhost:4318 refused the connection")


class RaisingExporter(SpanExporter):
    def export(self, spans: object) -> SpanExportResult:
        raise ConnectionError("collector down")


def test_a_raising_export_becomes_a_warning_through_call_safely(
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider = TracerProvider()
    provider.add_span_processor(RaisingProcessor())
    sink = OtelSink(provider)
    with pytest.raises(ConnectionError):
        sink.export_episode(episode(), [finding("x", 1, S)])
    with caplog.at_level(logging.WARNING):
        warnings = call_safely([sink], lambda s: s.export_episode(episode(), []))
        warnings += call_safely([sink], lambda s: s.export_verify(verify_result()))
    assert (
        warnings
        == [
            "otel: ConnectionError: collector at localhost:4318 refused the connection",
        ]
        * 2
    )
    assert "sink failed: otel: ConnectionError" in caplog.text


def test_an_exporter_that_raises_inside_otel_breaks_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RaisingExporter()))
    sink = OtelSink(provider)
    with caplog.at_level(logging.ERROR):
        assert call_safely([sink], lambda s: s.export_episode(episode(), [])) == []
    assert "Exception while exporting Span" in caplog.text  # OTel logged it itself


def test_a_flush_that_times_out_is_a_warning() -> None:
    class Stuck(TracerProvider):
        def force_flush(self, timeout_millis: int = 30_000) -> bool:
            return False

    warnings = call_safely([OtelSink(Stuck())], lambda s: s.close())
    assert warnings == ["otel: RobotraceError: spans were not flushed within 30 s"]


def test_without_opentelemetry_make_sink_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'robotrace-desktop\[otel\]'"):
        make_sink("otel")


def test_with_only_the_api_spans_are_no_ops() -> None:
    """No SDK (as with the [otel] extra alone) and no provider configured: the global
    provider's spans are no-ops and nothing raises."""
    code = (
        "import sys\n"
        "sys.modules['opentelemetry.sdk'] = None\n"
        "from opentelemetry import trace\n"
        "from robotrace_desktop.core.episode import EpisodeInfo\n"
        "from robotrace_desktop.core.finding import Finding\n"
        "from robotrace_desktop.sinks.base import call_safely, make_sink\n"
        "from robotrace_desktop.verify.model import VerifyResult\n"
        "sink = make_sink('otel')\n"
        "t, s = '1' * 32, '2' * 16\n"
        "block = {'trace_id': t, 'span_id': s, 'traceparent': f'00-{t}-{s}-01'}\n"
        "info = EpisodeInfo('e1', 'bundle', '/x', None, 'ep', 10**9, metadata={'otel': block})\n"
        "f = Finding('c', 't', 'e', 0.5, 'low', t_start_ns=5)\n"
        "w = call_safely([sink], lambda s: s.export_episode(info, [f]))\n"
        "w += call_safely([sink], lambda s: s.export_verify(VerifyResult('pass', 'a', 'b')))\n"
        "w += call_safely([sink], lambda s: s.close())\n"
        "print(w, type(trace.get_tracer_provider()).__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] ProxyTracerProvider"
