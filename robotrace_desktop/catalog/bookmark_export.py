"""Bookmark exports a teammate can act on: JSON, CSV and a Markdown bug-report snippet.

Every row carries what is needed to reproduce the moment without RoboTrace's catalog: where the
recording is, the four reproducibility fields, the exact time (ns and the ``12840ms`` form deep
links use), the frame each camera shows then, and the ``robotrace://`` link itself.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from robotrace_desktop.catalog.bookmarks import Bookmark
from robotrace_desktop.core.csv_safe import csv_cell
from robotrace_desktop.core.episode import REPRODUCIBILITY_FIELDS, EpisodeInfo
from robotrace_desktop.core.frame_lookup import frame_index_at
from robotrace_desktop.core.links import EpisodeLink
from robotrace_desktop.core.timebase import format_ms, format_seconds_exact
from robotrace_desktop.errors import ValidationError

FRAME_KEY = "frame_index"
# Columns before / after the per-camera frame columns, in export order.
HEAD_COLUMNS = (
    "bookmark_id",
    "episode_id",
    "episode_name",
    "path",
    "episode_index",
    *REPRODUCIBILITY_FIELDS,
    "robot",
    "source",
    "t_ns",
    "t",
    "t_end_ns",
    "t_end",
)
TAIL_COLUMNS = ("note", "link", "created_at")


def frame_indices(frame_times: Mapping[str, np.ndarray] | None, t_ns: int) -> dict[str, int | None]:
    """``{camera: frame index or None}`` at one episode time, cameras in the mapping's order."""
    return {cam: frame_index_at(times, t_ns) for cam, times in (frame_times or {}).items()}


def bookmark_rows(
    info: EpisodeInfo,
    bookmarks: Iterable[Bookmark],
    frame_times: Mapping[str, np.ndarray] | None = None,
) -> list[dict[str, Any]]:
    """One export row per bookmark. ``frame_times``: camera → sorted frame times in episode
    time (stream offsets already applied), as the video panes show them."""
    rows = []
    for mark in bookmarks:
        row: dict[str, Any] = {
            "bookmark_id": mark.id,
            "episode_id": info.id,
            "episode_name": info.name,
            "path": info.path,
            "episode_index": info.episode_index,
            **{f: getattr(info, f) for f in REPRODUCIBILITY_FIELDS},
            "robot": info.robot,
            "source": info.source,
            "t_ns": mark.t_ns,
            "t": format_ms(mark.t_ns),
            "t_end_ns": mark.t_end_ns,
            "t_end": None if mark.t_end_ns is None else format_ms(mark.t_end_ns),
            FRAME_KEY: frame_indices(frame_times, mark.t_ns),
            "note": mark.note,
            "link": EpisodeLink(info.id, mark.t_ns).url(),
            "created_at": datetime.fromtimestamp(mark.created_at, UTC).isoformat(),
        }
        rows.append(row)
    return rows


def to_json(rows: Sequence[Mapping[str, Any]]) -> str:
    """A JSON list of objects, keys in export order (never sorted alphabetically)."""
    return json.dumps([dict(r) for r in rows], indent=2, ensure_ascii=False) + "\n"


def cameras_of(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    cameras: list[str] = []
    for row in rows:
        for cam in row.get(FRAME_KEY, {}):
            if cam not in cameras:
                cameras.append(cam)
    return cameras


def to_csv(rows: Sequence[Mapping[str, Any]], cameras: Sequence[str] | None = None) -> str:
    """CSV with a ``frame[<camera>]`` column per camera; empty cells for None. Notes with
    commas, quotes or newlines are quoted by the csv module (RFC 4180); a note or name that a
    spreadsheet would run as a formula is neutralised."""
    cams = list(cameras) if cameras is not None else cameras_of(rows)
    header = [*HEAD_COLUMNS, *(f"frame[{c}]" for c in cams), *TAIL_COLUMNS]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        frames = row.get(FRAME_KEY, {})
        cells = [
            *(row.get(c) for c in HEAD_COLUMNS),
            *(frames.get(c) for c in cams),
            *(row.get(c) for c in TAIL_COLUMNS),
        ]
        writer.writerow([csv_cell(v) for v in cells])
    return out.getvalue()


def write_export(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write rows as JSON or CSV, chosen by the file suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        text = to_json(rows)
    elif suffix == ".csv":
        text = to_csv(rows)
    else:
        raise ValidationError(f"{path}: export format must be .json or .csv, not {suffix!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    return path


# ---------------------------------------------------------------- Markdown


def bookmarks_markdown(
    info: EpisodeInfo,
    bookmarks: Iterable[Bookmark],
    frame_times: Mapping[str, np.ndarray] | None = None,
) -> str:
    """Each bookmark's bug-report snippet (as "Copy for bug report" makes it, without the
    frame image), one after another: ``bookmark export --format md``."""
    return "\n".join(
        bug_report_markdown(info, mark, None, frame_indices(frame_times, mark.t_ns))
        for mark in bookmarks
    )


# Every ASCII punctuation character CommonMark lets a backslash escape that can start or end
# markup: emphasis, code, links/images, tables, HTML, headings, lists, setext underlines.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|<>~=&^$])")
_ORDERED_LIST = re.compile(r"^(\s*\d+)([.)])")


def escape_markdown(text: str) -> str:
    """User text made inert inside a paragraph or table cell: punctuation escaped, line breaks
    turned into ``<br>`` (added after escaping, so the only raw HTML is ours)."""
    lines = []
    for line in str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        escaped = _MD_SPECIAL.sub(r"\\\1", line)
        lines.append(_ORDERED_LIST.sub(r"\1\\\2", escaped))
    return "<br>".join(lines)


def _cell(value: object) -> str:
    return "—" if value is None or value == "" else escape_markdown(str(value))


def bug_report_markdown(
    info: EpisodeInfo,
    bookmark_or_time: Bookmark | int,
    frame_png_path: Path | None,
    frame_indices: Mapping[str, int | None],
) -> str:
    """A snippet to paste into an issue: title, deep link, reproducibility table, time and
    frames, the note, and the frame as an image when ``frame_png_path`` is given."""
    if isinstance(bookmark_or_time, Bookmark):
        t_ns, t_end_ns, note = (
            bookmark_or_time.t_ns,
            bookmark_or_time.t_end_ns,
            bookmark_or_time.note,
        )
    else:
        t_ns, t_end_ns, note = int(bookmark_or_time), None, ""
    link = EpisodeLink(info.id, t_ns).url()
    when = format_seconds_exact(t_ns)
    lines = [f"### {escape_markdown(info.name)} at {when}", "", f"Link: `{link}`", ""]
    lines += ["| field | value |", "| --- | --- |"]
    fields: list[tuple[str, object]] = [(f, getattr(info, f)) for f in REPRODUCIBILITY_FIELDS]
    fields += [
        ("robot", info.robot),
        ("source", info.source),
        ("status", info.status.value),
        ("outcome", info.outcome.value),
        ("kind", info.kind),
        ("path", info.path),
    ]
    if info.episode_index is not None:
        fields.append(("episode_index", info.episode_index))
    reason = info.metadata.get("failure_reason") if isinstance(info.metadata, dict) else None
    if reason:
        fields.append(("failure_reason", reason))
    fields.append(("episode_id", info.id))
    lines += [f"| {name} | {_cell(value)} |" for name, value in fields]
    lines.append("")
    missing = info.missing_reproducibility
    if missing:
        lines += [f"**Not reproducible: missing {', '.join(missing)}**", ""]
    time_line = f"**Time:** {when} (`{format_ms(t_ns)}`, t_ns = {t_ns})"
    if t_end_ns is not None:
        time_line += f" to {format_seconds_exact(t_end_ns)} (`{format_ms(t_end_ns)}`)"
    lines.append(time_line + "  ")
    if frame_indices:
        frames = ", ".join(
            f"{escape_markdown(cam)} {'—' if idx is None else f'#{idx}'}"
            for cam, idx in frame_indices.items()
        )
        lines.append(f"**Frames:** {frames}")
    lines.append("")
    if note.strip():
        lines += [f"> {escape_markdown(note)}", ""]
    if frame_png_path is not None:
        target = Path(frame_png_path).as_posix().replace("<", "%3C").replace(">", "%3E")
        lines += [f"![frame](<{target}>)", ""]
    return "\n".join(lines)
