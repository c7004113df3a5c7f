"""Typed errors: every bad argument or input is caught before anything is written, and the
message names the field or the file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import robotrace_desktop as rt
from robotrace_desktop import paths
from robotrace_desktop.errors import (
    ConfigurationError,
    RobotraceError,
    StorageError,
    ValidationError,
)
from tests.sdk.sdk_fixtures import bundles, catalog_ids, joints, leftovers, painted_video


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    video = painted_video(tmp_path / "front.mp4")
    good, _ = joints(tmp_path / "joints.parquet")
    backwards = tmp_path / "backwards.parquet"
    pq.write_table(pa.table({"t_ns": [0, 20, 10], "v": [1.0, 2.0, 3.0]}), backwards)
    no_time = tmp_path / "no_time.parquet"
    pq.write_table(pa.table({"step": [0, 1], "v": [1.0, 2.0]}), no_time)
    not_parquet = tmp_path / "broken.parquet"
    not_parquet.write_text("this is not parquet")
    not_video = tmp_path / "clip.mp4"
    not_video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    string_time = tmp_path / "string_time.parquet"
    pq.write_table(pa.table({"time": ["a", "b"], "v": [1.0, 2.0]}), string_time)
    nan_time = tmp_path / "nan.npz"
    np.savez(nan_time, t=np.array([0.0, np.nan]), v=np.array([1.0, 2.0]))
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, t_ns=np.array([0, 1]), v=np.array([{"a": 1}, {"b": 2}], dtype=object))
    return {
        "video": video,
        "good": good,
        "backwards": backwards,
        "no_time": no_time,
        "not_parquet": not_parquet,
        "not_video": not_video,
        "text": text,
        "string_time": string_time,
        "nan_time": nan_time,
        "pickled": pickled,
        "missing": tmp_path / "nowhere" / "gone.parquet",
        "missing_video": tmp_path / "gone.mp4",
    }


F = dict[str, Path]
CASES: list[tuple[str, type[RobotraceError], Callable[[F], dict[str, Any]], Callable[[F], str]]] = [
    # "7" is a seed everywhere (core/fields.py: files can only carry its text); "seven" is not
    (
        "seed string",
        ValidationError,
        lambda f: {"seed": "seven"},
        lambda f: "seed must be an integer",
    ),
    ("seed bool", ValidationError, lambda f: {"seed": True}, lambda f: "seed must be an integer"),
    ("seed float", ValidationError, lambda f: {"seed": 7.0}, lambda f: "seed must be an integer"),
    ("source", ValidationError, lambda f: {"source": "lab"}, lambda f: "source must be one of"),
    ("status", ValidationError, lambda f: {"status": "done"}, lambda f: "status must be one of"),
    (
        "failure time on ready",
        ValidationError,
        lambda f: {"failure_time_s": 1.0},
        lambda f: 'failure_time_s=1 needs status="failed"',
    ),
    (
        "failure after the end",
        ValidationError,
        lambda f: {"status": "failed", "failure_time_s": 5, "duration_s": 2},
        lambda f: "failure_time_s=5 is after the end",
    ),
    (
        "negative duration",
        ValidationError,
        lambda f: {"duration_s": -1},
        lambda f: "duration_s must not be negative",
    ),
    ("fps zero", ValidationError, lambda f: {"fps": 0}, lambda f: "fps must be positive"),
    ("fps string", ValidationError, lambda f: {"fps": "30"}, lambda f: "fps must be a number"),
    ("robot", ValidationError, lambda f: {"robot": True}, lambda f: "robot must be a string"),
    ("metadata", ValidationError, lambda f: {"metadata": [1]}, lambda f: "metadata must be a dict"),
    ("copy", ValidationError, lambda f: {"copy": "no"}, lambda f: "copy must be True or False"),
    (
        "missing sensors file",
        ConfigurationError,
        lambda f: {"sensors": f["missing"]},
        lambda f: f"sensors: {f['missing']}: file not found",
    ),
    (
        "missing video",
        ConfigurationError,
        lambda f: {"video": [f["missing_video"]]},
        lambda f: f"video 'gone': {f['missing_video']}: file not found",
    ),
    (
        "unreadable parquet",
        ConfigurationError,
        lambda f: {"actions": f["not_parquet"]},
        lambda f: f"{f['not_parquet']}: cannot read",
    ),
    (
        "unknown format",
        ConfigurationError,
        lambda f: {"sensors": f["text"]},
        lambda f: f"{f['text']}: not a supported signal file",
    ),
    (
        "no time column",
        ConfigurationError,
        lambda f: {"sensors": f["no_time"]},
        lambda f: (
            f"{f['no_time']}: no time column (looked for t_ns, timestamp, time, t; found: step, v)"
        ),
    ),
    (
        "string time column",
        ConfigurationError,
        lambda f: {"sensors": f["string_time"]},
        lambda f: f"{f['string_time']}: time column 'time' has type string",
    ),
    (
        "backwards time",
        ValidationError,
        lambda f: {"sensors": f["backwards"]},
        lambda f: (
            f"{f['backwards']}: time column 't_ns' is not monotonic: row 2 (t=10) "
            "comes before row 1 (t=20)"
        ),
    ),
    (
        "NaN time",
        ValidationError,
        lambda f: {"sensors": f["nan_time"]},
        lambda f: f"{f['nan_time']}: time column 't' has NaN",
    ),
    (
        "undecodable video",
        ValidationError,
        lambda f: {"video": {"front": f["not_video"]}},
        lambda f: f"video 'front': {f['not_video']}: cannot be decoded",
    ),
    (
        "same camera twice",
        ValidationError,
        lambda f: {"video": [f["video"], f["video"]]},
        lambda f: "would both be camera 'front'",
    ),
    (
        "same stream twice",
        ValidationError,
        lambda f: {"sensors": f["good"], "actions": f["good"]},
        lambda f: "stream name 'joints' is used twice",
    ),
    (
        "bad in-memory column",
        ValidationError,
        lambda f: {"sensors": {"s": {"t_ns": [0, 1], "v": ["x", "y"]}}},
        lambda f: "sensors['s']: column 'v' must be numeric",
    ),
    (
        "sensors of the wrong type",
        ValidationError,
        lambda f: {"sensors": 42},
        lambda f: "sensors must be a path, a list of paths or a dict",
    ),
]


@pytest.mark.parametrize(("label", "error", "kwargs", "needle"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_a_typed_error_and_writes_nothing(
    files: F,
    label: str,
    error: type[RobotraceError],
    kwargs: Callable[[F], dict[str, Any]],
    needle: Callable[[F], str],
) -> None:
    arguments = {"video": files["video"], "sensors": files["good"]} | kwargs(files)
    with pytest.raises(error) as err:
        rt.log_episode(**arguments)
    assert needle(files) in str(err.value), str(err.value)
    assert isinstance(err.value, rt.RobotraceError)
    assert bundles(paths.library_dir()) == []
    assert leftovers(paths.library_dir()) == []
    assert catalog_ids(paths.catalog_path()) == []


def test_object_arrays_in_an_npz_are_never_unpickled(files: F) -> None:
    """The object array is skipped (allow_pickle=False); the numeric-free stream still logs."""
    episode = rt.log_episode(sensors=files["pickled"])
    assert episode.info.stream("pickled").channels == ()


def test_errors_are_exported_at_the_top_level() -> None:
    assert rt.ConfigurationError is ConfigurationError
    assert rt.ValidationError is ValidationError
    assert rt.StorageError is StorageError
    assert issubclass(rt.StorageError, rt.RobotraceError)
