"""Where RoboTrace keeps its own files. Never inside the user's recordings.

``ROBOTRACE_HOME`` moves everything under one folder (tests, portable installs); otherwise the
platform's user data/cache folders are used via platformdirs.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "robotrace-desktop"


def home() -> Path:
    override = os.environ.get("ROBOTRACE_HOME")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def catalog_path() -> Path:
    return home() / "catalog.sqlite"


def library_dir() -> Path:
    """Native bundles written by RoboTrace itself (demo, log_episode) live here."""
    return home() / "library"


def cache_dir() -> Path:
    override = os.environ.get("ROBOTRACE_HOME")
    if override:
        return Path(override).expanduser() / "cache"
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
