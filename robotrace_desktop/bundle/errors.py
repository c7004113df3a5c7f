"""Errors of the bundle format itself, before they reach a user.

They are ValueErrors, not RobotraceErrors: a reader wraps them in a RecordingError naming the
manifest file, a writer turns them into the ValidationError of the call that built the
manifest, and anything else lets them surface as the programming error they are.
"""

from __future__ import annotations


class ManifestError(ValueError):
    """A manifest value breaks the schema. Readers wrap it in a RecordingError naming the
    manifest file; writers let it surface as the programming error it is."""


class PathEscapeError(ManifestError):
    """A manifest path is absolute, climbs out with '..', or resolves outside the bundle."""
