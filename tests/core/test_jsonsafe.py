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
