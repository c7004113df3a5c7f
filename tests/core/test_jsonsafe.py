"""jsonsafe.dumps takes the C encoder's fast path only when its output equals the slow path's."""

from __future__ import annotations

import enum
import json
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from robotrace_desktop.core import jsonsafe


def slow(value: object, **kwargs: object) -> str:
    return json.dumps(jsonsafe.to_jsonable(value), ensure_ascii=False, allow_nan=False, **kwargs)


class Color(str, enum.Enum):  # noqa: UP042 - str() differs from StrEnum: the point
    RED = "red"


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from([np.float64(0.1), np.int64(3), np.bool_(True), Path("/a/b"), b"x\xff"]),
    st.frozensets(st.integers(), max_size=3),
    st.just(Color.RED),
)
keys = st.one_of(st.text(max_size=6), st.integers(), st.booleans(), st.none(), st.just(Color.RED))
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(keys, inner, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=200, derandomize=True)
@given(values, st.booleans())
def test_same_bytes_as_the_slow_path(value: object, sort_keys: bool) -> None:
    try:
        expected = slow(value, sort_keys=sort_keys)
    except TypeError:  # mixed key types cannot be sorted either way
        return
    assert jsonsafe.dumps(value, sort_keys=sort_keys) == expected


def test_cases_the_c_encoder_renders_differently() -> None:
    for value in (
        {True: 1, None: 2},  # "True"/"None" vs true/null
        {2: "a", 10: "b"},  # sorted as strings, not ints
        {Color.RED: 1},  # str(key) of a str enum in 3.11
        {"a": float("nan")},
        {"a": np.arange(3)},
        [Path("/x"), {1, 2}],
    ):
        assert jsonsafe.dumps(value, sort_keys=True) == slow(value, sort_keys=True)


@settings(max_examples=300, derandomize=True)
@given(st.lists(values, min_size=1, max_size=4), st.booleans())
def test_batch_encoder_writes_what_dumps_writes(parts: list[object], sort_keys: bool) -> None:
    """Shared members (the same object in several values, met again later in the batch) and
    nesting past the spliced levels come out as ``dumps`` writes them."""
    nested: object = {"deep": parts[0]}
    for _ in range(6):
        nested = {"level": nested, "list": [nested, 1.5]}
    batch = [
        *parts,
        {"a": parts, "b": parts[0], "c": [parts[-1], parts[0]]},
        [parts, {"again": parts}],
        nested,
    ]
    encoder = jsonsafe.BatchEncoder(memo_size=3)  # small: evictions happen too
    for value in batch + batch:
        try:
            expected = jsonsafe.dumps(value, sort_keys=sort_keys)
        except TypeError:  # mixed key types cannot be sorted either way
            continue
        assert encoder.dumps(value, sort_keys=sort_keys) == expected


def test_batch_encoder_reuses_a_shared_member() -> None:
    shared = {"observation.state": {"names": [f"j{i}" for i in range(26)], "shape": [26]}}
    encoder = jsonsafe.BatchEncoder()
    for index in range(3):
        value = {
            "features": shared,
            "episode": index,
            "nan": float("nan"),
            "np": np.int64(2),
            "b": {"z": [1], "y": {"x": 2, "w": [shared]}},
        }
        for sort_keys in (False, True):
            assert encoder.dumps(value, sort_keys=sort_keys) == jsonsafe.dumps(
                value, sort_keys=sort_keys
            )
    assert encoder.dumps(shared) is encoder.dumps(shared)
