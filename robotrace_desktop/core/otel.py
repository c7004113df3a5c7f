"""OpenTelemetry correlation: which trace an episode was logged in.

When a training or eval loop runs inside a span, the episode it logs carries
``metadata["otel"] = {"trace_id", "span_id", "traceparent"}`` so a person can jump from the
episode to the trace (Datadog, Honeycomb, Tempo, Jaeger…) and back. Only ``opentelemetry-api``
is used, imported lazily: without it, or outside a span, there is simply no block. This module
never raises and never invents ids — a wrong trace link is worse than none.

The validation and URL helpers are here too (Qt-free) so the Tracing card and the OTel sink
read a stored block the same way: a recording's metadata is input, not trusted.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from robotrace_desktop.errors import ValidationError

#: env var holding the "Open trace" URL, e.g. ``https://ui.honeycomb.io/t/trace?trace_id={trace_id}``
TRACE_URL_ENV = "ROBOTRACE_TRACE_URL_TEMPLATE"
#: the only fields a URL template may use
TEMPLATE_KEYS = ("trace_id", "span_id", "traceparent")

_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_SPAN_ID = re.compile(r"[0-9a-f]{16}")
_FLAGS = re.compile(r"[0-9a-f]{2}")


@dataclass(frozen=True, slots=True)
class TraceContext:
    """A validated W3C trace context: lowercase hex ids, never all zeros."""

    trace_id: str  # 32 lowercase hex
    span_id: str  # 16 lowercase hex
    flags: str = "00"  # 2 lowercase hex; bit 0 = sampled

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    @property
    def sampled(self) -> bool:
        return bool(int(self.flags, 16) & 0x01)

    def as_dict(self) -> dict[str, str]:
        """The ``metadata["otel"]`` block."""
        return {"trace_id": self.trace_id, "span_id": self.span_id, "traceparent": self.traceparent}

    @classmethod
    def from_ints(cls, trace_id: int, span_id: int, flags: int) -> TraceContext:
        """From OTel's integer ids; ValidationError when out of range or zero (invalid)."""
        if not 0 < trace_id < 1 << 128:
            raise ValidationError(f"trace_id {trace_id!r} is not a valid 128-bit trace id")
        if not 0 < span_id < 1 << 64:
            raise ValidationError(f"span_id {span_id!r} is not a valid 64-bit span id")
        if not 0 <= flags < 1 << 8:
            raise ValidationError(f"trace flags {flags!r} do not fit in one byte")
        return cls(f"{trace_id:032x}", f"{span_id:016x}", f"{flags:02x}")


def trace_context() -> dict[str, str] | None:
    """The active span's ``{"trace_id", "span_id", "traceparent"}``, sampled or not.

    None when opentelemetry-api is not installed, there is no active span (or it is
    INVALID_SPAN), or anything inside OTel raises. Never raises."""
    try:
        from opentelemetry import trace
    except Exception:  # not installed (ImportError), or a broken install
        return None
    try:
        context = trace.get_current_span().get_span_context()
        if context is None or not context.is_valid:
            return None
        return TraceContext.from_ints(
            int(context.trace_id), int(context.span_id), int(context.trace_flags)
        ).as_dict()
    except Exception:  # correlation is a nicety: it must never break logging
        return None


def parse_trace_context(block: object) -> TraceContext:
    """Validate a stored ``metadata["otel"]`` block. ValidationError says what is wrong.

    ``trace_id`` (32 lowercase hex) and ``span_id`` (16) are required and not all zeros;
    ``traceparent`` is required and must be version 00 with the same ids."""
    if not isinstance(block, Mapping):
        raise ValidationError(f"otel block is a {type(block).__name__}, not a mapping")
    trace_id, span_id, parent = (block.get(k) for k in TEMPLATE_KEYS)
    if not isinstance(trace_id, str) or not _TRACE_ID.fullmatch(trace_id):
        raise ValidationError(f"trace_id {trace_id!r} is not 32 lowercase hex digits")
    if not isinstance(span_id, str) or not _SPAN_ID.fullmatch(span_id):
        raise ValidationError(f"span_id {span_id!r} is not 16 lowercase hex digits")
    if int(trace_id, 16) == 0 or int(span_id, 16) == 0:
        raise ValidationError("trace_id and span_id must not be all zeros")
    if not isinstance(parent, str):
        raise ValidationError(f"traceparent {parent!r} is missing")
    parts = parent.split("-")
    if (
        len(parts) != 4
        or parts[0] != "00"
        or parts[1] != trace_id
        or parts[2] != span_id
        or not _FLAGS.fullmatch(parts[3])
    ):
        raise ValidationError(
            f"traceparent {parent!r} is not '00-<trace_id>-<span_id>-<flags>' for these ids"
        )
    return TraceContext(trace_id, span_id, parts[3])


def trace_url(template: str, context: TraceContext) -> str:
    """Fill a ``ROBOTRACE_TRACE_URL_TEMPLATE``. Only ``{trace_id}``, ``{span_id}`` and
    ``{traceparent}`` are allowed (no attribute or index access); the result must be an
    http(s) URL with a host. ValidationError says what is wrong with the template."""
    fields = context.as_dict()
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:  # a lone "{" or "}"
        raise ValidationError(f"{TRACE_URL_ENV} {template!r}: {exc}") from None
    for _literal, name, _spec, _conversion in parsed:
        if name is not None and name not in fields:
            allowed = ", ".join("{" + k + "}" for k in TEMPLATE_KEYS)
            raise ValidationError(
                f"{TRACE_URL_ENV} {template!r}: unknown field {{{name}}} (allowed: {allowed})"
            )
    try:
        url = template.format_map(fields)
    except (ValueError, KeyError, IndexError) as exc:  # e.g. a format spec hex ids reject
        raise ValidationError(f"{TRACE_URL_ENV} {template!r}: {exc}") from None
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValidationError(f"{TRACE_URL_ENV} gives {url!r}, not an http(s) URL")
    return url
