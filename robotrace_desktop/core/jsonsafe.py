"""JSON that never fails on what readers put in metadata: numpy scalars/arrays, NaN, paths.

Why two paths: ``to_jsonable`` walks every value in Python, and a catalog scan serializes each
episode's metadata and streams several times (100,000 LeRobot episodes spent most of their
scan there). Almost every value is already plain JSON, so ``dumps`` first hands it to the C
encoder untouched; only what that encoder would render differently from ``to_jsonable`` — a
non-``str`` dict key (``True`` vs ``"True"``, int keys sorted as ints), NaN/Inf, numpy values,
paths, sets — sends it down the slow path. The output is the same byte for byte either way.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Callable
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

_CONTAINERS = (dict, list, tuple)
_CONTAINER_TYPES = frozenset(_CONTAINERS)
_SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})
_PLAIN_TYPES = _SCALAR_TYPES | _CONTAINER_TYPES


def to_jsonable(value: Any) -> Any:
    """Plain JSON types only; NaN/Inf become None (strict JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy arrays and scalars
        return to_jsonable(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _str_keys_only(value: Any) -> bool:
    """Whether ``value`` holds only exact plain types (str/int/float/bool/None, dict/list/tuple)
    and every dict has exact-``str`` keys: then the C encoder's output equals
    ``to_jsonable``'s (NaN/Inf it refuses itself). Types are gathered with ``set(map(type,
    ...))`` so the per-element work stays in C: a channel list of 26 names costs one call."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            if item and set(map(type, item)) != {str}:
                return False
            members: Any = item.values()
        elif kind is list or kind is tuple:
            members = item
        else:  # a dict/list/tuple subclass: leave it to to_jsonable
            return False
        types = set(map(type, members))
        if types <= _SCALAR_TYPES:
            continue
        if not types <= _PLAIN_TYPES:
            return False
        stack.extend(v for v in members if type(v) in _CONTAINER_TYPES)
    return True


def dumps(value: Any, **kwargs: Any) -> str:
    if isinstance(value, _CONTAINERS) and _str_keys_only(value):
        try:
            return json.dumps(value, ensure_ascii=False, allow_nan=False, **kwargs)
        except (TypeError, ValueError):  # numpy, NaN, a path...: the exact slow path below
            pass
    return json.dumps(to_jsonable(value), ensure_ascii=False, allow_nan=False, **kwargs)


def _float_text(value: float) -> str:
    return float.__repr__(value) if math.isfinite(value) else "null"  # NaN/Inf: to_jsonable's


#: what ``dumps`` writes for a value of exactly these types (json's own renderings)
_SCALAR_TEXT: dict[type, Callable[[Any], str]] = {
    str: encode_basestring,
    int: int.__repr__,
    float: _float_text,
    bool: lambda value: "true" if value else "false",
    type(None): lambda value: "null",
}


def scalar_text(value: Any) -> str:
    """``dumps(value)`` of an exact str, int, float, bool or None (NaN/Inf: ``null``); a
    TypeError for any other type, so a caller can take ``dumps``'s general path instead."""
    render = _SCALAR_TEXT.get(type(value))
    if render is None:
        raise TypeError(f"not a plain JSON scalar: {type(value).__name__}")
    return str(render(value))


def _refuse(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class BatchEncoder:
    """``dumps`` for a batch of values that share parts, each shared part encoded once.

    Why: a scan writes every episode's metadata and streams as JSON and hashes the same
    content again (sorted), and a LeRobot dataset hands all of its 10,000 episodes the same
    feature table (~4 KB of JSON each time): encoding it 20,000 times was most of a scan's
    CPU. Here the top ``SPLICE`` levels of a value are joined member by member, and every
    container below them is encoded whole by json's C encoder and remembered by identity, so
    a member met again as the same object is written from the memo.

    The output is ``dumps(value, sort_keys=...)``'s, byte for byte: members are joined with
    json's own separators and renderings, and whatever the plain-type path does not cover
    (non-``str`` keys, subclasses, numpy values, NaN) goes through ``dumps`` at that level,
    which is what the whole-value slow path does there too (``to_jsonable`` works member by
    member). Use one per batch and drop it: the memo trusts that a container it has seen is
    not changed while the batch is written (it keeps a reference, so an id is never reused).
    Not for several threads at once.
    """

    #: levels joined member by member (an episode -> its metadata -> the feature table); below,
    #: one C call per container is cheaper than joining (a stream's 26 channel names)
    SPLICE = 2

    def __init__(self, memo_size: int = 1024) -> None:
        self._memo: OrderedDict[tuple[int, bool], tuple[Any, str]] = OrderedDict()
        self._memo_size = memo_size
        # json's own C encoder, built once per batch (json.dumps builds one per call); its
        # circular-reference markers are emptied again after a failed call
        self._markers: dict[int, Any] = {}
        make = getattr(json.encoder, "c_make_encoder", None)  # CPython's; absent elsewhere
        self._c = {
            order: None
            if make is None
            else make(self._markers, _refuse, encode_basestring, None, ": ", ", ", order, False,
                      False)
            for order in (False, True)
        }  # fmt: skip

    def dumps(self, value: Any, *, sort_keys: bool = False) -> str:
        return self._dumps(value, sort_keys, self.SPLICE)

    def _dumps(self, value: Any, sort_keys: bool, levels: int) -> str:
        kind = type(value)
        scalar = _SCALAR_TEXT.get(kind)
        if scalar is not None:
            return scalar(value)
        if kind is not dict and kind is not list and kind is not tuple:
            return dumps(value, sort_keys=sort_keys)
        if not value:
            return "{}" if kind is dict else "[]"
        key = (id(value), sort_keys)
        hit = self._memo.get(key)
        if hit is not None and hit[0] is value:
            self._memo.move_to_end(key)
            return hit[1]
        if levels > 0:
            text = self._splice(value, sort_keys, levels - 1)
        else:
            text = self._whole(value, sort_keys)
        self._memo[key] = (value, text)
        if len(self._memo) > self._memo_size:
            self._memo.popitem(last=False)
        return text

    def _splice(self, value: Any, sort_keys: bool, levels: int) -> str:
        """``value`` from its members: its non-empty containers each through ``_dumps`` (the
        memo), the scalars between them in runs of one C call each."""
        if type(value) is dict:
            if set(map(type, value)) != {str}:
                return dumps(value, sort_keys=sort_keys)
            items = sorted(value.items()) if sort_keys else value.items()
            parts: list[str] = []
            run: dict[str, Any] = {}
            for key, member in items:
                if type(member) in _CONTAINER_TYPES and member:
                    if run:
                        parts.append(self._run(run))
                        run = {}
                    parts.append(
                        f"{encode_basestring(key)}: {self._dumps(member, sort_keys, levels)}"
                    )
                else:
                    run[key] = member
            if run:
                parts.append(self._run(run))
            return "{" + ", ".join(parts) + "}"
        if set(map(type, value)) == {str}:
            return "[" + ", ".join(map(encode_basestring, value)) + "]"
        return "[" + ", ".join([self._dumps(v, sort_keys, levels) for v in value]) + "]"

    def _run(self, run: dict[str, Any]) -> str:
        """Members of a dict (``str`` keys, no non-empty container) as json writes them
        between its braces, in their order."""
        encode = self._c[False]
        if encode is not None and set(map(type, run.values())) <= _SCALAR_TYPES:
            try:
                return "".join(encode(run, 0))[1:-1]
            except ValueError:  # NaN/Inf: to_jsonable's null, below
                self._markers.clear()
        return dumps(run)[1:-1]

    def _whole(self, value: Any, sort_keys: bool) -> str:
        """``dumps(value)`` with the batch's C encoder when its fast path applies."""
        encode = self._c[sort_keys]
        if encode is not None and _str_keys_only(value):
            try:
                return "".join(encode(value, 0))
            except (TypeError, ValueError):  # numpy, NaN, a path...: the exact path below
                self._markers.clear()
        return dumps(value, sort_keys=sort_keys)
