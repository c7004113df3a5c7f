"""Opening episodes of a big LeRobot dataset lists each data folder once per process while it
is unchanged, and sees a file added or removed since."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from robotrace_desktop.readers.lerobot import reader as lerobot


def test_folder_listing_is_reused_until_the_folder_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "data" / "chunk-000"
    folder.mkdir(parents=True)
    (folder / "episode_000000.parquet").write_bytes(b"x")
    monkeypatch.setattr(lerobot, "_FOLDERS", {})
    now = [os.stat(folder).st_ctime_ns + 5 * 10**9]  # the folder last changed 5 s ago
    monkeypatch.setattr(lerobot.time, "time_ns", lambda: now[0])
    scans: list[str] = []
    real_scandir = os.scandir

    def counting(path):  # type: ignore[no-untyped-def]
        scans.append(str(path))
        return real_scandir(path)

    monkeypatch.setattr(lerobot.os, "scandir", counting)
    rel = "data/chunk-000/episode_000000.parquet"
    assert lerobot._Listing(tmp_path).exists(rel)
    assert lerobot._Listing(tmp_path).exists(rel)
    assert len(scans) == 1  # the second open used the first listing

    (folder / "episode_000001.parquet").write_bytes(b"x")  # the folder changes now
    now[0] = os.stat(folder).st_ctime_ns + 10**8
    assert lerobot._Listing(tmp_path).exists("data/chunk-000/episode_000001.parquet")
    assert len(scans) == 2
    # listed within a second of its change: not kept, listed again next time
    assert lerobot._Listing(tmp_path).exists("data/chunk-000/episode_000001.parquet")
    assert len(scans) == 3
    (folder / "episode_000000.parquet").unlink()
    assert not lerobot._Listing(tmp_path).exists(rel)
