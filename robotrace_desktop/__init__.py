"""RoboTrace Desktop: every robot run as a reproducible, replayable episode.

This package imports without a display; Qt lives only in ``robotrace_desktop.ui``.
"""

from robotrace_desktop.errors import (
    ConfigurationError,
    RobotraceError,
    StorageError,
    ValidationError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigurationError",
    "RobotraceError",
    "StorageError",
    "ValidationError",
    "__version__",
]
