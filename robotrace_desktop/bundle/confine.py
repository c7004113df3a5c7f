"""Path safety: every path a manifest names stays inside its bundle.

A bundle may come from anywhere (a download, a colleague's disk), so a manifest is untrusted
input: a path that is absolute, climbs out with ``..`` or resolves through a symlink to a file
outside the folder would let a crafted bundle make RoboTrace read (and show, export, upload)
any file of the user. The reader checks every path on open and every writer checks its own
manifest before writing it, with these two functions.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from robotrace_desktop.bundle.errors import ManifestError, PathEscapeError
from robotrace_desktop.bundle.libraries import in_trusted_library

_DRIVE = re.compile(r"^[A-Za-z]:")


def check_relative_path(rel: object, what: str = "path") -> str:
    """Validate a manifest path statically: relative, forward slashes, no '..'. Returns it."""
    if not isinstance(rel, str) or not rel.strip():
        raise ManifestError(f"{what} must be a non-empty string, got {rel!r}")
    if "\\" in rel or "\x00" in rel:
        raise PathEscapeError(f"{what} {rel!r} must use '/' separators")
    posix = PurePosixPath(rel)
    if posix.is_absolute() or _DRIVE.match(rel):
        raise PathEscapeError(f"{what} {rel!r} is absolute; paths must be relative to the bundle")
    if ".." in posix.parts:
        raise PathEscapeError(f"{what} {rel!r} contains '..'; paths must stay inside the bundle")
    return rel


def resolve_in_bundle(folder: Path, rel: str) -> Path:
    """The file ``rel`` names inside ``folder``, after following symlinks; raises
    PathEscapeError when it would land outside the folder. The file need not exist.

    One exception: a bundle inside a RoboTrace library (``in_trusted_library``) may hold
    symlinks to files elsewhere — the logging SDK's ``copy=False`` references the user's
    files in place that way. The manifest path itself must still be confined (relative, no
    '..'); only a symlink the library's own writer put there can lead out."""
    check_relative_path(rel)
    root = folder.resolve()
    target = (root / rel).resolve()
    if target != root and not target.is_relative_to(root) and not in_trusted_library(root):
        raise PathEscapeError(f"path {rel!r} resolves outside the bundle (to {target})")
    return target
