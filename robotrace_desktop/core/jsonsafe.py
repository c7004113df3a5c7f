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
