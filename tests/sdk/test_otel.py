"""trace_context(): the real ids of the active span (sampled or not, local or remote parent),
and None — never an exception, never a made-up id — when there is nothing to correlate with."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from robotrace_desktop.core.otel import (
    TRACE_URL_ENV,
    TraceContext,
    parse_trace_context,
    trace_context,
    trace_url,
)
from robotrace_desktop.errors import ValidationError

TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
REMOTE_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
REMOTE_SPAN = "00f067aa0ba902b7"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer(exporter: InMemorySpanExporter) -> trace.Tracer:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("tests")


def expected(span: trace.Span, flags: str | None = None) -> dict[str, str]:
    """The block for ``span``; flags default to the span's own (the W3C propagator's)."""
    ctx = span.get_span_context()
    trace_id, span_id = trace.format_trace_id(ctx.trace_id), trace.format_span_id(ctx.span_id)
    flags = f"{ctx.trace_flags:02x}" if flags is None else flags
    return {
        "trace_id": trace_id,
        "span_id": span_id,
        "traceparent": f"00-{trace_id}-{span_id}-{flags}",
    }


def injected_traceparent(span: trace.Span) -> str:
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier, trace.set_span_in_context(span))
    return carrier["traceparent"]


def test_a_sampled_span_gives_its_own_ids(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span("eval") as span:
        block = trace_context()
    assert block == expected(span)
    # the sampled bit is set; the traceparent is exactly what the W3C propagator sends on
    # (OTel >= 1.3x also sets the "random trace id" bit 0x02 of W3C level 2: flags "03")
    assert int(block["traceparent"][-2:], 16) & 0x01
    assert block["traceparent"] == injected_traceparent(span)
    match = TRACEPARENT.fullmatch(block["traceparent"])
    assert match and match.group(1) == block["trace_id"] and match.group(2) == block["span_id"]
    assert trace_context() is None  # the span ended: nothing is active any more


def test_the_innermost_span_is_the_one_recorded(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span("train") as outer:
        with tracer.start_as_current_span("episode") as inner:
            block = trace_context()
        assert trace_context() == expected(outer)
    assert block == expected(inner)
    assert block["trace_id"] == expected(outer)["trace_id"]


def test_a_non_sampled_span_still_correlates_with_flags_00(
    exporter: InMemorySpanExporter,
) -> None:
    provider = TracerProvider(sampler=ParentBased(ALWAYS_OFF))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("tests").start_as_current_span("eval") as span:
        assert not span.get_span_context().trace_flags.sampled
        block = trace_context()
    assert exporter.get_finished_spans() == ()  # really not sampled: nothing exported
    assert block == expected(span)
    assert block["traceparent"] == injected_traceparent(span)
    flags = int(block["traceparent"][-2:], 16)
    assert flags & 0x01 == 0  # not sampled; only the "random trace id" bit may remain
    assert flags & ~0x02 == 0
    assert int(block["trace_id"], 16) != 0 and int(block["span_id"], 16) != 0


@pytest.fixture
def remote_parent(request: pytest.FixtureRequest) -> Iterator[None]:
    """A traceparent header, as an eval harness receives it, extracted and made current."""
    header = f"00-{REMOTE_TRACE}-{REMOTE_SPAN}-{request.param}"
    extracted = TraceContextTextMapPropagator().extract({"traceparent": header})
    token = otel_context.attach(extracted)
    try:
        yield
    finally:
        otel_context.detach(token)


@pytest.mark.parametrize("remote_parent", ["01", "00"], indirect=True)
def test_a_remote_parent_from_a_traceparent_header(
    remote_parent: None, request: pytest.FixtureRequest
) -> None:
    flags = request.node.callspec.params["remote_parent"]
    # directly under the extracted context: the remote span itself is the active one
    assert trace_context() == {
        "trace_id": REMOTE_TRACE,
        "span_id": REMOTE_SPAN,
        "traceparent": f"00-{REMOTE_TRACE}-{REMOTE_SPAN}-{flags}",
    }
    # a local child joins the remote trace, keeps the parent's sampling decision
    provider = TracerProvider()  # ParentBased(ALWAYS_ON) by default
    with provider.get_tracer("tests").start_as_current_span("episode") as span:
        block = trace_context()
    assert block == expected(span, flags)
    assert block["trace_id"] == REMOTE_TRACE and block["span_id"] != REMOTE_SPAN


def test_no_active_span_gives_none() -> None:
    assert trace.get_current_span() is trace.INVALID_SPAN
    assert trace_context() is None


def test_invalid_span_made_current_gives_none() -> None:
    with trace.use_span(trace.INVALID_SPAN):
        assert trace_context() is None
    invalid = trace.NonRecordingSpan(trace.SpanContext(trace_id=0, span_id=0x1234, is_remote=True))
    with trace.use_span(invalid):
        assert trace_context() is None


def test_an_exception_inside_otel_gives_none(
    monkeypatch: pytest.MonkeyPatch, tracer: trace.Tracer
) -> None:
    def broken() -> trace.Span:
        raise RuntimeError("context storage is broken")

    with tracer.start_as_current_span("eval"):
        assert trace_context() is not None
        monkeypatch.setattr(trace, "get_current_span", broken)
        assert trace_context() is None
        monkeypatch.undo()


def test_out_of_range_ids_from_a_foreign_span_give_none(monkeypatch: pytest.MonkeyPatch) -> None:
    class Weird:
        is_valid = True
        trace_id = 1 << 130  # does not fit in 128 bits: formatting it would invent an id
        span_id = 5
        trace_flags = 1

    class WeirdSpan:
        def get_span_context(self) -> Weird:
            return Weird()

    monkeypatch.setattr(trace, "get_current_span", WeirdSpan)
    assert trace_context() is None


def test_without_opentelemetry_installed_gives_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # "import opentelemetry" fails
    assert trace_context() is None


def test_the_module_imports_and_answers_none_when_the_api_is_missing() -> None:
    code = (
        "import sys\n"
        "sys.modules['opentelemetry'] = None\n"
        "from robotrace_desktop.core.otel import trace_context\n"
        "print(repr(trace_context()))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"


# --- reading a stored block back --------------------------------------------------------


def test_a_stored_block_round_trips(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span("eval") as span:
        block = trace_context()
    parsed = parse_trace_context(block)
    assert parsed.as_dict() == block
    assert parsed.sampled and parsed.flags == f"{span.get_span_context().trace_flags:02x}"
    assert int(parsed.trace_id, 16) == span.get_span_context().trace_id


@pytest.mark.parametrize(
    ("block", "reason"),
    [
        ("00-abc", "not a mapping"),
        ({"span_id": REMOTE_SPAN}, "trace_id None"),
        ({"trace_id": REMOTE_TRACE.upper(), "span_id": REMOTE_SPAN}, "32 lowercase hex"),
        ({"trace_id": REMOTE_TRACE[:-1], "span_id": REMOTE_SPAN}, "32 lowercase hex"),
        ({"trace_id": REMOTE_TRACE, "span_id": REMOTE_SPAN + "0"}, "16 lowercase hex"),
        ({"trace_id": "0" * 32, "span_id": REMOTE_SPAN}, "all zeros"),
        ({"trace_id": REMOTE_TRACE, "span_id": REMOTE_SPAN}, "traceparent None is missing"),
        (
            {
                "trace_id": REMOTE_TRACE,
                "span_id": REMOTE_SPAN,
                "traceparent": f"00-{REMOTE_TRACE}-{'1' * 16}-01",
            },
            "for these ids",
        ),
        (
            {
                "trace_id": REMOTE_TRACE,
                "span_id": REMOTE_SPAN,
                "traceparent": f"00-{REMOTE_TRACE}-{REMOTE_SPAN}-1",
            },
            "for these ids",
        ),
    ],
)
def test_a_malformed_block_is_refused_with_the_reason(block: object, reason: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(reason)):
        parse_trace_context(block)


CTX = TraceContext(REMOTE_TRACE, REMOTE_SPAN, "01")


def test_trace_url_fills_only_the_three_fields() -> None:
    template = "https://tempo.example/explore?trace={trace_id}&span={span_id}&tp={traceparent}"
    assert trace_url(template, CTX) == (
        f"https://tempo.example/explore?trace={REMOTE_TRACE}&span={REMOTE_SPAN}"
        f"&tp=00-{REMOTE_TRACE}-{REMOTE_SPAN}-01"
    )


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("https://x.example/{trace_id}/{service}", "unknown field {service}"),
        ("https://x.example/{trace_id.__class__}", "unknown field {trace_id.__class__}"),
        ("https://x.example/{0}", "unknown field {0}"),
        ("https://x.example/{}", "unknown field {}"),
        ("https://x.example/{trace_id", "expected '}'"),
        ("https://x.example/trace_id}", "Single '}'"),
        ("https://x.example/{trace_id:d}", "Unknown format code"),
        ("javascript:alert('{trace_id}')", "not an http(s) URL"),
        ("file:///etc/{trace_id}", "not an http(s) URL"),
        ("https:///{trace_id}", "not an http(s) URL"),
    ],
)
def test_a_bad_template_says_why(template: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(reason)) as info:
        trace_url(template, CTX)
    assert TRACE_URL_ENV in str(info.value)
