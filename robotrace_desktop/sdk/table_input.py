"""Signal files given to ``log_episode``: parquet / feather / npz / HDF5, checked and described.

Only the time column is read to check the input (plus the npz zip directory, the parquet
footer, the HDF5 tree); the full data is read later, and only when the stream has to be
converted (see ``inputs``). npz and HDF5 are opened without pickle and without following
object references, external links or virtual datasets.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather
import pyarrow.parquet as pq

from robotrace_desktop.bundle.tables import NPZ_NAMES_KEY, NPZ_TIME_KEY, SignalData
from robotrace_desktop.errors import ConfigurationError, ValidationError
from robotrace_desktop.sdk.signal_input import (
    TIME_CANDIDATES,
    Loader,
    SignalInput,
    load_error,
    pick_time_column,
    time_span,
    times_to_ns,
)

_NPZ_ERRORS = (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError)


# ---------------------------------------------------------------- parquet / feather


def _read_arrow(path: Path, fmt: str, columns: list[str] | None = None) -> pa.Table:
    try:
        if fmt == "parquet":
            return pq.read_table(path, columns=columns)
        return feather.read_table(str(path), columns=columns, memory_map=True)
    except (pa.ArrowException, OSError) as exc:
        raise load_error(str(path), exc) from exc


def _arrow_schema(path: Path, fmt: str) -> pa.Schema:
    try:
        if fmt == "parquet":
            return pq.read_schema(path)
        with pa.memory_map(str(path), "r") as source:
            return pa.ipc.open_file(source).schema
    except (pa.ArrowException, OSError):
        return _read_arrow(path, fmt).schema  # feather v1: no IPC footer; read it whole


def _arrow_times(column: pa.ChunkedArray, origin: str, name: str) -> tuple[np.ndarray, bool]:
    """(int64 ns, stored-as-is possible) for a time column of any supported type."""
    if column.null_count:
        raise ValidationError(f"{origin}: time column {name!r} has empty (null) values")
    typ = column.type
    if pa.types.is_timestamp(typ):
        ns = pc.cast(pc.cast(column, pa.timestamp("ns")), pa.int64())
        values = np.asarray(ns.to_numpy(), dtype=np.int64)
        return times_to_ns(values, origin, name), True
    if pa.types.is_integer(typ):
        return times_to_ns(column.to_numpy(), origin, name), True
    if pa.types.is_floating(typ):
        return times_to_ns(column.to_numpy(), origin, name), False
    raise ConfigurationError(
        f"{origin}: time column {name!r} has type {typ}; expected integer nanoseconds, "
        "float seconds or a timestamp"
    )


def arrow_stream(path: Path, fmt: str, role: str) -> SignalInput:
    origin = str(path)
    schema = _arrow_schema(path, fmt)
    column = pick_time_column(schema.names, origin)
    t_ns, as_is = _arrow_times(_read_arrow(path, fmt, [column]).column(0), origin, column)
    start, end = time_span(t_ns)

    def load() -> pa.Table:
        table = _read_arrow(path, fmt)
        times, _ = _arrow_times(table.column(column), origin, column)
        rest = table.drop_columns([column])
        return rest.add_column(0, pa.field("t_ns", pa.int64(), nullable=False), pa.array(times))

    return SignalInput(
        name=path.stem,
        role=role,
        origin=origin,
        load=load,
        source=path if as_is else None,
        format=fmt,
        time_column=column,
        t_start_ns=start,
        t_end_ns=end,
    )


# ---------------------------------------------------------------- npz


def _npz_keys(path: Path) -> list[str]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return list(npz.files)
    except _NPZ_ERRORS as exc:
        raise load_error(str(path), exc) from exc


def _npz_array(path: Path, key: str) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return npz[key]
    except _NPZ_ERRORS as exc:
        raise load_error(f"{path} ({key})", exc) from exc


def _npz_data(path: Path, prefix: str, time_key: str) -> SignalData:
    """One stream of an npz as SignalData (fields and ``_names`` as the bundle reader reads)."""
    origin = str(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            t_ns = times_to_ns(npz[time_key], origin, time_key)
            fields: dict[str, np.ndarray] = {}
            strings: dict[str, list[str]] = {}
            for key in npz.files:
                if not key.startswith(prefix) or key == time_key:
                    continue
                rest = key[len(prefix) :]
                if rest.startswith(NPZ_NAMES_KEY):
                    arr = npz[key]
                    if arr.dtype.kind in "US" and arr.ndim == 1:
                        strings[rest] = [str(v) for v in arr.tolist()]
                    continue
                if "/" in rest or rest.startswith("_"):
                    continue
                try:
                    arr = npz[key]
                except ValueError:  # an object array: never unpickled
                    continue
                if arr.dtype.kind in "biuf" and arr.ndim in (1, 2) and len(arr) == len(t_ns):
                    fields[rest] = arr
    except _NPZ_ERRORS as exc:
        raise load_error(origin, exc) from exc
    names: dict[str, Sequence[str]] = {}
    common = strings.get(NPZ_NAMES_KEY)
    for fname, arr in fields.items():
        own = strings.get(f"{NPZ_NAMES_KEY}/{fname}")
        for candidate in (own, common):
            if candidate is not None and arr.ndim == 2 and len(candidate) == arr.shape[1]:
                names[fname] = candidate
                break
    return SignalData(t_ns, fields, names)


def _npz_loader(path: Path, prefix: str, time_key: str) -> Loader:
    return lambda: _npz_data(path, prefix, time_key)


def npz_streams(path: Path, role: str) -> list[SignalInput]:
    origin = str(path)
    keys = _npz_keys(path)
    suffix = "/" + NPZ_TIME_KEY
    layout = [k[: -len(suffix)] for k in keys if k.endswith(suffix)]
    out: list[SignalInput] = []
    for stream in layout:
        key = f"{stream}{suffix}"
        raw = _npz_array(path, key)
        if raw.dtype.kind not in "iu":
            raise ValidationError(f"{origin}: {key!r} must be integer nanoseconds, got {raw.dtype}")
        start, end = time_span(times_to_ns(raw, origin, key))
        out.append(
            SignalInput(
                name=stream,
                role=role,
                origin=origin,
                load=_npz_loader(path, f"{stream}/", key),
                source=path,
                format="npz",
                t_start_ns=start,
                t_end_ns=end,
            )
        )
    if out:
        return out
    flat = [k for k in keys if "/" not in k]
    column = pick_time_column(flat, origin)
    raw = _npz_array(path, column)
    t_ns = times_to_ns(raw, origin, column)
    start, end = time_span(t_ns)
    return [
        SignalInput(
            name=path.stem,
            role=role,
            origin=origin,
            load=lambda: _npz_data(path, "", column),
            source=path if raw.dtype.kind in "iu" else None,
            format="npz",
            time_column=column,
            t_start_ns=start,
            t_end_ns=end,
        )
    ]


# ---------------------------------------------------------------- HDF5


def _children(group: Any) -> Iterator[tuple[str, Any]]:
    """(name, object) of the group's members through hard links only."""
    import h5py

    for key in group:
        link = group.get(key, getlink=True)
        if isinstance(link, (h5py.ExternalLink, h5py.SoftLink)):
            continue
        obj = group.get(key)
        if isinstance(obj, h5py.Dataset) and obj.is_virtual:
            continue
        yield key, obj


def _numeric(ds: Any) -> bool:
    import h5py

    dtype = ds.dtype
    if h5py.check_dtype(ref=dtype) is not None or h5py.check_dtype(vlen=dtype) is not None:
        return False
    return dtype.kind in "biuf"


def _time_dataset(group: Any) -> str | None:
    import h5py

    members = dict(_children(group))
    for name in TIME_CANDIDATES:
        ds = members.get(name)
        if isinstance(ds, h5py.Dataset) and ds.ndim == 1 and _numeric(ds):
            return name
    return None


def _hdf5_plan(group: Any, stem: str) -> list[tuple[str, str, list[str]]]:
    """(stream name, time dataset path, field dataset paths) per group that holds a time
    dataset; datasets in sub-groups without their own time join the nearest stream above."""
    import h5py

    plans: list[tuple[str, str, list[str]]] = []

    def visit(grp: Any, current: list[str] | None) -> None:
        time_name = _time_dataset(grp)
        if time_name is not None:
            name = stem if grp.name == "/" else grp.name
            current = []
            plans.append((name, f"{grp.name.rstrip('/')}/{time_name}", current))
        members = [obj for _key, obj in _children(grp)]
        if current is not None:  # the group's own datasets first, then its sub-groups'
            current += [obj.name for obj in members if isinstance(obj, h5py.Dataset)]
        for obj in members:
            if isinstance(obj, h5py.Group):
                visit(obj, current)

    visit(group, None)
    times = {p[1] for p in plans}
    return [(name, t, [d for d in fields if d not in times]) for name, t, fields in plans]


def _field_name(stream_group: str, dataset: str) -> str:
    base = "" if stream_group == "/" else stream_group.rstrip("/")
    return dataset[len(base) :].strip("/").replace("/", ".")


def _hdf5_data(path: Path, time_path: str, fields: list[str]) -> SignalData:
    import h5py

    from robotrace_desktop.readers.hdf5.streams import NAME_ATTRS
    from robotrace_desktop.readers.hdf5.video import safe_attr

    origin = f"{path}:{time_path}"
    group = time_path.rsplit("/", 1)[0] or "/"
    try:
        with h5py.File(path, "r", locking=False) as f:
            t_ns = times_to_ns(f[time_path][()], origin, time_path)
            data: dict[str, np.ndarray] = {}
            names: dict[str, Sequence[str]] = {}
            for dataset in fields:
                ds = f[dataset]
                if not _numeric(ds) or ds.ndim not in (1, 2) or ds.shape[0] != len(t_ns):
                    continue
                key = _field_name(group, dataset)
                if not key or key.startswith("_"):
                    continue
                data[key] = ds[()]
                if ds.ndim == 2:
                    for attr in NAME_ATTRS:
                        value = safe_attr(ds, attr)
                        if isinstance(value, list) and len(value) == ds.shape[1]:
                            names[key] = [str(v) for v in value]
                            break
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise load_error(str(path), exc) from exc
    return SignalData(t_ns, data, names)


def _hdf5_loader(path: Path, time_path: str, fields: tuple[str, ...]) -> Loader:
    return lambda: _hdf5_data(path, time_path, list(fields))


def hdf5_streams(path: Path, role: str) -> list[SignalInput]:
    import h5py

    origin = str(path)
    out: list[SignalInput] = []
    try:
        with h5py.File(path, "r", locking=False) as f:
            plans = _hdf5_plan(f, path.stem)
            for name, time_path, fields in plans:
                t_ns = times_to_ns(f[time_path][()], f"{origin}:{time_path}", time_path)
                start, end = time_span(t_ns)
                out.append(
                    SignalInput(
                        name=name,
                        role=role,
                        origin=f"{origin}:{time_path.rsplit('/', 1)[0] or '/'}",
                        load=_hdf5_loader(path, time_path, tuple(fields)),
                        t_start_ns=start,
                        t_end_ns=end,
                    )
                )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise load_error(origin, exc) from exc
    if not out:
        raise ConfigurationError(
            f"{origin}: no time dataset (looked for {', '.join(TIME_CANDIDATES)} in every group)"
        )
    return out
