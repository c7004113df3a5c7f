"""Physically plausible faults for the held-out evaluation: the kinds, their builders
(``kinds_motion``, ``kinds_timing``) and the causes accepted as the right answer.

Each builder gets a clean episode, a random generator and the robot's peer ranges, and returns a
``Fault`` (``tests/analysis/faults.py``) whose ``t0_ns`` is the onset Explain must date, or None
when the episode lacks the channels the fault needs (no command/state pair, no battery...).
What makes them plausible:

- saturation clips a command at a bound *inside* its normal range, and the measured joint
  follows the clipped command (where a pair exists); the onset is the first clipped sample;
- a hard stop pins a moving joint (sensor noise kept) while the command runs on (the residual
  grows) and the effort or commanded torque rises;
- an oscillation of 6–10 Hz shows in a joint's position and in its effort where one exists;
- a stall repeats a moving sensor's values exactly (whole message, one channel, or an IMU);
- a spike is sized by the channel's own noise floor and range;
- a drift grows the command-vs-measured residual slowly (15–30 % of the joint's range over 6 s);
- a range excursion goes 10–20 % beyond anything the robot's other episodes reached;
- a gap removes every stream's samples, camera frames and log lines over an interval — in a
  LeRobot dataset the rows are timed by ``frame_index``, so later rows close up on the timeline
  and only the recorded ``timestamp`` clock keeps the hole;
- a clock jump moves one clock: a header-stamped stream's, the recorder's (every stream), or
  LeRobot's ``timestamp`` column;
- NaN/Inf, a battery brownout (only where a battery is recorded) and a logged exception.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tests.analysis.faults import Fault, MemorySource
from tests.analysis.heldout import kinds_motion as motion
from tests.analysis.heldout import kinds_timing as timing
from tests.analysis.heldout.signals import PeerRange

Builder = Callable[[MemorySource, np.random.Generator, PeerRange], Fault | None]

#: fault kind -> cause ids accepted as the right answer (new detectors' ids included)
ACCEPTED: dict[str, frozenset[str]] = {
    "saturation": frozenset({"action_saturation", "command_clipping", "clipping"}),
    "hard_stop": frozenset(
        {"hard_stop", "joint_blocked", "tracking_error", "effort_saturation", "effort_spike"}
    ),
    "oscillation": frozenset({"oscillation"}),
    "sensor_stall": frozenset({"sensor_stall", "sensor_flatline", "stream_stall"}),
    "spike": frozenset({"effort_spike", "torque_spike", "spike", "sensor_spike"}),
    "drift": frozenset({"tracking_error", "tracking_drift", "drift"}),
    "range_excursion": frozenset(
        {"joint_limit_breach", "joint_limit", "range_excursion", "out_of_range"}
    ),
    "gap": frozenset({"timestamp_gap", "clock_jump", "dropped_frames"}),
    "clock_jump": frozenset({"clock_jump", "timestamp_gap"}),
    "nan_inf": frozenset({"nan_inf"}),
    "battery_brownout": frozenset({"battery_brownout"}),
    "logged_error": frozenset({"raised_exception"}),
}

BUILDERS: dict[str, Builder] = {
    "saturation": motion.saturation,
    "hard_stop": motion.hard_stop,
    "oscillation": motion.oscillation,
    "sensor_stall": motion.sensor_stall,
    "spike": motion.spike,
    "drift": motion.drift,
    "range_excursion": motion.range_excursion,
    "gap": timing.gap,
    "clock_jump": timing.clock_jump,
    "nan_inf": timing.nan_inf,
    "battery_brownout": timing.battery_brownout,
    "logged_error": timing.logged_error,
}
KINDS = tuple(BUILDERS)
TIMING_KINDS = ("gap", "clock_jump")
