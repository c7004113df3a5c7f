"""Log an episode from Python and record it as an MLflow run: tags for the reproducibility
fields, metrics, and the findings and episode description as artifacts.

Runs against a local file store in a temporary folder (``mlflow ui --backend-store-uri`` it, or
set MLFLOW_TRACKING_URI to your tracking server). Inside a script with an active MLflow run,
the episode runs are nested under it.

The recording is the built-in demo (a 12 s pick-and-place whose gripper closes too early); in
your own loop, pass your video and sensor files.

    pip install 'robotrace-desktop[mlflow]'
    python examples/mlflow_sink.py
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import robotrace_desktop as rt
from robotrace_desktop.demo import ensure_demo_bundle


def main() -> None:
    tracking_uri = (
        os.environ.get("MLFLOW_TRACKING_URI")
        or (Path(tempfile.mkdtemp(prefix="robotrace-mlflow-")) / "mlruns").as_uri()
    )

    demo = ensure_demo_bundle()
    client = rt.init(sinks=["mlflow"], sink_options={"mlflow": {"tracking_uri": tracking_uri}})
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
    for warning in [*episode.warnings, *client.close()]:
        print(f"warning: {warning}")
    print("MLflow tracking URI (experiment 'robotrace'):")
    print(tracking_uri)


if __name__ == "__main__":
    main()
