"""When RoboTrace's own folder (ROBOTRACE_HOME or the platform data folder) cannot be written.

On a machine where the user's home is read-only or owned by someone else, ``demo`` died with a
Python traceback and even ``show PATH`` refused to run, though showing a recording needs no
catalog write. Two remedies live here: a one-line message that names the folder and the
variable to set, and (``commands.common.catalog_for_reading``) a throw-away catalog for the
commands that only read.
"""

from __future__ import annotations

import errno
from pathlib import Path

from robotrace_desktop import paths

_DENIED = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


def home_not_writable_message(exc: BaseException) -> str | None:
    """'permission denied: cannot write <path> …; set ROBOTRACE_HOME=…' when ``exc`` (or what
    caused it) is a refused write under RoboTrace's own folder; None otherwise."""
    home = paths.home()
    current: BaseException | None = exc
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _DENIED:
            where = Path(current.filename) if current.filename else home
            if where == home or home in where.parents or where in home.parents:
                return (
                    f"permission denied: cannot write {where}, where RoboTrace keeps its catalog "
                    f"and library; set ROBOTRACE_HOME to a folder you can write "
                    f"(e.g. ROBOTRACE_HOME=~/robotrace) or fix the folder's permissions"
                )
        current = current.__cause__ or current.__context__
    return None
