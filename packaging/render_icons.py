"""Render the app icon SVG to the hicolor PNG sizes desktops and PyInstaller want.

    python packaging/render_icons.py

Writes resources/icons/hicolor/<N>x<N>/apps/robotrace-desktop.png for every size and the same
files under robotrace_desktop/resources/icons/hicolor/ (the copies that ship in the wheel;
tests/test_packaging.py fails if the two trees drift). Qt's own SVG renderer is used so no
extra tool is needed; run it again after editing the SVG.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SVG = REPO / "resources" / "icons" / "robotrace-desktop.svg"
SIZES = (16, 32, 48, 64, 128, 256, 512)
TARGETS = (REPO / "resources" / "icons", REPO / "robotrace_desktop" / "resources" / "icons")


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        print(f"{SVG}: not a valid SVG", file=sys.stderr)
        return 1
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        for root in TARGETS:
            out = root / "hicolor" / f"{size}x{size}" / "apps" / "robotrace-desktop.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            if not image.save(str(out), "PNG"):
                print(f"{out}: could not write", file=sys.stderr)
                return 1
            print(out.relative_to(REPO))
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
