"""The independent set's kinds, and its cases built exactly as the first held-out set builds
its own (``heldout.scoring.build_cases``: same seeding by names, same share of labelled runs
and of ERROR lines after the fault), so the two evaluations differ only in their injectors."""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable

import numpy as np

from tests.analysis.faults import Fault, MemorySource, _failure_event
from tests.analysis.heldout.kinds import ACCEPTED
from tests.analysis.heldout.scoring import (
    CELL_SHARE,
    ERROR_LINE_SHARE,
    LABELLED_SHARE,
    Case,
    RobotData,
)
from tests.analysis.independent import motion, timing
from tests.analysis.independent.physics import PeerRange

Builder = Callable[[MemorySource, np.random.Generator, PeerRange], Fault | None]

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
assert set(KINDS) <= set(ACCEPTED), "every kind is scored against the accepted cause ids"

#: a different salt than the first set's, so even equal seeds draw other episodes and times
_SALT = 104_729


def applicable(robot: RobotData, kind: str, seed: int) -> bool:
    """Whether the robot can carry the kind (tried on a few of its episodes)."""
    rng = np.random.default_rng([seed, _SALT, zlib.crc32(kind.encode())])
    bases = robot.robot.bases
    for k in range(min(len(bases), 6)):
        base = bases[(k * 7) % len(bases)]
        if BUILDERS[kind](base.source, rng, robot.peer_range(base)) is not None:
            return True
    return False


def build_cases(
    robots: dict[str, RobotData], seed: int, per_cell: int, kinds: Iterable[str] = KINDS
) -> list[Case]:
    """``per_cell`` cases of every applicable (robot, kind), episodes and times from ``seed``."""
    cases: list[Case] = []
    for name, robot in sorted(robots.items()):
        for kind in kinds:
            rng = np.random.default_rng(
                [seed, _SALT, zlib.crc32(name.encode()), zlib.crc32(kind.encode())]
            )
            wanted = max(1, math.ceil(per_cell * CELL_SHARE.get(kind, 1.0)))
            made, tries = 0, 0
            while made < wanted and tries < 8 * wanted:
                tries += 1
                base = robot.robot.bases[int(rng.integers(0, len(robot.robot.bases)))]
                fault = BUILDERS[kind](base.source, rng, robot.peer_range(base))
                if fault is None:
                    continue
                fault.labelled = bool(rng.random() < LABELLED_SHARE)
                error_after = kind != "logged_error" and bool(rng.random() < ERROR_LINE_SHARE)
                if error_after:
                    _failure_event(fault, rng, base.info.duration_ns)
                cases.append(Case(name, base, fault, error_after))
                made += 1
    return cases


def style(case: Case) -> str:
    """The builder's variant ("saturation: soft", "sensor_stall: dither") for the tables."""
    first = case.fault.detail.split(",")[0].split(" ")[0] if case.fault.detail else "-"
    return f"{case.kind}: {first}"
