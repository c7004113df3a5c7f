"""Timing faults: gaps in a periodic stream, clock jumps, and dropped camera frames.

Every stream is judged against its own median interval, so a 500 Hz sensor and a 10 Hz
planner are treated alike. Only periodic or *continuous* streams can have gaps — a stream
placed by a jittery clock is tested on its steadiest clock (its header stamps), or against its
own reach when it has no other (``_gaps``); event-like streams (a teleop ``cmd_vel`` sent on
key presses, ``/tf`` bursts, ``/tf_static``, parameter events, anything with fewer than
``min_samples`` samples) have no nominal interval to miss and never alarm.

A gap that every active stream (and every camera) shows at the same moment is not a stream
dropping out: it is the recording clock jumping forward (or the recorder pausing) and is
reported once as ``clock_jump``, as are times that go backwards within a stream.

Every clock a recording carries is checked, not only the timeline's (``_clocks``): a ROS
topic's header stamps as well as its record time, a LeRobot dataset's recorded ``timestamp``
column as well as ``frame_index``. Where one clock steps while another keeps its pace, the step
is a clock jump (``clock_jump``) — or, for LeRobot, rows missing behind a contiguous
``frame_index`` (``timestamp_gap``); a timeline gap the other clock does not show is that jump,
not lost samples.
"""

from __future__ import annotations

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes._clocks import (
    TIMELINE,
    ClockStep,
    clock_steps,
    clocks_of,
    collapse_interleaves,
)
from robotrace_desktop.analysis.causes._gaps import (
    KEY_ROLES,
    Timeline,
    gap_finding,
    gap_over,
    stream_timeline,
)
from robotrace_desktop.analysis.causes._interleave import doubled_stretches
from robotrace_desktop.analysis.causes._series import median as median_of
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext, Signal
from robotrace_desktop.analysis.finding import Finding, channel_ref
from robotrace_desktop.core.timebase import NS_PER_S as NS
from robotrace_desktop.errors import StreamNotFoundError

GAP, JUMP, FRAMES = "timestamp_gap", "clock_jump", "dropped_frames"
#: share of a clock's periodic streams that must show a doubled stretch for it to be that clock
INTERLEAVE_SHARE = 2 / 3

thresholds.register(
    GAP,
    gap_factor=(5.0, "an interval longer than this × the stream's median interval is a gap"),
    steady_factor=(
        3.0,
        "…or this × on a steady stream, if also beyond_jitter × its jitter past the median",
    ),
    min_gap_s=(0.08, "…and at least this long (seconds)"),
    over_ordinary=(
        3.0,
        "…and longer than this × the stream's own ordinary long interval (its 98th percentile)",
    ),
    confident_gap_s=(0.25, "a gap this long (or longer) is confident on a key stream"),
    beyond_jitter=(
        10.0,
        "…as is one whose missing time is this × the stream's own jitter (its longest "
        "ordinary interval past its median)",
    ),
    min_samples=(10, "streams with fewer samples have no nominal rate and are skipped"),
    regular_fraction=(
        0.8,
        "share of intervals within ±50 % of the median for a stream to count as periodic",
    ),
    bursty_share=(
        0.25,
        "gaps covering more than this share of a stream's span (3+ gaps) mean it is bursty "
        "(teleop, on-demand), not dropping out: reported at low confidence only",
    ),
)
thresholds.register(
    JUMP,
    min_backward_s=(0.01, "a backwards step in a stream's times at least this long is a jump"),
    min_forward_s=(0.5, "a forward jump shared by every stream and camera at least this long"),
    min_interleave_s=(
        0.2,
        "a stretch this long where a periodic stream carries twice its samples (its rows "
        "interleaved by the reader) is its clock stepping back",
    ),
)
thresholds.register(
    FRAMES,
    gap_factor=(1.5, "a frame interval longer than this × the nominal interval misses frames"),
    min_missing_frames=(3, "missing frames needed before reporting"),
    min_missing_pct=(2.0, "missing frames as a percentage of the expected count to report…"),
    min_gap_s=(0.3, "…or a single gap at least this long (seconds)"),
)


def analyze(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    findings: list[Finding] = []
    timelines: list[Timeline] = []
    min_samples = int(ctx.t(GAP, "min_samples"))
    steps: list[ClockStep] = []
    timeline_jumps: set[tuple[str, int]] = set()
    for signal in data.signals():
        if signal.role == "noise" or len(signal.t_ns) < min_samples:
            continue
        jump = _backward_jump(signal, ctx)
        if jump is not None:
            findings.append(jump)
        line, gap_clock = _gap_timeline(data, signal, ctx)
        timelines.append(line)
        found = _steps(data, signal, ctx)
        steps += found
        timeline_jumps |= _stepped_gaps(line, [s for s in found if s.clock == gap_clock])
    timeline_jumps |= {
        (s.stream, s.t_ns) for s in steps if s.clock == _timeline_clock(data, s.stream)
    }
    findings += _step_findings(data, steps, ctx)
    cameras = data.frame_times()
    for name, times in cameras.items():
        if len(times) >= min_samples:
            timelines.append(stream_timeline(name, np.sort(np.asarray(times)), ctx, None))

    shared, shared_finding = _shared_jumps(timelines, ctx)
    if shared_finding is not None:
        findings.append(shared_finding)
    interleave = _interleave_finding(data, timelines, {s.stream for s in steps}, ctx)
    if interleave is not None:
        findings.append(interleave)
    for line in timelines:
        gaps = [
            g
            for g in line.gaps
            if (g.start_ns, g.length_ns) not in shared
            and (line.name, g.start_ns) not in timeline_jumps
        ]
        if line.signal is not None and gaps:
            others = sum(1 for other in timelines if other is not line and gap_over(other, gaps))
            findings.append(gap_finding(line, gaps, ctx, others))
    for name, times in cameras.items():
        finding = _dropped_frames(data, name, np.sort(np.asarray(times)), ctx, shared)
        if finding is not None:
            findings.append(finding)
    return findings


def _shared_jumps(
    timelines: list[Timeline], ctx: ExplainContext
) -> tuple[set[tuple[int, int]], Finding | None]:
    """Gaps that every stream active at that moment shows together: a clock jump."""
    min_forward = float(ctx.t(JUMP, "min_forward_s")) * NS
    shared: set[tuple[int, int]] = set()
    jumps: list[tuple[int, int, list[str]]] = []
    candidates = sorted((g for line in timelines for g in line.gaps), key=lambda g: -g.length_ns)
    for gap in candidates:
        if gap.length_ns < min_forward or (gap.start_ns, gap.length_ns) in shared:
            continue
        lo, hi = gap.start_ns, gap.start_ns + gap.length_ns
        covered: list[tuple[str, int, int]] = []
        for line in timelines:
            t = line.t_ns
            if t[0] >= hi or t[-1] <= lo:
                continue  # not recording around that moment
            inside = np.searchsorted(t, hi, "left") - np.searchsorted(t, lo, "right")
            if inside > 0:
                covered = []
                break  # this stream kept its samples during the gap: not a shared jump
            i = int(np.searchsorted(t, lo, "right")) - 1
            covered.append((line.name, int(t[i]), int(t[i + 1] - t[i])))
        if len(covered) >= 2:
            shared.update((start, length) for _, start, length in covered)
            jumps.append((lo, hi - lo, [name for name, _, _ in covered]))
    if not jumps:
        return shared, None
    jumps.sort()
    lo, length, names = jumps[0]
    more = f" ({len(jumps)} such jumps)" if len(jumps) > 1 else ""
    return shared, Finding(
        cause=JUMP,
        title="Recording clock jumped forward",
        explanation=(
            f"Every stream skips {length / NS:.2f} s at {lo / NS:.2f} s at the same moment "
            f"({', '.join(names[:4])}{'…' if len(names) > 4 else ''}){more}: the clock jumped "
            "or the recorder paused."
        ),
        confidence=0.7,
        severity="medium",
        t_start_ns=lo,
        t_end_ns=lo + length,
        channels=[channel_ref(n) for n in names],
        evidence={
            "jumps": [{"t_ns": a, "length_ns": b, "streams": c} for a, b, c in jumps],
            "min_forward_s": min_forward / NS,
        },
        next_step=(
            f"Check the recorder's clock around {lo / NS:.1f} s (NTP step, sim time reset, "
            "use_sim_time mismatch) or whether recording was paused."
        ),
    )


def _backward_jump(signal: Signal, ctx: ExplainContext) -> Finding | None:
    dt = np.diff(signal.t_ns)
    back = np.flatnonzero(dt < 0)
    if not len(back):
        return None
    worst = int(back[np.argmin(dt[back])])
    size = int(-dt[worst])
    positive = dt[dt > 0]
    median = median_of(positive) if len(positive) else 0.0
    big = size >= max(float(ctx.t(JUMP, "min_backward_s")) * NS, 5 * median)
    first = int(back[0])
    return Finding(
        cause=JUMP,
        title=f"Time goes backwards in {signal.stream}",
        explanation=(
            f"{signal.stream} times go backwards {len(back)}× — the first at "
            f"{signal.t_ns[first] / NS:.2f} s, the largest by {size / NS:.3f} s."
        ),
        confidence=0.8 if big else 0.3,
        severity="high" if big else "info",
        t_start_ns=int(signal.t_ns[first]),
        channels=[channel_ref(signal.stream)],
        evidence={
            "backward_steps": len(back),
            "largest_backward_ns": size,
            "largest_at_ns": int(signal.t_ns[worst]),
            "median_interval_ns": median,
            "min_backward_s": float(ctx.t(JUMP, "min_backward_s")),
        },
        next_step=(
            "Check which clock stamps this stream (header vs. record time, sim time resets) "
            "and whether the publisher reorders messages."
        ),
    )


def _dropped_frames(
    data: EpisodeData,
    camera: str,
    t: np.ndarray,
    ctx: ExplainContext,
    shared: set[tuple[int, int]],
) -> Finding | None:
    if len(t) < int(ctx.t(GAP, "min_samples")):
        return None
    dt = np.diff(t)
    positive = dt[dt > 0]
    if len(positive) < 2:
        return None
    median = median_of(positive)
    nominal = median
    try:
        fps = float(data.info.stream(camera).details.get("fps") or 0.0)
    except StreamNotFoundError:  # a camera without details just uses its median
        fps = 0.0
    if fps > 0 and median >= 0.75 * NS / fps:
        nominal = NS / fps  # the declared rate catches "every other frame dropped" too
    over = dt > float(ctx.t(FRAMES, "gap_factor")) * nominal
    for i in np.flatnonzero(over):
        if (int(t[i]), int(dt[i])) in shared:
            over[i] = False  # already reported as a clock jump
    idx = np.flatnonzero(over)
    missing_each = np.maximum(np.round(dt[idx] / nominal).astype(np.int64) - 1, 1)
    missing = int(missing_each.sum())
    if missing < int(ctx.t(FRAMES, "min_missing_frames")):
        return None
    expected = len(t) + missing
    pct = 100.0 * missing / expected
    worst = int(idx[np.argmax(dt[idx])])
    longest = int(dt[worst])
    min_pct = float(ctx.t(FRAMES, "min_missing_pct"))
    min_gap = float(ctx.t(FRAMES, "min_gap_s"))
    if pct < min_pct and longest < min_gap * NS:
        return None
    strength = max(pct / (5 * min_pct), (longest / NS) / (3 * min_gap))
    confidence = 0.55 + 0.35 * float(np.clip(strength, 0.0, 1.0))
    # a tenth of the frames gone, or a second-long hole: the policy acted on stale images,
    # as serious as any other fault that made it act blind
    severity = "high" if strength >= 1.0 else "medium"
    return Finding(
        cause=FRAMES,
        title=f"Camera {camera} dropped {missing} frames",
        explanation=(
            f"{camera} is missing {missing} of {expected} frames ({pct:.1f} % at "
            f"{NS / nominal:.1f} fps); the longest gap is {longest / NS:.2f} s at "
            f"{t[worst] / NS:.2f} s."
        ),
        confidence=confidence,
        severity=severity,
        t_start_ns=int(t[idx[0]]),
        t_end_ns=int(t[idx[-1] + 1]),
        channels=[channel_ref(camera)],
        evidence={
            "missing_frames": missing,
            "expected_frames": expected,
            "missing_pct": round(pct, 2),
            "longest_gap_ns": longest,
            "longest_gap_at_ns": int(t[worst]),
            "nominal_interval_ns": nominal,
            "gap_factor": float(ctx.t(FRAMES, "gap_factor")),
            "min_missing_pct": min_pct,
            "min_gap_s": min_gap,
        },
        next_step=(
            f"Check the camera driver and the recorder's disk/CPU around {t[worst] / NS:.1f} s; "
            "what the policy saw there is stale."
        ),
    )


# ---------------------------------------------------------------- every clock


def _gap_timeline(data: EpisodeData, signal: Signal, ctx: ExplainContext) -> tuple[Timeline, str]:
    """The stream's timeline for the gap test, on its steadiest clock. A stream placed by a
    jittery clock (a busy recorder's receive times) has no nominal interval there, but its
    publisher's header stamps may keep a steady beat: a hole in them is samples missing. That
    clock's times are brought onto the timeline by their median offset, so the gap is dated
    (to within the jitter) where the timeline has it and compares with other streams."""
    timeline = _timeline_clock(data, signal.stream)
    line = stream_timeline(signal.stream, np.sort(signal.t_ns), ctx, signal)
    if line.periodic:
        return line, timeline
    for name, t in clocks_of(signal, timeline).items():
        if name == timeline:
            continue
        order = np.argsort(t, kind="stable")
        offset = int(np.median(signal.t_ns[order] - t[order]))
        other = stream_timeline(signal.stream, t[order] + offset, ctx, signal)
        if other.periodic:
            return other, name
    return line, timeline


def _stepped_gaps(line: Timeline, steps: list[ClockStep]) -> set[tuple[str, int]]:
    """Gaps of ``line`` that are a clock step already found on the clock it was built from
    (that clock jumped while another ran on): reported as the jump, not as lost samples."""
    told = set()
    for gap in line.gaps:
        reach = gap.length_ns + NS // 10
        if any(s.step_ns > 0 and abs(s.t_ns - gap.start_ns) <= reach for s in steps):
            told.add((gap.stream, gap.start_ns))
    return told


def _timeline_clock(data: EpisodeData, stream: str) -> str:
    """The clock a stream's rows are placed by (``record``, ``header``, ``frame_index``...)."""
    try:
        return str(data.info.stream(stream).details.get("clock") or TIMELINE)
    except StreamNotFoundError:
        return TIMELINE


def _steps(data: EpisodeData, signal: Signal, ctx: ExplainContext) -> list[ClockStep]:
    timeline = _timeline_clock(data, signal.stream)
    found = clock_steps(
        signal,
        timeline,
        gap_factor=float(ctx.t(GAP, "gap_factor")),
        min_gap_s=float(ctx.t(GAP, "min_gap_s")),
        min_backward_s=float(ctx.t(JUMP, "min_backward_s")),
        regular_fraction=float(ctx.t(GAP, "regular_fraction")),
        over_ordinary=float(ctx.t(GAP, "over_ordinary")),
    )
    found = collapse_interleaves(found)
    unsorted = bool(np.any(np.diff(signal.t_ns) < 0))
    seen = [s for s in found if s.reference == timeline]

    def told(step: ClockStep) -> bool:
        if step.clock != timeline or step.step_ns >= 0:
            return False
        if unsorted:
            return True  # the timeline going backwards is reported by _backward_jump
        # a sorted timeline steps back only in another clock's order: the same disagreement,
        # if the other clock was already seen stepping in the timeline's order
        reach = abs(step.step_ns) + NS // 10
        return any(abs(o.t_ns - step.t_ns) <= reach for o in seen)

    return [s for s in found if not told(s)]


def _rows_missing(data: EpisodeData, step: ClockStep) -> bool:
    """A forward step of LeRobot's recorded timestamp behind a contiguous frame_index: rows
    are missing (frame_index counts the rows written, it is not a clock)."""
    return step.step_ns > 0 and _timeline_clock(data, step.stream) == "frame_index"


def _step_findings(data: EpisodeData, steps: list[ClockStep], ctx: ExplainContext) -> list[Finding]:
    """One finding per (cause, clock); streams sharing a clock (a LeRobot row's state and
    action) and showing the same step are named together."""
    groups: dict[tuple[str, str], dict[tuple[int, int], list[ClockStep]]] = {}
    for step in steps:
        cause = GAP if _rows_missing(data, step) else JUMP
        same = (round(step.t_ns / 1e7), round(step.step_ns / 1e7))  # 10 ms
        groups.setdefault((cause, step.clock), {}).setdefault(same, []).append(step)
    findings = []
    for (cause, clock), by_moment in groups.items():
        moments = sorted(by_moment.values(), key=lambda g: g[0].t_ns)
        findings.append(_step_finding(data, cause, clock, moments, ctx))
    return findings


def _step_finding(
    data: EpisodeData,
    cause: str,
    clock: str,
    moments: list[list[ClockStep]],
    ctx: ExplainContext,
) -> Finding:
    first = moments[0][0]
    largest = max((g[0] for g in moments), key=lambda s: abs(s.step_ns))
    streams = sorted({s.stream for g in moments for s in g})
    size = abs(largest.step_ns) / NS
    key = any(_role(data, s) in KEY_ROLES for s in streams)
    names = ", ".join(streams[:3]) + ("…" if len(streams) > 3 else "")
    more = f" ({len(moments)} such steps)" if len(moments) > 1 else ""
    if cause == GAP:
        frames = max(round(largest.step_ns / largest.normal_ns) - 1, 1)
        ratio = size / max(float(ctx.t(GAP, "min_gap_s")), 1e-3)
        confidence = 0.55 + 0.35 * float(np.clip((ratio - 1) / 3, 0.0, 1.0)) - (0 if key else 0.1)
        title = f"Recorded timestamps skip {size:.2f} s"
        explanation = (
            f"{names}: the recorded {clock} column jumps {size:.2f} s after "
            f"{largest.t_ns / NS:.2f} s (normally every {largest.normal_ns / 1e6:.1f} ms) while "
            f"{first.reference} continues without a hole{more}: about {frames} frames' worth of "
            "time has no rows — frames were dropped or the recording clock jumped. The timeline "
            f"({first.reference}) closes the hole up."
        )
        step_next = (
            f"Look at the rows around {first.t_ns / NS:.2f} s: what the policy saw and did "
            "across the hole is missing; check the recorder's load or the camera at that moment."
        )
    else:
        direction = "back" if largest.step_ns < 0 else "forward"
        confidence = 0.6 + 0.3 * float(np.clip(size / 1.0, 0.0, 1.0))
        title = f"{clock} clock jumps {direction} {size:.2f} s"
        explanation = (
            f"{names}: the {clock} clock jumps {direction} by {size:.2f} s at "
            f"{largest.t_ns / NS:.2f} s while {first.reference} time advances at its normal pace "
            f"(every {largest.normal_ns / 1e6:.1f} ms){more}."
        )
        if largest.interleaved:
            title = f"{clock} and {largest.reference} clocks disagree by {size:.2f} s"
            explanation = (
                f"{names}: up to {largest.t_ns / NS:.2f} s, rows that one clock stamps later "
                f"come before earlier rows by the other ({clock} vs {largest.reference}, "
                f"{size:.2f} s apart){more}: one of the two clocks jumped back {size:.2f} s "
                "there."
            )
        step_next = (
            f"Check what sets the {clock} clock (NTP step, sim time reset, use_sim_time, a driver "
            f"restamping) around {first.t_ns / NS:.1f} s."
        )
    return Finding(
        cause=cause,
        title=title,
        explanation=explanation,
        confidence=confidence,
        severity="high" if key else "medium",
        t_start_ns=first.t_ns,
        t_end_ns=largest.t_ns + max(largest.step_ns, 0),
        channels=[channel_ref(s) for s in streams],
        evidence={
            "clock": clock,
            "reference_clock": first.reference,
            "steps": [
                {"t_ns": g[0].t_ns, "step_ns": g[0].step_ns, "streams": [s.stream for s in g]}
                for g in moments[:20]
            ],
            "normal_interval_ns": largest.normal_ns,
            "gap_factor": float(ctx.t(GAP, "gap_factor")),
            "min_gap_s": float(ctx.t(GAP, "min_gap_s")),
            "min_backward_s": float(ctx.t(JUMP, "min_backward_s")),
        },
        next_step=step_next,
    )


def _role(data: EpisodeData, stream: str) -> str:
    signal = data.signal(stream)
    return signal.role if signal is not None else "other"


def _interleave_finding(
    data: EpisodeData, timelines: list[Timeline], explained: set[str], ctx: ExplainContext
) -> Finding | None:
    """Streams whose rows interleave over a stretch (``_interleave``): their clock stepped back
    where the stretch ends. Streams whose other clocks already explained a step are skipped;
    LeRobot's frame_index timeline cannot interleave."""
    min_length = float(ctx.t(JUMP, "min_interleave_s")) * NS
    eligible = [
        line
        for line in timelines
        if line.signal is not None
        and line.continuous
        and line.name not in explained
        and _timeline_clock(data, line.name) != "frame_index"
    ]
    found: list[tuple[int, int, str]] = []
    for line in eligible:
        # a jittery stream's median interval is shorter than its mean: judge it by its rate
        rate_ns = line.median_ns if line.periodic else _mean_interval(line)
        for lo, hi in doubled_stretches(line.t_ns, rate_ns, min_length):
            found.append((lo, hi, line.name))
    found.sort(key=lambda f: f[1])
    clusters: list[list[tuple[int, int, str]]] = []
    for item in found:
        if clusters and item[0] <= max(f[1] for f in clusters[-1]):
            clusters[-1].append(item)
        else:
            clusters.append([item])
    # a clock stepping back moves EVERY stream it stamps; one publisher sending twice as fast
    # for a while (start-up, a mode change) moves only its own stream
    clusters = [c for c in clusters if _all_streams_of_the_clock(data, c, eligible)]
    if not clusters:
        return None
    best = clusters[0]
    streams = sorted({f[2] for f in best})
    end = int(np.median([f[1] for f in best]))
    length = end - int(np.median([f[0] for f in best]))
    clock = _timeline_clock(data, streams[0])
    names = ", ".join(streams[:4]) + ("…" if len(streams) > 4 else "")
    more = f" ({len(clusters)} such stretches)" if len(clusters) > 1 else ""
    return Finding(
        cause=JUMP,
        title=f"{clock} clock stepped back about {length / NS:.2f} s",
        explanation=(
            f"{names} carry twice their usual samples for {length / NS:.2f} s up to "
            f"{end / NS:.2f} s, with no gap: rows stamped after the {clock} clock stepped back "
            f"are sorted in among the earlier ones{more}."
        ),
        confidence=0.75,
        severity="medium",
        t_start_ns=end,
        t_end_ns=end,
        channels=[channel_ref(n) for n in streams],
        evidence={
            "clock": clock,
            "stretches": [{"start_ns": lo, "end_ns": hi, "stream": n} for lo, hi, n in best],
            "min_interleave_s": min_length / NS,
        },
        next_step=(
            f"Check what sets the {clock} clock around {end / NS:.1f} s (NTP step, sim time "
            "reset); the rows in that stretch come from two moments, do not read them in order."
        ),
    )


def _mean_interval(line: Timeline) -> float:
    """The stream's mean interval outside its gaps."""
    t = line.t_ns
    span = float(t[-1] - t[0]) - sum(g.length_ns for g in line.gaps)
    return span / max(len(t) - 1 - len(line.gaps), 1)


def _all_streams_of_the_clock(
    data: EpisodeData, cluster: list[tuple[int, int, str]], eligible: list[Timeline]
) -> bool:
    """At least two streams, and most periodic streams on the same clock that record on both
    sides of the step show it (a teleop command sent on key presses may have nothing there;
    publishers starting up at twice their rate are a few among many)."""
    names = {f[2] for f in cluster}
    clock = _timeline_clock(data, cluster[0][2])
    hi = int(np.median([f[1] for f in cluster]))
    active = {
        line.name
        for line in eligible
        if _timeline_clock(data, line.name) == clock and line.t_ns[0] < hi < line.t_ns[-1]
    }
    return len(names) >= 2 and len(names) >= INTERLEAVE_SHARE * len(active | names)
