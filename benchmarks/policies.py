"""Trivial deterministic candidate policies for the verify benchmark (``--policy``).

``benchmarks/policies.py:HoldState`` commands the measured joint positions: the cheapest policy
that still produces a full action per step, so the benchmark times the re-roll machinery
(stepping, comparing, saving replays), not a network.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class HoldState:
    """Hold where you are: action = observation.state (same channels, same order)."""

    def reset(self) -> None:
        """Nothing to forget between episodes."""

    def __call__(self, obs: dict[str, Any]) -> np.ndarray:
        return np.asarray(obs["observation.state"], dtype=np.float64)
