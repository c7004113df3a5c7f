"""``episodes_stats.jsonl`` parsed by pyarrow in one call, for indexing a large dataset.

Why: indexing needs each episode's outcome features (and ``task_index``) out of a file that
holds every feature's min/max/mean/std for every episode — 53 MB for 10,000 episodes — and one
``json.loads`` per line was a fifth of a first scan. pyarrow's JSON reader parses it in C
threads and, given an explicit schema, builds arrays only for the few wanted values.

The result must be what the line-by-line parse (``EpisodeStats.all``) gives wherever indexing
looks: whether a wanted feature is there, its ``min`` and ``max`` as numbers. So this path
declines (returns None) for any file it cannot vouch for, and the caller parses line by line:
a line without a leading ``episode_index`` or that ``json.loads`` refuses, two lines for one
episode, bytes that are not UTF-8, a line that may nest deeper than ``json.loads`` recurses, a
wanted feature whose type the first line does not show, or anything pyarrow itself refuses
(a type changing between lines, a key given twice, a number out of range). pyarrow reads
JSON numbers into doubles, so an integer comes back as a float: indexing only ever uses
``float()`` of them. An episode whose outcome features all read as null (absent, or written
``null``: only the line can tell) is parsed from its own line.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from robotrace_desktop.readers.lerobot.features import OUTCOME_FEATURES

if TYPE_CHECKING:
    import pyarrow as pa

    from robotrace_desktop.readers.lerobot.stats import EpisodeStats

#: smaller files are parsed line by line: importing pyarrow costs more than it saves there
BULK_MIN_BYTES = 1 << 20
#: a line with at most this many "[" and "{" nests less deep than json.loads can recurse
SAFE_NESTING = 400
_BOUNDS = ("min", "max")


def bulk_stats(stats: EpisodeStats, data: bytes) -> dict[int, dict[str, Any]] | None:
    """{episode index: {feature: {"min": ..., "max": ...}}} for ``EpisodeStats.all_bulk``."""
    keep = stats.keep
    if (
        keep is None
        or len(data) < BULK_MIN_BYTES
        or not stats.spans
        or stats.parsed
        or stats.bad
        or stats.lines != len(stats.spans)  # a line per episode, each led by its index
        or stats.nested > SAFE_NESTING
        or not _utf8(data)
    ):
        return None
    start, end = next(iter(stats.spans.values()))
    try:
        first = json.loads(data[start:end])
    except (ValueError, RecursionError):
        return None
    schema = _schema(first.get("stats") if isinstance(first, dict) else None, keep, data)
    if schema is None:
        return None
    import pyarrow as pa
    import pyarrow.json as pj

    try:
        table = pj.read_json(
            pa.BufferReader(data),
            parse_options=pj.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="ignore"
            ),
        )
    except (pa.ArrowException, ValueError):
        return None
    if table.num_rows != stats.lines or (
        table.column("episode_index").to_pylist() != list(stats.spans)
    ):
        return None
    outcome = [k for k in keep if k in OUTCOME_FEATURES]
    found: dict[int, dict[str, Any]] = {}
    rows = table.column("stats").to_pylist() if "stats" in table.column_names else []
    for (index, (start, end)), row in zip(stats.spans.items(), rows, strict=True):
        entries = {k: v for k, v in (row or {}).items() if v is not None}
        if outcome and not any(k in entries for k in outcome):
            entries = stats._wanted(stats._record(data[start:end], None))
        found[index] = entries
    return found


def _utf8(data: bytes) -> bool:
    """json.loads refuses a line that is not UTF-8; pyarrow does not check strings."""
    if data.isascii():
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _schema(first: Any, keep: tuple[str, ...], data: bytes) -> pa.Schema | None:
    """episode_index and the ``min``/``max`` of each wanted feature, typed as the first line
    has them; None when a type cannot be told. A wanted feature absent from the first line is
    left out only when its name occurs nowhere in the file (no line can then hold it)."""
    import pyarrow as pa

    if not isinstance(first, dict):
        return None
    features = []
    for key in keep:
        entry = first.get(key)
        if entry is None:
            if key in first or json.dumps(key).encode() in data or b"\\u" in data:
                return None
            continue
        if not isinstance(entry, dict) or any(bound not in entry for bound in _BOUNDS):
            return None
        bounds = [(bound, _arrow_type(entry[bound])) for bound in _BOUNDS]
        if any(kind is None for _, kind in bounds):
            return None
        features.append(pa.field(key, pa.struct(bounds)))
    if not features:
        return None
    return pa.schema([("episode_index", pa.int64()), ("stats", pa.struct(features))])


def _arrow_type(value: Any) -> pa.DataType | None:
    """bool, double, or a list of one of them (nested as deep as the value): None for
    anything else (strings, nulls, an empty list, a list mixing kinds)."""
    import pyarrow as pa

    kind = type(value)
    if kind is bool:
        return pa.bool_()
    if kind is int or kind is float:
        return pa.float64()
    if kind is list and value:
        inner = {_arrow_type(item) for item in value}
        if len(inner) != 1 or None in inner:
            return None
        return pa.list_(inner.pop())
    return None
