"""Helpers shared by the CLI commands: catalog opening, JSON and table output."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from robotrace_desktop.catalog.advice import damaged_message
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.commands.terminal_text import json_terminal_safe, raw_stream, terminal_safe
from robotrace_desktop.core import jsonsafe
from robotrace_desktop.core.episode import EpisodeInfo
from robotrace_desktop.core.timebase import format_seconds
from robotrace_desktop.errors import StorageError


def open_catalog(args: argparse.Namespace) -> Catalog:
    """The catalog of ``--catalog`` (or the default). A damaged one is still read, with the
    same recovery instructions a refused write prints; a missing one recreated from its
    journal says how to index the recordings again."""
    catalog = Catalog(args.catalog)
    if catalog.damage is not None:
        print(
            f"robotrace-desktop: warning: {damaged_message(catalog.path, catalog.damage)}\n"
            "  (showing what can still be read; nothing will be saved)",
            file=sys.stderr,
        )
    elif catalog.created and catalog.replayed:
        option = "" if args.catalog is None else f" --catalog {args.catalog}"
        print(
            f"robotrace-desktop: note: the catalog {catalog.path} was missing; a new one holds "
            f"the {catalog.replayed} change(s) of its journal (tags, bookmarks…). Run "
            f"`robotrace-desktop{option} catalog rebuild` to index the recordings again.",
            file=sys.stderr,
        )
    return catalog


@contextmanager
def catalog_for_reading(args: argparse.Namespace) -> Iterator[Catalog]:
    """The catalog, or — when it cannot be opened (RoboTrace's folder not writable, a full
    disk) — a throw-away one, so ``show PATH`` and ``frame PATH`` still read the recording.
    A note on stderr says why; catalog ids then cannot be found, paths still open."""
    try:
        catalog = open_catalog(args)
    except StorageError as exc:
        print(f"note: {exc}; reading the recording without the catalog", file=sys.stderr)
        with (
            tempfile.TemporaryDirectory(prefix="robotrace-") as folder,
            Catalog(Path(folder) / "catalog.sqlite") as temporary,
        ):
            yield temporary
        return
    with catalog:
        yield catalog


def print_json(value: Any) -> None:
    """Exact JSON, with the characters a terminal would obey escaped as ``\\uXXXX``."""
    sys.stdout.write(json_terminal_safe(jsonsafe.dumps(value, indent=2)) + "\n")


def episode_summary(info: EpisodeInfo) -> dict[str, Any]:
    """The keys every listing shares (``list --json`` objects)."""
    data = info.to_dict(with_streams=False)
    data.pop("metadata")
    return data


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], max_width: int = 48) -> None:
    print_table_stream(headers, lambda: iter(rows), max_width)


#: a listing up to this many rows is read once and held, each row as one string (~170 bytes:
#: 34 MB at most); a longer one is read twice — widths, then rows — so memory stays flat at a
#: million rows. Reading 100,000 rows twice cost more than the SQL itself (issue 16).
TABLE_BUFFER_ROWS = 200_000
#: between a held row's cells: never inside one (``_cell`` escapes every control character)
_HELD_SEP = "\x00"


def print_table_stream(
    headers: Sequence[str],
    read_rows: Callable[[], Iterable[Sequence[object]]],
    max_width: int = 48,
    *,
    buffer_rows: int | None = None,
) -> int:
    """Print a table of the rows ``read_rows()`` yields and return how many there were.

    The column widths need every row before the first line is printed. Up to ``buffer_rows``
    rows the cells made for the widths are printed as they are; beyond that ``read_rows`` is
    called again (the caller keeps both reads in one snapshot) and the held cells are dropped."""
    limit = TABLE_BUFFER_ROWS if buffer_rows is None else buffer_rows
    widths = [len(h) for h in headers]
    held: list[str] | None = []
    count = 0
    for row in read_rows():
        cells = _cells(row, max_width)
        if len(cells) != len(widths):
            raise ValueError(f"a row of {len(cells)} cells under {len(widths)} headers")
        widths = list(map(max, widths, map(len, cells)))
        count += 1
        if held is not None:
            held.append(_HELD_SEP.join(cells))
            if count > limit:
                held = None
    if not count:
        return 0
    write = sys.stdout.write
    write("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip() + "\n")
    if held is not None:
        rows: Iterable[list[str]] = (line.split(_HELD_SEP) for line in held)
    else:
        rows = (_cells(r, max_width) for r in read_rows())
    lines: list[str] = []
    for cells in rows:  # written a few hundred lines at a time: one stream write each
        lines.append("  ".join(map(str.ljust, cells, widths)).rstrip())
        if len(lines) >= _LINES_PER_WRITE:
            write("\n".join(lines) + "\n")
            lines.clear()
    if lines:
        write("\n".join(lines) + "\n")
    return count


_LINES_PER_WRITE = 256


def _cells(row: Sequence[object], max_width: int) -> list[str]:
    """``_cell`` of every cell; a row of plain printable ASCII ``str``s (nearly every row) in
    one check instead of one per cell."""
    if set(map(type, row)) == _STR_ONLY:
        texts = cast("Sequence[str]", row)
        joined = "".join(texts)
        if joined.isascii() and joined.isprintable():
            return [c if len(c) <= max_width else c[: max_width - 1] + "…" for c in texts]
    return [_cell(c, max_width) for c in row]


_STR_ONLY = {str}


def _cell(value: object, max_width: int) -> str:
    """A table cell as printed: control characters escaped (so widths count what is shown),
    then clipped."""
    text = terminal_safe(value if type(value) is str else str(value))
    return text if len(text) <= max_width else text[: max_width - 1] + "…"


def print_json_stream(values: Iterable[Any]) -> None:
    """What ``print_json(list(values))`` prints, written one value at a time: a JSON array
    with indent 2 is "[", each value's own indent-2 text shifted two spaces, "]" (JSON
    strings hold no raw newline, so shifting every line is exact)."""
    write = sys.stdout.write
    first = True
    for value in values:
        text = jsonsafe.dumps(value, indent=2).replace("\n", "\n  ")
        write(("[\n  " if first else ",\n  ") + text)
        first = False
    write("[]\n" if first else "\n]\n")


def duration_text(duration_ns: int) -> str:
    return format_seconds(duration_ns, 2)


def progress_bar(
    *, enabled: bool, unit: str = "rec"
) -> tuple[Callable[[int, int, str], None] | None, Callable[[], None]]:
    """A tqdm bar on stderr, created on the first update (tqdm disables a bar of total 0)."""
    if not enabled:
        return None, lambda: None
    from tqdm import tqdm

    bars: list[tqdm] = []

    def update(done: int, total: int, current: str) -> None:
        if not bars:
            stderr = raw_stream(sys.stderr)  # the bar's own \r must reach the terminal
            bars.append(tqdm(total=total, unit=unit, file=stderr, dynamic_ncols=True))
        bar = bars[0]
        bar.n = done
        name = terminal_safe(Path(current).name[-40:]) if current else ""
        bar.set_postfix_str(name, refresh=False)
        bar.refresh()

    def close() -> None:
        for bar in bars:
            bar.close()

    return update, close
