"""HDF5 episodes via h5py: ALOHA/ACT ``episode_N.hdf5`` files and robomimic datasets.

ALOHA/ACT (one episode per file): ``/observations/{qpos,qvel,effort}``, ``/action`` and any
other numeric (T,) / (T, D) dataset become signal streams named by their dataset path;
``/observations/images/<cam>`` become cameras — raw (T, H, W, 3) uint8 or JPEG bytes padded to
(T, L) (root attr ``compress``). Sampling clock, first match wins: a time dataset
(``/observations/timestamps`` …; integers are ns, floats seconds, unless a ``units`` attribute
says otherwise), a root attribute ``fps`` / ``control_freq`` / ``frequency`` / ``rate_hz`` /
``dt``, else ALOHA's 50 Hz. The basis is stated in every stream's ``details["time_basis"]``.
Channel names: a dataset attribute ``names`` / ``joint_names`` / ``channel_names``, else the
ALOHA joint names for 14-wide vectors (``details["names"] = "aloha-default"``), else ``qpos[i]``.

robomimic (one episode per ``/data/demo_N``, episode_index N): ``actions``, ``rewards``,
``dones``, ``states`` and ``obs/<key>`` become streams ``/actions``, ``/obs/<key>`` … (the path
inside the demo group, so names match across demos); image observations are cameras;
``next_obs`` duplicates ``obs`` shifted by one step and is left out. Rate:
``env_args.env_kwargs.control_freq``, else robosuite's default 20 Hz. Outcome: success when
the last ``dones`` is 1 or any reward is >= 1 (robosuite's sparse success reward), otherwise
unknown — a demo that did not finish is not proof of failure.

Safety: files are opened read-only without a lock; object references, vlen objects, external
links and virtual datasets are never followed. index() reads shapes, dtypes and attributes
(plus the first/last time value and, for robomimic, ``rewards``), never whole datasets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from robotrace_desktop.core.episode import (
    EpisodeInfo,
    EpisodeSource,
    Outcome,
    SignalChunk,
    episode_id,
    time_mask,
)
from robotrace_desktop.core.fields import RECORDING_KEYS, parse_fields, problem_lines
from robotrace_desktop.errors import (
    CorruptRecordingError,
    RecordingError,
    StreamNotFoundError,
    UnsupportedFormatError,
    source_guard,
)
from robotrace_desktop.readers.hdf5.sniff import has_signature
from robotrace_desktop.readers.hdf5.streams import (
    ALOHA_JOINTS,
    Plan,
    aloha_clock,
    collect_streams,
    hollow_reason,
    rate_clock,
)
from robotrace_desktop.readers.hdf5.video import (
    H5_ERRORS,
    Hdf5ImageVideo,
    open_h5,
    safe_attr,
)
from robotrace_desktop.video.frames import FrameSource

__all__ = ["ALOHA_JOINTS", "Hdf5Episode", "index_hdf5", "open_hdf5"]

ROBOMIMIC_DEFAULT_HZ = 20.0
_DEMO_RE = re.compile(r"^demo_(\d+)$")


def _common_fields(info: EpisodeInfo, path: Path, *objs: h5py.HLObject) -> None:
    """Reproducibility fields and descriptive attributes (``core/fields.py``'s keys) from the
    file's attributes, where present; a later object's attributes override an earlier's."""
    for obj in objs:
        raw = {name: safe_attr(obj, name) for name in RECORDING_KEYS}
        fields, problems = parse_fields(raw, origin=f"attributes of {obj.name} in {path}")
        fields.apply(info)
        info.problems.extend(problem_lines(problems))


def _aloha_plan(f: h5py.File, path: Path) -> Plan:
    resolved = str(path.resolve())
    lead = f.get("observations/qpos")
    if not isinstance(lead, h5py.Dataset):
        lead = f.get("action")
    count = 0  # a hollow lead dataset (see hollow_reason) gives no clock either
    if isinstance(lead, h5py.Dataset) and lead.ndim and hollow_reason(lead) is None:
        count = int(lead.shape[0])
    clock = aloha_clock(f, count)
    sim = safe_attr(f, "sim")
    info = EpisodeInfo(
        id=episode_id(resolved, None),
        kind="hdf5",
        path=resolved,
        episode_index=None,
        name=path.stem,
        duration_ns=clock.duration_ns,
        start_time_ns=clock.start_time_ns,
        source=None if sim is None else ("sim" if sim else "real"),
        metadata={"layout": "aloha", "time_basis": clock.basis},
    )
    info.metadata["compress"] = bool(safe_attr(f, "compress"))
    _common_fields(info, path, f)
    plan = Plan(info, clock)
    collect_streams(plan, f, aloha=True, path=path, skip=("/compress_len",))
    if not count:
        info.problems.append(f"{path}: no /observations/qpos or /action samples")
    return plan


def _env_args(data: h5py.Group) -> dict[str, Any]:
    raw = safe_attr(data, "env_args")
    if not isinstance(raw, str):
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _demo_numbers(data: h5py.Group) -> list[int]:
    found = [int(m.group(1)) for key in data if (m := _DEMO_RE.match(key))]
    return sorted(set(found))


def _robomimic_plan(f: h5py.File, path: Path, number: int) -> Plan:
    data = f["data"]
    demo = data.get(f"demo_{number}")
    if not isinstance(demo, h5py.Group):
        raise RecordingError(path, f"robomimic dataset has no /data/demo_{number}")
    env_args = _env_args(data)
    env_kwargs = env_args.get("env_kwargs")
    kwargs = env_kwargs if isinstance(env_kwargs, dict) else {}
    actions = demo.get("actions")
    count = safe_attr(demo, "num_samples")
    if not isinstance(count, int) or count < 0:
        count = 0
        if isinstance(actions, h5py.Dataset) and actions.ndim and not hollow_reason(actions):
            count = int(actions.shape[0])
    hz = kwargs.get("control_freq")
    if isinstance(hz, int | float) and not isinstance(hz, bool) and hz > 0:
        clock = rate_clock(count, float(hz), f"env_args control_freq={hz}")
    else:
        clock = rate_clock(count, ROBOMIMIC_DEFAULT_HZ, "robomimic default 20 Hz")
    resolved = str(path.resolve())
    robots = kwargs.get("robots")
    info = EpisodeInfo(
        id=episode_id(resolved, number),
        kind="hdf5",
        path=resolved,
        episode_index=number,
        name=f"{path.stem} demo_{number}",
        duration_ns=clock.duration_ns,
        metadata={
            "layout": "robomimic",
            "demo": f"demo_{number}",
            "num_samples": count,
            "time_basis": clock.basis,
            "outcome_basis": "success if last done == 1 or any reward >= 1",
        },
    )
    if env_args.get("env_name"):
        info.metadata["env_name"] = env_args["env_name"]
    native = {
        "source": "sim" if env_args else None,
        "robot": ",".join(map(str, robots)) if isinstance(robots, list) else robots,
        "task": env_args.get("env_name"),
        "env_version": env_args.get("env_version"),
    }
    fields, problems = parse_fields(native, origin=f"env_args of /data in {path}")
    fields.apply(info)
    info.problems.extend(problem_lines(problems))
    _common_fields(info, path, f, data, demo)
    plan = Plan(info, clock)
    collect_streams(plan, demo, aloha=False, path=path, skip=("/next_obs",))
    if info.outcome == Outcome.UNKNOWN and _robomimic_success(demo):
        info.outcome = Outcome.SUCCESS
    return plan


def _robomimic_success(demo: h5py.Group) -> bool:
    dones, rewards = demo.get("dones"), demo.get("rewards")
    if _numeric_1d(dones) and float(dones[-1]) == 1.0:
        return True
    return _numeric_1d(rewards) and float(np.max(rewards[()])) >= 1.0


def _numeric_1d(ds: object) -> bool:
    return (
        isinstance(ds, h5py.Dataset)
        and ds.ndim == 1
        and ds.shape[0] > 0
        and ds.dtype.kind in "biuf"
    )


def _layout(f: h5py.File, path: Path) -> str:
    data = f.get("data")
    if isinstance(data, h5py.Group) and (_demo_numbers(data) or "env_args" in data.attrs):
        return "robomimic"
    obs = f.get("observations")
    if isinstance(obs, h5py.Group) and ("qpos" in obs or "action" in f):
        return "aloha"
    top = ", ".join(sorted(f.keys())[:8]) or "nothing"
    raise UnsupportedFormatError(
        path, f"HDF5 file is neither an ALOHA episode nor a robomimic dataset (top level: {top})"
    )


class Hdf5Episode(EpisodeSource):
    """An opened HDF5 episode; keeps the file open read-only until close()."""

    def __init__(self, path: Path, f: h5py.File, plan: Plan) -> None:
        self.info = plan.info
        self._path = path
        self._file = f
        self._plan = plan
        self._times: np.ndarray | None = None
        self._frame_sources: list[FrameSource] = []

    def _t(self) -> np.ndarray:
        if self._times is None:
            try:
                self._times = self._plan.clock.times(self._file)
            except H5_ERRORS as exc:
                raise CorruptRecordingError(self._path, f"cannot read time data: {exc}") from exc
        return self._times

    @source_guard("cannot read stream")
    def read_signal(
        self, stream: str, start_ns: int | None = None, stop_ns: int | None = None
    ) -> SignalChunk:
        dataset = self._plan.signals.get(stream)
        if dataset is None:
            known = ", ".join(self._plan.signals) or "none"
            raise StreamNotFoundError(
                f"episode {self.info.id} has no signal stream {stream!r} (signals: {known})"
            )
        t = self._t()
        ordered = len(t) < 2 or bool(np.all(np.diff(t) >= 0))
        try:
            ds = self._file[dataset]
            if ordered:
                rows = time_mask(t, start_ns, stop_ns)
                t_sel, raw = t[rows], ds[rows]
            else:
                keep = np.ones(len(t), bool)
                keep &= t >= (start_ns if start_ns is not None else t.min())
                if stop_ns is not None:
                    keep &= t < stop_ns
                idx = np.flatnonzero(keep)
                raw = ds[idx] if len(idx) else ds[0:0]
                order = np.argsort(t[idx], kind="stable")
                t_sel, raw = t[idx][order], raw[order]
        except H5_ERRORS as exc:
            raise CorruptRecordingError(self._path, f"cannot read {dataset}: {exc}") from exc
        values = np.asarray(raw, dtype=np.float64).reshape(len(t_sel), -1)
        channels = self.info.stream(stream).channels
        return SignalChunk(stream, channels, t_sel, values)

    @source_guard("cannot open camera")
    def video(self, stream: str) -> FrameSource:
        entry = self._plan.videos.get(stream)
        if entry is None:
            return super().video(stream)
        source = Hdf5ImageVideo(self._path, entry[0], stream, self._t(), entry[1])
        self._frame_sources.append(source)
        return source

    def close(self) -> None:
        for source in self._frame_sources:
            source.close()
        self._frame_sources.clear()
        self._file.close()


def _plans(path: Path, f: h5py.File, number: int | None) -> Iterator[Plan]:
    layout = _layout(f, path)
    if layout == "aloha":
        yield _aloha_plan(f, path)
        return
    numbers = _demo_numbers(f["data"]) if number is None else [number]
    if not numbers:
        raise CorruptRecordingError(path, "robomimic dataset has no /data/demo_N groups")
    for n in numbers:
        yield _robomimic_plan(f, path, n)


def _open_file(path: Path) -> h5py.File:
    if path.is_file() and path.stat().st_size and not has_signature(path):
        raise CorruptRecordingError(path, "not an HDF5 file (no HDF5 signature)")
    return open_h5(path)


def index_hdf5(path: Path) -> Iterator[EpisodeInfo]:
    with _open_file(path) as f:
        try:
            infos = [plan.info for plan in _plans(path, f, None)]
        except RecordingError:
            raise
        except H5_ERRORS as exc:
            raise CorruptRecordingError(path, f"cannot read HDF5 structure: {exc}") from exc
    yield from infos


def open_hdf5(path: Path, episode_index: int | None = None) -> EpisodeSource:
    f = _open_file(path)
    try:
        layout = _layout(f, path)
        if layout == "aloha":
            if episode_index not in (None, 0):
                raise RecordingError(path, "an ALOHA file holds one episode")
            plan = _aloha_plan(f, path)
        else:
            if episode_index is None:
                raise RecordingError(path, "a robomimic dataset needs an episode index (#N)")
            plan = _robomimic_plan(f, path, episode_index)
    except RecordingError:
        f.close()
        raise
    except H5_ERRORS as exc:
        f.close()
        raise CorruptRecordingError(path, f"cannot read HDF5 structure: {exc}") from exc
    return Hdf5Episode(path, f, plan)
