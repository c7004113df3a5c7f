"""Record an episode while it runs: stream samples from a control loop with `log()`.

Samples are buffered to disk in chunks, so hour-long runs keep memory flat. Leaving the `with`
block finalizes the episode as ready; an exception would finalize it as failed (with
`failure_reason` and the failure time) and still propagate. Run it as-is:

    python examples/start_episode.py
"""

from __future__ import annotations

import numpy as np

import robotrace_desktop as rt

HZ, SECONDS = 50, 3.0


def policy(q: np.ndarray, target: np.ndarray) -> np.ndarray:
    """A proportional controller standing in for a learned policy."""
    return np.clip(2.0 * (target - q), -1.0, 1.0)


def main() -> None:
    target = np.array([0.5, -0.3, 0.8])
    q = np.zeros(3)
    with rt.start_episode(
        name="reach, seed 3",
        source="sim",
        robot="demo-arm-3dof",
        policy_version="reach-v1",
        env_version="reach-env-v2",
        seed=3,
        metadata={"action_bounds": {"actions/u": [-1.0, 1.0]}},
    ) as rec:
        for step in range(int(SECONDS * HZ)):
            t_ns = step * 1_000_000_000 // HZ  # episode time: t = 0 at start_episode
            u = policy(q, target)
            rec.log(t_ns, {"joint_states/position": q, "reward": -float(np.abs(target - q).sum())})
            rec.log(t_ns, {"u": u}, kind="action")  # a bare name goes to the "actions" stream
            q = q + u / HZ
    episode = rec.episode
    assert episode is not None
    print(f"logged {episode.name!r}: status {episode.status}, {len(episode.findings)} finding(s)")
    print(episode.url)


if __name__ == "__main__":
    main()
