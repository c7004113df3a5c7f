"""The content hash written straight from an episode's fields during a scan is taken of the
same text as ``jsonsafe.dumps(info.to_dict(), sort_keys=True)``: stored hashes and Explain's
reuse keys must not change with the faster path (issue 16)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from robotrace_desktop.catalog import episode_rows, hash_payload
from robotrace_desktop.core import jsonsafe
from robotrace_desktop.core.episode import EpisodeInfo, Outcome, Status, StreamInfo, StreamKind

ODD = [np.int64(7), np.float64(0.25), float("nan"), Path("/x"), True, 1.5]
SHARED_CHANNELS = ("a", "b", "c")
SHARED_FEATURES = {"observation.state": {"shape": [3], "names": list(SHARED_CHANNELS)}}


def _episodes(odd: st.SearchStrategy[object]) -> st.SearchStrategy[EpisodeInfo]:
    """Episodes whose fields may hold ``odd`` values besides the plain ones."""
    text = st.one_of(st.none(), st.text(max_size=6), odd)
    number = st.one_of(st.none(), st.integers(-(2**70), 2**70), odd)
    leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5))
    plain = st.recursive(
        st.one_of(leaf, odd),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(st.one_of(st.text(max_size=4), st.integers()), inner, max_size=3),
        ),
        max_leaves=8,
    )
    streams = st.builds(
        StreamInfo,
        name=st.one_of(st.text(max_size=5), odd),
        kind=st.sampled_from(list(StreamKind)),
        count=st.one_of(st.integers(0, 5000), odd),
        channels=st.one_of(st.just(SHARED_CHANNELS), st.lists(st.text(max_size=3), max_size=3)),
        t_start_ns=number,
        t_end_ns=number,
        message_type=text,
        details=st.dictionaries(st.text(max_size=4), plain, max_size=3),
    )
    return st.builds(
        EpisodeInfo,
        id=st.text(max_size=8),
        kind=st.one_of(st.text(max_size=8), odd),
        path=st.text(max_size=8),
        episode_index=number,
        name=st.text(max_size=8),
        duration_ns=st.one_of(st.integers(0, 2**62), odd),
        start_time_ns=number,
        source=text,
        robot=text,
        policy_version=text,
        env_version=text,
        git_sha=text,
        seed=number,
        task=text,
        outcome=st.sampled_from(list(Outcome)),
        status=st.sampled_from(list(Status)),
        problems=st.lists(st.one_of(st.text(max_size=6), odd), max_size=3),
        metadata=st.one_of(
            st.dictionaries(st.text(max_size=5), plain, max_size=4),
            st.builds(
                lambda extra: {"features": SHARED_FEATURES, **extra},
                st.dictionaries(st.text(max_size=5), plain, max_size=3),
            ),
        ),
        streams=st.lists(streams, max_size=4),
    )


#: plain fields only (the direct path) or odd values anywhere (the fallback, or both mixed)
episodes = st.one_of(_episodes(st.nothing()), _episodes(st.sampled_from(ODD)))


def test_the_field_list_matches_the_model() -> None:
    assert hash_payload.applies()


@settings(max_examples=300, derandomize=True)
@given(st.lists(episodes, min_size=1, max_size=4))
def test_batch_text_is_the_to_dict_text(infos: list[EpisodeInfo]) -> None:
    encoder = jsonsafe.BatchEncoder(memo_size=4)
    for info in infos + infos:  # shared members met again later in the batch
        try:
            expected = jsonsafe.dumps(info.to_dict(), sort_keys=True)
        except TypeError:  # keys of mixed types cannot be sorted either way
            continue
        assert episode_rows._batch_payload(info, encoder) == expected


def test_plain_fields_take_the_direct_path() -> None:
    info = EpisodeInfo(
        "e1", "lerobot", "/d", 3, "d #3", 10**9, task="pick", metadata={"fps": 30},
        streams=[StreamInfo("s", StreamKind.SIGNAL, 31, SHARED_CHANNELS, 0, 10**9, "float32",
                            {"file": "data/x.parquet", "shape": [3]})],
    )  # fmt: skip
    text = hash_payload.hash_payload(info, jsonsafe.BatchEncoder())
    assert text == jsonsafe.dumps(info.to_dict(), sort_keys=True)
