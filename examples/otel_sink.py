"""Log an eval episode inside an OpenTelemetry span and export it as spans.

The episode's metadata gets the span's ``trace_id`` / ``span_id`` / ``traceparent`` (the
episode view's Tracing card shows them, with "Open trace" when ROBOTRACE_TRACE_URL_TEMPLATE is
set), and the OTel sink exports a ``robotrace.episode`` span — linked to the eval span, with a
``robotrace.finding`` child per finding — through the same TracerProvider. Swap the console
exporter for an OTLP one to send it to Jaeger, Tempo, Honeycomb, Datadog, Langfuse or Phoenix.

    pip install 'robotrace-desktop[otel]' opentelemetry-sdk
    python examples/otel_sink.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

import robotrace_desktop as rt
from robotrace_desktop.sinks.otel_sink import OtelSink

provider = TracerProvider(resource=Resource.create({"service.name": "pick-eval"}))
provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("eval-loop")

with tempfile.TemporaryDirectory() as tmp:
    client = rt.Client(
        library=Path(tmp) / "library",
        catalog=Path(tmp) / "catalog.sqlite",
        sinks=[OtelSink()],  # the global provider set above; or OtelSink(tracer_provider=...)
    )
    t_ns = np.arange(200, dtype=np.int64) * 10_000_000  # 2 s at 100 Hz
    command = np.where(t_ns < 1_000_000_000, 0.0, 1.5)  # a step the joint follows late
    position = np.convolve(command, np.ones(30) / 30)[: len(t_ns)]
    with tracer.start_as_current_span("eval episode 0"):
        episode = client.log_episode(
            name="eval episode 0",
            source="sim",
            policy_version="pick-v0.3.1",
            env_version="tabletop-v2",
            git_sha="0123456789abcdef0123456789abcdef01234567",
            seed=0,
            sensors={"/joint_states": {"t_ns": t_ns, "joint_1": position}},
            actions={"/action": {"t_ns": t_ns, "joint_1": command}},
            status="failed",  # the sink marks the span ERROR; Explain adds findings
            failure_time_s=1.5,
            metadata={"failure_reason": "TimeoutError: joint_1 did not reach the goal"},
        )
    client.close()
    print("logged", episode.url, "in trace", episode.info.metadata["otel"]["trace_id"])
    print("findings:", [f.cause for f in episode.findings], "warnings:", episode.warnings)
