"""Trusted libraries: the folders whose bundles may hold symlinks to files elsewhere.

``log_episode(..., copy=False)`` references the user's files in place with symlinks inside the
bundle. Path confinement (``confine``) would refuse them, so bundles inside a library RoboTrace
itself writes are trusted to hold them. The list lives in RoboTrace's own home, never next to
the data, so a downloaded bundle cannot declare itself trusted.
"""

from __future__ import annotations

from pathlib import Path

LIBRARIES_FILE = "libraries.txt"


def trusted_library_roots() -> list[Path]:
    """Library folders RoboTrace itself writes: ``paths.library_dir()`` and every folder a
    logging client registered in ``<ROBOTRACE_HOME>/libraries.txt`` (one absolute path a
    line)."""
    from robotrace_desktop import paths

    roots = [paths.library_dir()]
    try:
        text = (paths.home() / LIBRARIES_FILE).read_text(encoding="utf-8")
    except OSError:
        text = ""
    roots += [Path(line) for line in text.splitlines() if line.strip()]
    return [r.expanduser().resolve() for r in roots]


def in_trusted_library(folder: Path) -> bool:
    """True when ``folder`` lies inside one of ``trusted_library_roots()``."""
    root = folder.resolve()
    return any(root.is_relative_to(lib) for lib in trusted_library_roots())


def register_library(library: Path) -> None:
    """Add ``library`` to ``libraries.txt`` (an append of one line; already listed: nothing)."""
    from robotrace_desktop import paths

    library = library.expanduser().resolve()
    if library in trusted_library_roots():
        return
    home = paths.home()
    home.mkdir(parents=True, exist_ok=True)
    with (home / LIBRARIES_FILE).open("a", encoding="utf-8") as handle:
        handle.write(f"{library}\n")
