"""Turn a raw ``sqlite3.Error`` from a catalog call into the app's ``StorageError``.

Callers above the catalog (the session models, then the widgets) should catch one typed error
and never import ``sqlite3`` to do it; a read-only or corrupt catalog raises from ``execute``,
which ``Catalog.transaction`` does not wrap.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from robotrace_desktop.errors import StorageError


@contextmanager
def storage_errors() -> Iterator[None]:
    """Re-raise ``sqlite3.Error`` inside the block as ``StorageError("catalog: <reason>")``;
    the caller says what was not done ("Offset not saved: catalog: …")."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StorageError(f"catalog: {exc}") from exc
