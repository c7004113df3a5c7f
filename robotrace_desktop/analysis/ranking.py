"""Ranking findings: the first one is the most likely root cause of the failure.

Some findings are *symptoms* that mark that and when the run failed (a failed outcome, a raised
exception, an ERROR log line). The root cause is the strongest specific anomaly that started
before (or at) that failure time; it is ranked first and carries the estimated failure time.
With no specific anomaly, the earliest symptom leads. A reading that left the robot's usual
range and then froze there is the excursion's story, not a stuck sensor's (``_held_beyond``).
"""

from __future__ import annotations

from collections.abc import Sequence

from robotrace_desktop.analysis.causes._series import field_of
from robotrace_desktop.core.finding import CONFIDENT, RECORDED_OUTCOME, SEVERITIES, Finding

#: findings that describe what a joint did wrong, not why: a clipped or pinned command, a stuck
#: sensor or a hard stop on the same joint, starting no later, is the cause they follow from
CONSEQUENCES = frozenset({"tracking_error", "divergence"})
#: how much later than its cause a consequence may be seen to still follow from it
CONSEQUENCE_SLACK_NS = 500_000_000

#: a reading that left the robot's usual range and then froze there: the excursion came first
#: and the frozen value is where it ended (a joint driven beyond its range and held — against a
#: stop, an obstacle — or a sensor pinned at its end), so the excursion tells the story
EXCURSIONS = frozenset({"range_excursion", "joint_limit_breach"})
STALL = "sensor_stall"
#: a joint stopped dead from speed decelerates within a sample or two: its velocity (or any
#: reading of it) shows a spike right at the stop — the stop's impact, not a sensor glitch
IMPACTS = {"sensor_spike": "hard_stop"}

SYMPTOMS = frozenset({RECORDED_OUTCOME, "raised_exception"})
#: RECORDED_OUTCOME, what the recording itself says about the run, ranks after every symptom
#: that shows *how* it failed (a raised exception names the error and its time; "the run
#: failed" names neither)
#: a cause may be seen slightly after the logged failure (sensor latency, coarse logs)
AFTER_FAILURE_SLACK_NS = 500_000_000
_SEVERITY_WEIGHT = {s: 1.0 - 0.15 * i for i, s in enumerate(SEVERITIES)}


def failure_time_ns(findings: Sequence[Finding]) -> int | None:
    """When the run failed: the earliest timed symptom."""
    times = [f.t_start_ns for f in findings if f.cause in SYMPTOMS and f.t_start_ns is not None]
    return min(times) if times else None


def score(finding: Finding) -> float:
    return finding.confidence * _SEVERITY_WEIGHT[finding.severity]


def rank(findings: Sequence[Finding]) -> list[Finding]:
    failure = failure_time_ns(findings)
    held = _held_beyond(findings)

    def before_failure(f: Finding) -> bool:
        if failure is None or f.t_start_ns is None:
            return True
        return f.t_start_ns <= failure + AFTER_FAILURE_SLACK_NS

    causes = [
        f
        for f in findings
        if f.cause not in SYMPTOMS
        and f.cause not in CONSEQUENCES
        and f.confidence >= CONFIDENT
        and not _same_story(f)
    ]

    def cause_of(f: Finding) -> Finding | None:
        """A confident cause on the same joint that started no later, if any."""
        if f.cause not in CONSEQUENCES or f.t_start_ns is None:
            return None
        joints = _joints(f)
        for cause in causes:
            if cause.t_start_ns is None or not joints & _joints(cause):
                continue
            if cause.t_start_ns <= f.t_start_ns + CONSEQUENCE_SLACK_NS:
                return cause
        return None

    def told_by(f: Finding) -> Finding | None:
        """The confident finding, started no later, whose story ``f`` says it tells
        (``same_story_as`` naming a specific cause) and whose channels hold everything ``f``
        saw still moving: a whole message going still while the only command still moving is
        the push on a joint pinned before is that joint's stop, not a stale driver."""
        told = f.evidence.get("same_story_as")
        if not told or told in CONSEQUENCES or f.t_start_ns is None:
            return None
        movers = set(f.evidence.get("commands_moving") or ())
        for c in causes:
            if c is f or c.cause != told or c.t_start_ns is None or c.t_start_ns > f.t_start_ns:
                continue
            if movers <= set(c.channels) if movers else set(f.channels) & set(c.channels):
                return c
        return None

    def impact_of(f: Finding) -> Finding | None:
        """The confident stop on the same joint whose onset the spike ``f`` sits at (either
        side, within ``CONSEQUENCE_SLACK_NS``) in a reading of its motion other than its
        position (a position cannot jump at a stop: a spike in it is a glitch): the spike is
        that stop's impact."""
        stop = IMPACTS.get(f.cause)
        if stop is None or f.t_start_ns is None or not f.channels or "/" not in f.channels[0]:
            return None
        if field_of(*f.channels[0].rsplit("/", 1)) == "position":
            return None
        for c in causes:
            if (
                c.cause == stop
                and c.t_start_ns is not None
                and abs(c.t_start_ns - f.t_start_ns) <= CONSEQUENCE_SLACK_NS
                and _joints(f) & _joints(c)
            ):
                return c
        return None

    following = {
        id(f): c
        for f in findings
        if (c := cause_of(f) or told_by(f) or held.get(id(f)) or impact_of(f)) is not None
    }
    for f in findings:
        cause = following.get(id(f))
        if cause is not None and f.confidence > cause.confidence:
            # the consequence corroborates its cause: rank and confidence keep agreeing
            cause.confidence = f.confidence
            cause.evidence.setdefault("corroborated_by", f.cause)

    def follows(f: Finding) -> int:
        return 1 if id(f) in following else 0

    def key(f: Finding) -> tuple[int, int, int, float, float, int]:
        specific = f.cause not in SYMPTOMS
        confident = f.confidence >= CONFIDENT
        tier = 0 if (specific and confident and before_failure(f)) else 1 if confident else 2
        symptom_last = 0
        if tier == 1 and not specific:
            symptom_last = 2 if f.cause == RECORDED_OUTCOME else 1
        start = f.t_start_ns if f.t_start_ns is not None else 2**62
        # within the causal order, by confidence (what the table shows), then severity
        return (
            tier,
            follows(f),
            symptom_last,
            -f.confidence,
            -_SEVERITY_WEIGHT[f.severity],
            start,
        )

    ordered = sorted(findings, key=key)
    for position, finding in enumerate(ordered, start=1):
        finding.rank = position
    if ordered:
        top = ordered[0]
        estimate = failure if failure is not None else top.t_start_ns
        top.evidence.setdefault("failure_time_ns", estimate)
    return ordered


def _held_beyond(findings: Sequence[Finding]) -> dict[int, Finding]:
    """{id(stall): excursion} for each stuck reading whose frozen value lies beyond the range
    an excursion on the same channel had left before the freeze began (or, when the stall
    gives no value, that froze while the excursion was beyond the range). The excursion takes
    the stall's confidence — a channel beyond anything seen and frozen there is no less
    abnormal than either alone — and ranks first. Excursions the detector itself does not
    trust (too few peers, already outside when the run began) are left alone."""
    held: dict[int, Finding] = {}
    for stall in findings:
        if stall.cause != STALL or stall.t_start_ns is None:
            continue
        stuck = stall.evidence.get("stuck_values")
        for excursion in findings:
            # the stall of that one channel: a whole message going still is a driver's fault
            if not _trusted_excursion(excursion) or not stall.channels:
                continue
            if not set(stall.channels) <= set(excursion.channels):
                continue
            start, end = excursion.t_start_ns, excursion.t_end_ns
            if start is None or end is None or not start < stall.t_start_ns <= end:
                continue
            if isinstance(stuck, dict):  # the frozen value itself lies beyond the range
                values = [
                    v
                    for name, v in stuck.items()
                    if any(ref.endswith(f"/{name}") for ref in excursion.channels)
                ]
                if len(values) != len(stuck) or not all(_beyond(v, excursion) for v in values):
                    continue
            elif stall.t_end_ns is None or stall.t_end_ns > end + CONSEQUENCE_SLACK_NS:
                continue  # no value given: it froze while the channel was beyond the range
            if stall.confidence > excursion.confidence:
                excursion.confidence = stall.confidence
                excursion.evidence.setdefault("corroborated_by", stall.cause)
                excursion.explanation += (
                    f"; from {stall.t_start_ns / 1e9:.2f} s it stayed exactly there, beyond the "
                    "range: where the excursion ended"
                )
            held[id(stall)] = excursion
            break
    return held


def _trusted_excursion(finding: Finding) -> bool:
    evidence = finding.evidence
    return (
        finding.cause in EXCURSIONS
        and bool(evidence.get("calibrated", True))
        and not evidence.get("from_episode_start", False)
    )


def _beyond(value: object, excursion: Finding) -> bool:
    lower, upper = excursion.evidence.get("lower"), excursion.evidence.get("upper")
    if not all(isinstance(x, int | float) for x in (value, lower, upper)):
        return False
    return bool(value > upper or value < lower)  # type: ignore[operator]


def _same_story(finding: Finding) -> bool:
    """A finding that says it tells the same story as a consequence (``same_story_as``: a
    joint frozen exactly while its own command moves is a stuck sensor or a blocked joint, as
    the tracking error says) is not put before it."""
    return finding.evidence.get("same_story_as") in CONSEQUENCES


def _joints(finding: Finding) -> set[str]:
    """The joints a finding names: the last part of each channel, with LeRobot's indexed
    vectors reduced to the index (``action[6]`` and ``observation.state[6]`` are joint 6)."""
    found = set()
    for ref in finding.channels:
        leaf = ref.rsplit("/", 1)[-1]
        found.add(leaf[leaf.index("[") :] if leaf.endswith("]") and "[" in leaf else leaf)
    return found
