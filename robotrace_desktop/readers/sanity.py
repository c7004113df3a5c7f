"""Last check on every EpisodeInfo a reader yields: damaged time data must not reach the
catalog as an absurd duration (10^22 ns from a corrupt ``length``, 292 years from a corrupt
``duration``) — SQLite cannot even store numbers past int64, and the viewer would draw a
timeline nobody can use. Such values become 0/None with a problem sentence naming the file.

It is also where a ``failed`` status is held to account: every reader's EpisodeInfo passes
here, so a recording can never be ``failed`` without a sentence saying why (a problem, or the
run's own ``failure_reason``) — a silent failure reads, downstream, as "the run failed"."""

from __future__ import annotations

from dataclasses import replace

from robotrace_desktop.core.episode import EpisodeInfo, Status

#: Longest plausible episode: a year of recording (a week-long soak test fits easily).
MAX_DURATION_NS = 365 * 24 * 3600 * 10**9
_INT64 = (-(2**63), 2**63 - 1)


def _fits(value: int | None) -> bool:
    return value is None or (isinstance(value, int) and _INT64[0] <= value <= _INT64[1])


def check_episode(info: EpisodeInfo) -> EpisodeInfo:
    """``info`` with implausible durations and out-of-range times replaced (in place), and a
    reason on every ``failed`` status."""
    explain_failed_status(info)
    duration = info.duration_ns
    if not isinstance(duration, int) or not 0 <= duration <= MAX_DURATION_NS:
        seconds = f"{duration / 1e9:.3g} s" if isinstance(duration, int | float) else repr(duration)
        info.problems.append(
            f"{info.path}: duration {seconds} is not plausible (damaged time data); shown as 0"
        )
        info.duration_ns = 0
    if not _fits(info.start_time_ns):
        info.problems.append(f"{info.path}: start time {info.start_time_ns} is out of range")
        info.start_time_ns = None
    streams = []
    for stream in info.streams:
        if not (_fits(stream.t_start_ns) and _fits(stream.t_end_ns) and _fits(stream.count)):
            info.problems.append(
                f"{info.path}: stream {stream.name!r} has times out of range; not shown"
            )
            stream = replace(
                stream, t_start_ns=None, t_end_ns=None, count=max(0, min(stream.count, _INT64[1]))
            )
        streams.append(stream)
    info.streams = streams
    return info


def explain_failed_status(info: EpisodeInfo) -> EpisodeInfo:
    """A ``failed`` episode without a problem or a ``failure_reason`` gets a problem saying
    so: the status stays what the reader decided, but it is never silent."""
    silent = not info.problems and not info.metadata.get("failure_reason")
    if info.status == Status.FAILED and silent:
        info.problems.append(
            f"{info.path}: the reader marked this recording failed without giving a reason "
            f"({len(info.streams)} stream(s) read); please report it with the file"
        )
    return info
