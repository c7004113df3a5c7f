"""Indexing a bag from its summaries (first messages located through the container index,
deserializers generated lazily, each .msg section parsed once) gives exactly the EpisodeInfo
the full reading path gives, on every real bag in ../shared/data — and damaged indexes fall
back to that path instead of crashing or miscounting."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from robotrace_desktop.readers.rosbag import bagfile as ros_bagfile
from robotrace_desktop.readers.rosbag import first_times as ros_first
from robotrace_desktop.readers.rosbag.bagfile import open_bag
from robotrace_desktop.readers.rosbag.lazy_serde import lazy_typestore, prepare_deserializer
from robotrace_desktop.readers.rosbag.source import index_bag
from robotrace_desktop.readers.rosbag.typestore import _parse_definition, _parse_msg
from tests.readers.bag_topics import topics_with_messages
from tests.readers.test_rosbag_one_pass import BAGS

AUV = "rosbag2/cougars_auv/SO_lastbag_mcap"


def _info_json(path: Path) -> str:
    """Every field of the indexed EpisodeInfo, as canonical JSON (byte-comparable)."""
    infos = [dataclasses.asdict(i) for i in index_bag(path)]
    return json.dumps(infos, default=repr, sort_keys=True)


def _no_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reading path without indexes: every first message from the full pass."""
    monkeypatch.setattr(
        ros_bagfile, "first_times", lambda kind, storages, groups: [None] * len(groups)
    )


@pytest.mark.parametrize("name", BAGS)
def test_indexed_info_equals_the_full_reading_path(
    shared_data: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = shared_data / name
    indexed = _info_json(path)
    with monkeypatch.context() as m:
        _no_index(m)
        full = _info_json(path)
    assert indexed == full


@pytest.mark.parametrize("name", BAGS)
def test_index_finds_every_first_message_without_the_full_pass(
    shared_data: Path, name: str
) -> None:
    """The index answers for every topic with messages: no pass over the bag is needed."""
    with open_bag(shared_data / name) as bag:
        wanted = topics_with_messages(bag.connections)
        firsts = ros_first.first_times(bag.storage, bag._storages, wanted)
        assert all(f is not None for f in firsts), name
        for group, first, message in zip(wanted, firsts, bag.first_messages(wanted), strict=True):
            assert message is not None and first is not None
            assert message[1] == first[0]
            assert message[1] == int(bag.timestamps(group)[0])


def test_damaged_message_index_falls_back_to_the_full_pass(
    shared_data: Path, tmp_path: Path
) -> None:
    """A MessageIndex record overwritten with garbage: same info as the intact bag."""
    source = shared_data / AUV
    copy = tmp_path / source.name
    shutil.copytree(source, copy)
    for f in copy.iterdir():
        f.chmod(0o644)
    mcap = next(copy.glob("*.mcap"))
    with open_bag(copy) as bag:
        offsets = [o for c in bag._storages[0].chunks for o in c.message_index_offsets.values()]
    data = bytearray(mcap.read_bytes())
    for offset in offsets:
        data[offset] = 0x00  # no longer a MessageIndex op code
    mcap.write_bytes(bytes(data))
    intact = json.loads(_info_json(source))[0]
    damaged = json.loads(_info_json(copy))[0]
    for key in ("id", "path"):
        intact.pop(key), damaged.pop(key)
    intact["metadata"].pop("files"), damaged["metadata"].pop("files")
    assert damaged == intact


def test_an_index_promising_another_time_is_not_trusted(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An index off by one nanosecond: the window misses, the full pass answers, same info."""
    path = shared_data / AUV
    want = _info_json(path)
    real = ros_first.first_times

    def lying(kind, storages, groups):  # type: ignore[no-untyped-def]
        return [None if f is None else (f[0] - 1, f[1]) for f in real(kind, storages, groups)]

    monkeypatch.setattr(ros_bagfile, "first_times", lying)
    assert _info_json(path) == want


@pytest.mark.parametrize("name", BAGS)
def test_section_parse_equals_rosbags_whole_text_parse(shared_data: Path, name: str) -> None:
    with open_bag(shared_data / name) as bag:
        for conn in bag.connections:
            if conn.msgdef.format.name != "MSG" or not conn.msgdef.data.strip():
                continue
            try:
                want = dict(get_types_from_msg(conn.msgdef.data, conn.msgtype))
            except Exception as exc:
                with pytest.raises(type(exc)):
                    _parse_msg(conn.msgdef.data, conn.msgtype)
                continue
            assert _parse_msg(conn.msgdef.data, conn.msgtype) == want


def _plain(value: object) -> object:
    """A decoded message as nested lists/dicts, every array element included (repr elides)."""
    if isinstance(value, np.ndarray):
        return [value.dtype.str, value.tolist()]
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@pytest.mark.parametrize(
    "name", ["rosbag2/cdr_test_mcap", "rosbag2/cougars_auv/SO_lastbag_mcap", "ros1/example.bag"]
)
def test_lazy_deserializers_decode_like_rosbags_eager_ones(shared_data: Path, name: str) -> None:
    """Every message of the bag, decoded with its embedded definition: the lazy Msgdef's object
    equals the one rosbags' eager Msgdef makes."""
    with open_bag(shared_data / name) as bag:
        ros1 = bag.kind == "rosbag1"
        checked = 0
        for conn in bag.connections:
            eager, lazy = get_typestore(Stores.EMPTY), lazy_typestore(Stores.EMPTY)
            try:
                types = _parse_definition(conn)
                eager.register(types)  # type: ignore[arg-type]
                eager.get_msgdef(conn.msgtype)
            except Exception:
                continue  # rosbags cannot use this definition: nothing to compare
            lazy.register(types)  # type: ignore[arg-type]
            prepare_deserializer(lazy, conn.msgtype, ros1=ros1)
            for _, _, raw in bag.messages([conn]):
                if ros1:
                    a = eager.deserialize_ros1(raw, conn.msgtype)
                    b = lazy.deserialize_ros1(raw, conn.msgtype)
                else:
                    a = eager.deserialize_cdr(raw, conn.msgtype)
                    b = lazy.deserialize_cdr(raw, conn.msgtype)
                assert repr(_plain(a)) == repr(_plain(b))  # NaN == NaN here
                checked += 1
        assert checked


def test_reopening_a_bag_reuses_its_plan(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The viewer's cameras reopen the bag: the plan is reused while the files are unchanged,
    the info is the same, and a rewritten bag is planned afresh."""
    from robotrace_desktop.readers.rosbag import plan_cache as ros_plan_cache
    from robotrace_desktop.readers.rosbag import source as rosbag

    copy = tmp_path / "example.bag"
    shutil.copyfile(shared_data / "ros1/example.bag", copy)
    ros_plan_cache.clear()
    plans: list[Path] = []
    real = rosbag.plan_bag

    def counting(bag, decoders):  # type: ignore[no-untyped-def]
        plans.append(bag.path)
        return real(bag, decoders)

    monkeypatch.setattr(rosbag, "plan_bag", counting)
    first = _info_json(copy)
    with rosbag.open_bag_episode(copy) as source:
        camera_view = json.dumps([dataclasses.asdict(source.info)], default=repr, sort_keys=True)
    assert plans == [copy] and camera_view == first
    mtime = copy.stat().st_mtime_ns + 1_000_000_000
    os.utime(copy, ns=(mtime, mtime))  # same bytes, another mtime: planned again
    assert _info_json(copy) == first and len(plans) == 2


def test_mcap_without_chunk_indexes_reads_first_messages_by_scanning(shared_data: Path) -> None:
    """No chunk index in the summary: the index cannot answer, the scan gives the same."""
    with open_bag(shared_data / AUV) as intact, open_bag(shared_data / AUV) as bare:
        for storage in bare._storages:
            storage.chunks = []  # as an MCAP written without chunk indexes reads
        wanted = topics_with_messages(intact.connections)
        assert ros_first.first_times(bare.storage, bare._storages, wanted) == [None] * len(wanted)
        assert bare.first_messages(wanted) == intact.first_messages(wanted)


def test_truncated_mcap_is_a_clear_error(shared_data: Path, tmp_path: Path) -> None:
    from robotrace_desktop.errors import CorruptRecordingError

    data = next((shared_data / AUV).glob("*.mcap")).read_bytes()
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(data[: len(data) * 9 // 10])
    with pytest.raises(CorruptRecordingError, match=r"cut\.mcap"):
        list(index_bag(cut))
