"""Something raised or logged an error: ``failure_reason`` ("Type: message") or a Python
traceback in the metadata, and ERROR/FATAL log events.

A symptom (ranking.SYMPTOMS): the first error's time is the best estimate of when the run
failed, so repeated errors are collapsed into one finding at the FIRST one (a node that logs
the same error 500 times is one problem, and its first line is the one to read). A
``failure_reason`` without a time of its own takes the first ERROR/FATAL time; when that log line
names the same exception, the two are reported once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes.outcome import metadata_failure_time_ns
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext
from robotrace_desktop.analysis.finding import Finding, channel_ref
from robotrace_desktop.core.episode import LogEvent
from robotrace_desktop.core.timebase import NS_PER_S as NS

CAUSE = "raised_exception"

thresholds.register(
    CAUSE,
    confidence_exception=(0.95, "confidence for an exception named in the metadata"),
    confidence_fatal=(0.9, "confidence for FATAL log events"),
    confidence_error=(0.8, "confidence for ERROR log events"),
    max_texts=(5, "how many distinct error texts the evidence lists"),
)

ERROR_LEVELS = frozenset({"ERROR", "ERR"})
FATAL_LEVELS = frozenset({"FATAL", "CRITICAL", "CRIT", "EMERG", "ALERT"})
TRACEBACK = "Traceback (most recent call last)"
_EXC_LINE = re.compile(r"^\s*(?P<type>[A-Za-z_][\w.]*)\s*:\s*(?P<message>.*\S)?\s*$")
_METADATA_KEYS = ("failure_reason", "exception", "error", "traceback", "failure")


def analyze(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    errors = [e for e in data.events() if is_error(e)]
    exception = _metadata_exception(data.info.metadata)
    findings: list[Finding] = []
    merged = False
    if exception is not None:
        key, exc_type, message, text = exception
        first = errors[0] if errors else None
        merged = first is not None and any(
            part and part in first.text for part in (exc_type, message)
        )
        t_meta = metadata_time(data)
        t_start = t_meta if t_meta is not None else (first.t_ns if first else None)
        evidence: dict[str, object] = {
            "metadata_key": key,
            "exception_type": exc_type,
            "message": message,
            "text": text[-2000:],
        }
        when = f" at {t_start / NS:.2f} s" if t_start is not None else ""
        channels: list[str] = []
        if merged and first is not None:
            evidence.update(_log_evidence(errors, ctx))
            channels.append(channel_ref(first.source) if first.source else "")
            channels = [c for c in channels if c]
        findings.append(
            Finding(
                cause=CAUSE,
                title=f"{exc_type} raised" if exc_type else "The run reported an error",
                explanation=(
                    f"{exc_type or 'An error'} was raised{when}: {message or text[:200]}"
                    + (f" (logged {len(errors)}×)" if merged and len(errors) > 1 else "")
                    + "."
                ),
                confidence=float(ctx.t(CAUSE, "confidence_exception")),
                severity="critical",
                t_start_ns=t_start,
                channels=channels,
                evidence=evidence,
                next_step=(
                    f"Read the traceback / log{when}; the exception is where the run stopped, "
                    "the cause is usually in the seconds before it."
                ),
            )
        )
    if errors and not merged:
        findings.append(_log_finding(errors, ctx))
    return findings


def _log_finding(errors: list[LogEvent], ctx: ExplainContext) -> Finding:
    first = errors[0]
    fatal = any(_level(e) in FATAL_LEVELS for e in errors)
    raised = _looks_raised(first.text)
    level = "FATAL" if fatal else "ERROR"
    count = len(errors)
    confidence = float(ctx.t(CAUSE, "confidence_fatal" if fatal else "confidence_error"))
    where = f" from {first.source}" if first.source else ""
    more = f" ({count} error lines, last at {errors[-1].t_ns / NS:.2f} s)" if count > 1 else ""
    return Finding(
        cause=CAUSE,
        title=f"{level} logged" + (f": {raised} raised" if raised else ""),
        explanation=(
            f"First {level if fatal else 'ERROR'} at {first.t_ns / NS:.2f} s{where}: "
            f"{_short(first.text)}{more}."
        ),
        confidence=confidence,
        severity="critical" if (fatal or raised) else "high",
        t_start_ns=first.t_ns,
        t_end_ns=errors[-1].t_ns if count > 1 else None,
        channels=sorted({channel_ref(e.source) for e in errors if e.source}),
        evidence=_log_evidence(errors, ctx),
        next_step=(
            f"Open the log around {first.t_ns / NS:.1f} s{where} and read the lines before the "
            "first error; later repeats are usually consequences."
        ),
    )


def _log_evidence(errors: list[LogEvent], ctx: ExplainContext) -> dict[str, object]:
    limit = int(ctx.t(CAUSE, "max_texts"))
    texts: list[str] = []
    for event in errors:
        short = _short(event.text)
        if short not in texts:
            texts.append(short)
        if len(texts) >= limit:
            break
    return {
        "error_count": len(errors),
        "fatal_count": sum(_level(e) in FATAL_LEVELS for e in errors),
        "first_error_ns": errors[0].t_ns,
        "last_error_ns": errors[-1].t_ns,
        "first_texts": texts,
    }


def _level(event: LogEvent) -> str:
    return str(event.level).strip().upper()


def is_error(event: LogEvent) -> bool:
    """An ERROR- or FATAL-level log line (any spelling of the level a logger uses)."""
    return _level(event) in ERROR_LEVELS | FATAL_LEVELS


def _short(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _looks_raised(text: str) -> str | None:
    """The exception type when a log line is a traceback or starts with "SomeError: ..."."""
    if TRACEBACK in text:
        parsed = _parse_traceback(text)
        return parsed[0] if parsed else "exception"
    match = _EXC_LINE.match(text.splitlines()[0] if text else "")
    if match and re.search(r"(Error|Exception|Fault)$", match.group("type")):
        return match.group("type")
    return None


def _metadata_exception(metadata: dict[str, object]) -> tuple[str, str, str | None, str] | None:
    """(metadata key, exception type, message, full text) from failure_reason or a traceback."""
    for key in _METADATA_KEYS:
        text = metadata.get(key)
        if isinstance(text, str) and text.strip():
            return (key, *_parse_reason(text.strip()), text.strip())
    for key, text in _strings(metadata):
        if TRACEBACK in text:
            parsed = _parse_traceback(text)
            if parsed:
                return key, parsed[0], parsed[1], text
    return None


def _parse_reason(text: str) -> tuple[str, str | None]:
    if TRACEBACK in text:
        parsed = _parse_traceback(text)
        if parsed:
            return parsed
    match = _EXC_LINE.match(text.splitlines()[0])
    if match and " " not in match.group("type"):
        return match.group("type"), match.group("message")
    return "", text


def _parse_traceback(text: str) -> tuple[str, str | None] | None:
    """The exception line of a Python traceback: its last line that looks like ``Type: msg``."""
    for line in reversed(text.strip().splitlines()):
        if line.startswith((" ", "\t")):
            continue
        match = _EXC_LINE.match(line)
        if match:
            return match.group("type"), match.group("message")
        if line.strip() and not line.startswith(TRACEBACK):
            return line.strip(), None  # a bare "KeyboardInterrupt"
    return None


def _strings(node: object, prefix: str = "", depth: int = 0) -> Iterator[tuple[str, str]]:
    """Every string in nested metadata (bounded depth), with its dotted key."""
    if depth > 4:
        return
    if isinstance(node, str):
        yield prefix, node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, f"{prefix}.{k}" if prefix else str(k), depth + 1)
    elif isinstance(node, list | tuple):
        for i, v in enumerate(node[:100]):
            yield from _strings(v, f"{prefix}[{i}]", depth + 1)


def metadata_time(data: EpisodeData) -> int | None:
    """The failure time the episode's metadata gives (None: none given)."""
    info = data.info
    return metadata_failure_time_ns(info.metadata, info.start_time_ns, info.duration_ns)
