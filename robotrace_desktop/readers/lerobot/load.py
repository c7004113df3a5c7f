"""A LeRobot dataset's metadata, loaded by its version: the one module that knows both
loaders (``meta`` for v2.x, ``meta_v3`` for v3.0), so neither imports the other."""

from __future__ import annotations

from pathlib import Path

from robotrace_desktop.readers.lerobot.meta import DatasetMeta, load_v2, read_dataset_header
from robotrace_desktop.readers.lerobot.meta_v3 import load_v3


def load_dataset(root: Path, *, lazy_stats: bool = False) -> DatasetMeta:
    """Every episode's metadata, without touching row data (one parquet read for v3).
    Opening episodes goes through a per-process cache of this (``readers/lerobot/reader.py``),
    with ``lazy_stats``: v2.1 stats are then parsed per episode, as each is opened."""
    meta = read_dataset_header(root)
    if meta.is_v3:
        load_v3(meta)
    else:
        load_v2(meta, lazy_stats=lazy_stats)
    return meta
