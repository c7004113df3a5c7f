"""When the run itself said it failed — its first ERROR/FATAL log line, or the failure time its
metadata gives — and whether an anomaly began just before that.

A logged error that follows a physical anomaly within seconds is usually its consequence (a
monitor, a controller or the task noticing what the joint did). That coincidence is evidence a
detector can weigh: an ordinary run's unusual-but-harmless moment starts anywhere in the
episode, so the chance that it starts in the few seconds before the failure is only that
window's share of the episode. A detector with a calibrated p-value multiplies it by that share
(``coincidence``); nothing changes when the run logged nothing.
"""

from __future__ import annotations

from robotrace_desktop.analysis.causes.exception import is_error, metadata_time
from robotrace_desktop.analysis.data import EpisodeData
from robotrace_desktop.analysis.ranking import AFTER_FAILURE_SLACK_NS as SLACK_NS
from robotrace_desktop.core.timebase import NS_PER_S as NS

# SLACK_NS: a cause may be seen slightly after the logged failure (sensor latency, coarse log
# stamps), as the ranking allows


def logged_failure_ns(data: EpisodeData) -> int | None:
    """The first ERROR/FATAL log line's time, else the metadata's failure time (None: the run
    said nothing timed)."""
    for event in data.events():
        if is_error(event):
            return int(event.t_ns)
    return metadata_time(data)


def coincidence(data: EpisodeData, onset_ns: int, window_s: float) -> tuple[float, int] | None:
    """(share of the episode, failure time) when the run logged a failure within ``window_s``
    after ``onset_ns`` (or up to ``SLACK_NS`` before it): the chance an ordinary anomaly starts
    in that window by luck. None when there is no such failure or the episode is too short for
    the coincidence to say anything."""
    failure = logged_failure_ns(data)
    if failure is None:
        return None
    lead = failure - onset_ns
    if lead < -SLACK_NS or lead > window_s * NS:
        return None
    duration = data.duration_ns
    if duration <= 0:
        return None
    share = (window_s * NS + SLACK_NS) / duration
    return (share, failure) if share < 1.0 else None
