"""rosbags' YAML read through libyaml (readers.ros_yaml) equals ruamel's reading of it: every
metadata.yaml and every QoS profile text of the real bags, and the YAML 1.1/1.2 traps."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from robotrace_desktop.readers.rosbag.fast_yaml import CSafeLoader, FastYAML

pytestmark = pytest.mark.skipif(CSafeLoader is None, reason="PyYAML's C loader is not installed")


def _both(text: str) -> None:
    expected = YAML(typ="safe").load(text)
    got = FastYAML(typ="safe").load(text)
    assert got == expected and type(got) is type(expected)
    assert repr(got) == repr(expected)  # same types inside (int vs float vs str vs bool)


def _mcap_qos_texts(path: Path) -> list[str]:
    """offered_qos_profiles of every channel, from the MCAP channel records."""
    from rosbags.rosbag2.storage_mcap import McapReader

    reader = McapReader(path)
    reader.open()
    try:
        texts = []
        for channel in reader.channels.values():
            meta = channel.metadata
            pos = 0
            while pos < len(meta):
                (n,) = struct.unpack_from("<I", meta, pos)
                key = meta[pos + 4 : pos + 4 + n].decode()
                pos += 4 + n
                (m,) = struct.unpack_from("<I", meta, pos)
                value = meta[pos + 4 : pos + 4 + m].decode()
                pos += 4 + m
                if key == "offered_qos_profiles":
                    texts.append(value)
        return texts
    finally:
        reader.close()


def test_every_real_metadata_and_qos_text_reads_the_same(shared_data: Path) -> None:
    metadata = sorted(shared_data.rglob("metadata.yaml"))
    assert len(metadata) >= 12
    for path in metadata:
        text = path.read_text()
        _both(text)
        info = YAML(typ="safe").load(text)["rosbag2_bagfile_information"]
        for topic in info.get("topics_with_message_count") or []:
            qos = topic["topic_metadata"].get("offered_qos_profiles")
            if isinstance(qos, str) and qos:
                _both(qos)
    texts = [t for p in sorted(shared_data.rglob("*.mcap")) for t in _mcap_qos_texts(p)]
    assert len(texts) >= 33
    for text in texts:
        _both(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: yes\nb: no\nc: on\nd: off\ne: y\n",
        "a: 0o17\nb: 017\nc: 0x1F\nd: 0b101\ne: 1_000\nf: 12:30\ng: 1:2:3.5\n",
        "a: 1.\nb: .5\nc: -.5\nd: 1e5\ne: 1.5e-3\nf: .inf\ng: -.Inf\nh: .NaN\ni: +.nan\n",
        "a: ~\nb: null\nc:\nd: Null\ne: True\nf: FALSE\ng: 0\nh: -7\ni: +3\nj: 007\n",
        "a: 2024-01-02\nb: 2001-12-14t21:59:43.10-05:00\n",
        "a: &x {k: 1}\nb:\n  <<: *x\n  j: 2\n",
        "a: 1\na: 2\n",
        "%YAML 1.1\n---\na: yes\n",
        "a: !!str 5\nb: !!float 3\n",
        "- history: 3\n  depth: 0\n  deadline:\n    sec: 9223372036\n    nsec: 854775807\n",
    ],
)
def test_yaml_1_1_and_1_2_traps_read_as_ruamel_reads_them(text: str) -> None:
    try:
        expected = YAML(typ="safe").load(text)
    except Exception as exc:  # ruamel refuses (duplicate keys): so must we, with its error
        with pytest.raises(type(exc)):
            FastYAML(typ="safe").load(text)
        return
    got = FastYAML(typ="safe").load(text)
    assert repr(got) == repr(expected)
