"""Bundle manifest schema, path confinement and the writer side of the format."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from robotrace_desktop.bundle.errors import ManifestError, PathEscapeError
from robotrace_desktop.bundle.manifest import (
    MANIFEST_NAME,
    BundleManifest,
    SignalEntry,
    VideoEntry,
    from_dict,
    read_manifest,
    to_dict,
    write_manifest,
)
from robotrace_desktop.bundle.tables import SignalData, write_feather, write_parquet
from robotrace_desktop.errors import RecordingError, UnsupportedFormatError
from robotrace_desktop.readers.bundle.reader import BundleReader

READER = BundleReader()


def _manifest(**extra: Any) -> dict[str, Any]:
    return {"format": "robotrace-episode", "format_version": 1, "name": "m"} | extra


def _write(root: Path, data: dict[str, Any]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / MANIFEST_NAME).write_text(json.dumps(data))
    return root


def _signals(path: str) -> dict[str, Any]:
    return {"signals": [{"name": "/s", "path": path, "format": "parquet"}]}


@pytest.mark.parametrize(
    "bad",
    ["../x.parquet", "signals/../../x.parquet", "/etc/passwd", "C:/data/x.parquet", "a\\b.parquet"],
)
def test_paths_outside_the_bundle_are_rejected(tmp_path: Path, bad: str) -> None:
    root = _write(tmp_path / "b", _manifest(**_signals(bad)))
    with pytest.raises(RecordingError) as err:
        list(READER.index(root))
    message = str(err.value)
    assert str(root / MANIFEST_NAME) in message
    assert repr(bad) in message


def test_escaping_symlink_is_rejected(tmp_path: Path) -> None:
    outside = tmp_path / "secret.parquet"
    write_parquet(outside, SignalData(np.arange(3, dtype=np.int64), {"v": np.zeros(3)}))
    root = tmp_path / "b"
    (root / "signals").mkdir(parents=True)
    os.symlink(outside, root / "signals/link.parquet")
    _write(root, _manifest(**_signals("signals/link.parquet")))
    with pytest.raises(RecordingError) as err:
        list(READER.index(root))
    assert "'signals/link.parquet'" in str(err.value)
    assert "outside the bundle" in str(err.value)
    assert str(root / MANIFEST_NAME) in str(err.value)
    with pytest.raises(RecordingError):
        READER.open(root)


def test_escaping_directory_symlink_is_rejected(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_parquet(elsewhere / "x.parquet", SignalData(np.arange(2, dtype=np.int64), {}))
    root = tmp_path / "b"
    root.mkdir()
    os.symlink(elsewhere, root / "data")
    _write(root, _manifest(**_signals("data/x.parquet")))
    with pytest.raises(RecordingError, match="outside the bundle"):
        list(READER.index(root))


def test_symlink_inside_the_bundle_is_fine(tmp_path: Path) -> None:
    root = tmp_path / "b"
    write_parquet(
        root / "real/x.parquet", SignalData(np.arange(4, dtype=np.int64), {"v": np.ones(4)})
    )
    os.symlink(root / "real/x.parquet", root / "x.parquet")
    _write(root, _manifest(**_signals("x.parquet")))
    info = next(READER.index(root))
    assert info.stream("/s").count == 4 and not info.problems


def test_bundle_folder_itself_may_be_reached_through_a_symlink(tmp_path: Path) -> None:
    root = tmp_path / "b"
    write_parquet(root / "x.parquet", SignalData(np.arange(4, dtype=np.int64), {"v": np.ones(4)}))
    _write(root, _manifest(**_signals("x.parquet")))
    os.symlink(root, tmp_path / "alias")
    info = next(READER.index(tmp_path / "alias"))
    assert info.stream("/s").count == 4 and info.path == str(root.resolve())


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"metadata": [1]}, "'metadata' must be an object"),
        ({"start_time_ns": -5}, "'start_time_ns' must be >= 0"),
        ({"videos": [{"path": "v.mp4"}]}, "videos[0] needs a 'camera'"),
        ({"signals": [{"name": "/s", "path": "s.csv"}]}, "signals[0].format must be one of"),
        ({"signals": [{"path": "s.parquet"}]}, "only npz entries may omit it"),
        ({"signals": [{"name": "/s", "path": "s.npz", "kind": "brain"}]}, "signals[0].kind"),
        ({"events": [{"name": "e"}]}, "events[0].path must be a non-empty string"),
        (
            {"signals": [{"name": "x", "path": "a.npz"}], "events": [{"name": "x", "path": "e"}]},
            "repeated: x",
        ),
        ({"format": "other"}, "'format' must be 'robotrace-episode'"),
    ],
)
def test_schema_errors_name_the_field(tmp_path: Path, extra: dict[str, Any], needle: str) -> None:
    root = _write(tmp_path / "b", _manifest(**extra))
    with pytest.raises(RecordingError) as err:
        read_manifest(root)
    assert needle in str(err.value)
    assert str(root / MANIFEST_NAME) in str(err.value)


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"seed": "seven"}, "seed 'seven' is not an integer — ignored"),
        ({"seed": True}, "seed True is not an integer — ignored"),
        ({"success": "maybe"}, "success 'maybe' is not success or failure (true/false) — ignored"),
        ({"status": "done"}, "status 'done' is not one of ready, failed — ignored"),
        ({"source": "lab"}, "source 'lab' is not one of real, sim, replay — ignored"),
    ],
)
def test_a_bad_field_value_is_a_problem_not_an_unreadable_bundle(
    tmp_path: Path, extra: dict[str, Any], problem: str
) -> None:
    """Descriptive fields follow core/fields.py like every reader's: the rest still opens."""
    root = _write(tmp_path / "b", _manifest(**extra))
    info = next(READER.index(root))
    assert info.problems == [f"{root.resolve() / MANIFEST_NAME}: {problem}"]
    assert (info.seed, info.source, info.status.value, info.outcome.value) == (
        None,
        None,
        "ready",
        "unknown",
    )


def test_newer_format_version_is_unsupported(tmp_path: Path) -> None:
    root = _write(tmp_path / "b", _manifest(format_version=99))
    with pytest.raises(UnsupportedFormatError, match="newer"):
        list(READER.index(root))


def test_unreadable_manifest_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "b"
    root.mkdir()
    (root / MANIFEST_NAME).write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(RecordingError, match="not valid JSON"):
        list(READER.index(root))


def test_writer_round_trip_and_refusals(tmp_path: Path) -> None:
    root = tmp_path / "w"
    write_feather(
        root / "s.feather", SignalData(np.arange(5, dtype=np.int64), {"v": np.arange(5.0)})
    )
    manifest = BundleManifest(
        name="written",
        id="ABCDEF0123456789",
        source="replay",
        seed=3,
        success=None,
        signals=[SignalEntry("/v", "s.feather", "feather")],
    )
    write_manifest(root, manifest)
    data = json.loads((root / MANIFEST_NAME).read_text())
    assert data["format"] == "robotrace-episode" and data["format_version"] == 1
    assert data["success"] is None and data["seed"] == 3
    again = from_dict(data)
    assert again.id == "abcdef0123456789"  # ids are normalised to lowercase hex
    assert to_dict(again)["signals"] == data["signals"]
    info = next(BundleReader().index(root))
    assert info.id == "abcdef0123456789" and info.source == "replay"
    assert info.stream("/v").count == 5

    with pytest.raises(PathEscapeError):
        write_manifest(root, BundleManifest(name="x", videos=[VideoEntry("c", "../c.mp4")]))
    with pytest.raises(ManifestError, match="seed"):
        BundleManifest(name="x", seed="1").validate()  # type: ignore[arg-type]
    assert json.loads((root / MANIFEST_NAME).read_text())["name"] == "written"  # untouched
