"""Analyzer thresholds: documented defaults, overridable per catalog in ``explain.toml``.

The file lives next to the catalog (``<catalog folder>/explain.toml``); ``write_defaults`` puts a
commented copy there so a user can see and tune every number. Unknown keys are ignored with a
warning; a malformed file is reported and the defaults are used.
"""

from __future__ import annotations

import copy
import logging
import os
import tomllib
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
FILE_NAME = "explain.toml"

#: cause id -> {key: (default, documentation)}. Analyzers read ``thresholds[cause][key]``.
DEFAULTS: dict[str, dict[str, tuple[Any, str]]] = {}


def register(cause: str, **values: tuple[Any, str]) -> None:
    """Analyzers declare their thresholds at import time (value, one-line documentation)."""
    DEFAULTS.setdefault(cause, {}).update(values)


def defaults() -> dict[str, dict[str, Any]]:
    return {cause: {k: v[0] for k, v in keys.items()} for cause, keys in DEFAULTS.items()}


#: (path, size, mtime, analyzers registered) -> the merged thresholds: ``explain --all``
#: asks once per episode, and parsing the file each time cost more than some analyzers
_LOADED: dict[tuple[str, int, int, int], dict[str, dict[str, Any]]] = {}


def load(path: Path | None) -> dict[str, dict[str, Any]]:
    """Defaults merged with the TOML file at ``path`` (if it exists); a fresh copy each call."""
    try:
        st = path.stat() if path is not None else None
    except OSError:
        st = None
    if path is None or st is None:
        return _fresh(defaults())
    key = (str(path), st.st_size, st.st_mtime_ns, sum(len(v) for v in DEFAULTS.values()))
    if key not in _LOADED:
        _LOADED.clear()  # one catalog's file at a time
        _LOADED[key] = _merged(path)
    return _fresh(_LOADED[key])


def _fresh(table: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A copy the caller may change: new dicts, the mutable values deep-copied, the
    immutable ones (numbers, strings) shared — ``copy.deepcopy`` of the whole table was a few
    % of ``explain --all`` (once per episode)."""
    return {
        cause: {
            key: value
            if isinstance(value, (bool, int, float, str, type(None)))
            else copy.deepcopy(value)
            for key, value in values.items()
        }
        for cause, values in table.items()
    }


def _merged(path: Path) -> dict[str, dict[str, Any]]:
    merged = copy.deepcopy(defaults())
    if not path.is_file():
        return merged
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        log.warning("%s: ignored, using the default thresholds (%s)", path, exc)
        return merged
    for cause, values in data.items():
        if cause not in merged or not isinstance(values, dict):
            log.warning("%s: unknown section [%s] ignored", path, cause)
            continue
        for key, value in values.items():
            if key not in merged[cause]:
                log.warning("%s: unknown key %s.%s ignored", path, cause, key)
                continue
            if _is_number(merged[cause][key]) and not _is_number(value):
                log.warning("%s: %s.%s must be a number; default kept", path, cause, key)
                continue
            merged[cause][key] = value
    return merged


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def render_defaults() -> str:
    """The documented defaults as TOML text."""
    lines = [
        "# RoboTrace Explain thresholds. Edit a value to tune an analyzer; delete it to get the",
        "# default back. Times are seconds unless the key says otherwise.",
        "",
    ]
    for cause in sorted(DEFAULTS):
        lines.append(f"[{cause}]")
        for key, (value, doc) in DEFAULTS[cause].items():
            lines.append(f"# {doc}")
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def write_defaults(path: Path) -> Path:
    """Write the defaults to ``path`` whole or not at all: a process killed mid-write, or two
    scans starting at once, never leave a truncated file (it would be ignored with a warning
    and the user's edits would have nowhere to go)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temp.write_text(render_defaults(), encoding="utf-8")
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)
