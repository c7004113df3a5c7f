"""Parsed .msg sections kept on disk (readers.ros_msg_cache) come back exactly as rosbags
parses them, and a damaged cache file is parsed again, never trusted."""

from __future__ import annotations

from pathlib import Path

import pytest
from rosbags.typesys import get_types_from_msg

from robotrace_desktop.readers.rosbag import msg_cache as ros_msg_cache
from robotrace_desktop.readers.rosbag import typestore as ros_typestore
from robotrace_desktop.readers.rosbag.bagfile import open_bag

AUV = "rosbag2/cougars_auv/SO_lastbag_mcap"


def test_sections_parsed_by_another_process_come_back_as_rosbags_parses_them(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROBOTRACE_HOME", str(tmp_path))
    with open_bag(shared_data / AUV) as bag:
        conns = list(bag.connections)
    monkeypatch.setattr(ros_typestore, "_SECTIONS", {})
    first = {c.id: ros_typestore._parse_msg(c.msgdef.data, c.msgtype) for c in conns}
    files = sorted((tmp_path / "cache" / "ros_msg").glob("*.json"))
    assert len(files) > 20  # one per distinct section

    parsed: list[str] = []
    monkeypatch.setattr(ros_typestore, "_SECTIONS", {})  # as a new process starts
    monkeypatch.setattr(ros_typestore, "MSGParser", lambda text: parsed.append(text))
    for conn in conns:
        want = dict(get_types_from_msg(conn.msgdef.data, conn.msgtype))
        got = ros_typestore._parse_msg(conn.msgdef.data, conn.msgtype)
        assert got == want == first[conn.id]
    assert parsed == []  # every section came from the cache

    section = next(iter(ros_typestore._SECTIONS))
    damaged = ros_msg_cache._file(section)
    damaged.write_text('{"section": "MSG: other", "types": {}}', encoding="utf-8")
    assert ros_msg_cache.load(section) is None
    damaged.write_text("{not json", encoding="utf-8")
    assert ros_msg_cache.load(section) is None
