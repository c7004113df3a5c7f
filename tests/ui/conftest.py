"""Qt tests run without a display: the offscreen platform must be chosen before Qt is imported
(pytest imports conftest files before the test modules). An explicit QT_QPA_PLATFORM wins, so
`QT_QPA_PLATFORM=xcb pytest tests/ui` still shows the widgets on a desktop."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
