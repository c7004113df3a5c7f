"""A scan writes the same rows as the row-at-a-time, slow-JSON path it replaced (issue 16).

The reference run swaps in what the scanner did before: one ``upsert`` per episode and every
JSON value through ``to_jsonable`` (no batch encoder sharing a dataset's feature table). Both
scan the real recordings in ../shared/data and a generated LeRobot dataset (v2.1, numpy-free
metadata but with episode extras and a missing video); every stored field must match except
the time of indexing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from robotrace_desktop.catalog import store
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core import jsonsafe
from robotrace_desktop.core.episode import EpisodeInfo
from robotrace_desktop.library import scanner
from tests.readers.lerobot_fixtures import EpisodeSpec, write_v2


def _slow_dumps(value: object, **kwargs: object) -> str:
    return json.dumps(jsonsafe.to_jsonable(value), ensure_ascii=False, allow_nan=False, **kwargs)


def _one_at_a_time(self: Catalog, recording: str, infos: Sequence[EpisodeInfo]) -> list[str]:
    results: list[str] = []
    for info in infos:
        results.extend(_BULK(self, recording, [info]))
    return results


_BULK = Catalog.upsert_episodes


class _SlowEncoder:
    """The batch encoder replaced by the slow path it must equal, call for call."""

    def dumps(self, value: object, *, sort_keys: bool = False) -> str:
        return _slow_dumps(value, sort_keys=sort_keys)


def _rows(path: Path) -> tuple[list[tuple], list[tuple], list[tuple]]:
    conn = sqlite3.connect(path)
    names = [d[0] for d in conn.execute("SELECT * FROM episodes LIMIT 0").description]
    keep = [n for n in names if n != "indexed_at"]
    episodes = conn.execute(f"SELECT {', '.join(keep)} FROM episodes ORDER BY id").fetchall()
    streams = conn.execute("SELECT * FROM streams ORDER BY episode_id, position").fetchall()
    recordings = conn.execute(
        "SELECT path, kind, fingerprint, status, error FROM recordings ORDER BY path"
    ).fetchall()
    conn.close()
    return episodes, streams, recordings


def test_scan_rows_equal_the_reference(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generated = write_v2(
        tmp_path / "data" / "generated",
        episodes=[EpisodeSpec(30 + i, i % 2, i % 3 != 0) for i in range(12)],
        video_episodes=range(6),
        episode_extra={2: {"policy_version": "p1", "seed": 7}},
    )
    roots = [shared_data, generated]
    with Catalog(tmp_path / "bulk.sqlite") as catalog:
        fast = scanner.scan(catalog, roots)
    with monkeypatch.context() as patch:
        patch.setattr(jsonsafe, "dumps", _slow_dumps)
        patch.setattr(store.jsonsafe, "dumps", _slow_dumps)
        patch.setattr(jsonsafe, "BatchEncoder", _SlowEncoder)
        patch.setattr(Catalog, "upsert_episodes", _one_at_a_time)
        with Catalog(tmp_path / "reference.sqlite") as catalog:
            slow = scanner.scan(catalog, roots)
    assert fast.to_dict() == slow.to_dict()
    assert fast.new > 100
    bulk, reference = _rows(tmp_path / "bulk.sqlite"), _rows(tmp_path / "reference.sqlite")
    for name, got, want in zip(("episodes", "streams", "recordings"), bulk, reference,
                               strict=True):  # fmt: skip
        assert len(got) == len(want), name
        assert got == want, name
