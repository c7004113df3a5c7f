"""Log an episode from Python and send it, with what Explain found, to Weights & Biases.

Runs offline, with no account: W&B writes the run to a temporary folder (upload it later with
``wandb sync``). Set WANDB_MODE=online and WANDB_PROJECT to log to your workspace instead.
Inside a training script that already has a ``wandb.run``, the episodes land in that run.

The recording is the built-in demo (a 12 s pick-and-place whose gripper closes too early); in
your own loop, pass your video and sensor files.

    pip install 'robotrace-desktop[wandb]'
    python examples/wandb_sink.py
"""

from __future__ import annotations

import os
import tempfile

import robotrace_desktop as rt
from robotrace_desktop.demo import ensure_demo_bundle


def main() -> None:
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    wandb_dir = os.environ.setdefault("WANDB_DIR", tempfile.mkdtemp(prefix="robotrace-wandb-"))

    demo = ensure_demo_bundle()
    client = rt.init(sinks=["wandb"], sink_options={"wandb": {"project": "robotrace-example"}})
    episode = rt.log_episode(
        name="pick-and-place-seed7",
        source="sim",
        robot="demo-arm-7dof",
        policy_version="pick-v0.3.1",
        env_version="tabletop-v2",
        seed=7,
        task="pick the red cube and place it in the bin",
        video={"front": demo / "video" / "front.mp4"},
        sensors=demo / "signals" / "joint_states.parquet",
        actions=demo / "signals" / "actions.npz",
        success=False,  # the cube was not placed
        status="failed",  # and the run ended in an error at 7.5 s
        failure_time_s=7.5,
    )
    print(f"logged {episode.name}: {episode.url}")
    for finding in episode.findings:
        print(f"  #{finding.rank} {finding.confidence:.0%} {finding.title}")
    # W&B tables are written once per batch: closing the sinks logs the episodes table, the
    # findings table and the summary counts (it also happens at exit)
    for warning in [*episode.warnings, *client.close()]:
        print(f"warning: {warning}")
    print("W&B run folder:")
    print(wandb_dir)


if __name__ == "__main__":
    main()
