"""Packaging: the resources that ship, the pyproject metadata, and the wheel `pip install .`
builds (its files, entry point and URLs; no tests or benchmarks inside)."""

from __future__ import annotations

import email
import os
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # the icon check renders with Qt

REPO = Path(__file__).resolve().parent.parent
TOP = REPO / "resources"
PACKAGED = REPO / "robotrace_desktop" / "resources"
SIZES = (16, 32, 48, 64, 128, 256, 512)
ICON_PNGS = [f"icons/hicolor/{n}x{n}/apps/robotrace-desktop.png" for n in SIZES]
SHIPPED = ["robotrace-desktop.desktop", "icons/robotrace-desktop.svg", *ICON_PNGS]
URL = "https://github.com/robotrace/robotrace-desktop"


def files_under(root: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
        and not path.relative_to(root).as_posix().startswith(skip)
        and "__pycache__" not in path.parts
    }


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_resources_and_the_package_copies_do_not_drift() -> None:
    top = files_under(TOP, skip=("screenshots/",))  # screenshots are for the README only
    packaged = files_under(PACKAGED)
    assert sorted(top) == sorted(packaged) == sorted(SHIPPED)
    for name in SHIPPED:
        assert top[name] == packaged[name], f"resources/{name} differs from the package copy"
        assert not (TOP / name).is_symlink(), f"resources/{name} must be a copy, not a link"


def test_icon_pngs_have_their_sizes_and_show_the_icon() -> None:
    from robotrace_desktop.video.images import decode_image_bytes

    for n, name in zip(SIZES, ICON_PNGS, strict=True):
        data = (PACKAGED / name).read_bytes()
        assert png_size(data) == (n, n), name
    big = decode_image_bytes((PACKAGED / ICON_PNGS[-1]).read_bytes())
    assert big.shape == (512, 512, 3)
    # the dark rounded square, the orange playhead at x=118/256, the blue trace
    assert big[256, 40].tolist() == [0x1D, 0x27, 0x33]
    playhead = big[300, 118 * 2 - 3 : 118 * 2 + 4].astype(int)
    assert (np.abs(playhead - [0xFF, 0x70, 0x43]).sum(axis=1) < 30).any()
    blue = np.abs(big.astype(int) - [0x4F, 0xC3, 0xF7]).sum(axis=2) < 30
    assert blue.sum() > 5000


def test_icon_pngs_are_rendered_from_the_current_svg(qapp: object) -> None:
    """Editing the SVG without running packaging/render_icons.py fails here."""
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(TOP / "icons" / "robotrace-desktop.svg"))
    assert renderer.isValid()
    for n in (48, 256):
        image = QImage(n, n, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter, QRectF(0, 0, n, n))
        painter.end()
        stored = QImage(str(PACKAGED / f"icons/hicolor/{n}x{n}/apps/robotrace-desktop.png"))
        stored = stored.convertToFormat(QImage.Format.Format_ARGB32)
        a = np.frombuffer(image.constBits(), np.uint8).reshape(n, image.bytesPerLine())
        b = np.frombuffer(stored.constBits(), np.uint8).reshape(n, stored.bytesPerLine())
        assert np.abs(a.astype(int) - b.astype(int)).mean() < 2.0, f"{n}x{n} is stale"


def test_desktop_entry_is_valid() -> None:
    text = (PACKAGED / "robotrace-desktop.desktop").read_text(encoding="utf-8")
    lines = dict(line.split("=", 1) for line in text.splitlines()[1:] if "=" in line)
    assert text.startswith("[Desktop Entry]\n")
    assert lines["Exec"] == "robotrace-desktop open %u"
    assert lines["MimeType"] == "x-scheme-handler/robotrace;"
    assert lines["Icon"] == "robotrace-desktop"
    validator = shutil.which("desktop-file-validate")
    if validator is not None:  # apt: desktop-file-utils; its hints count as failures too
        done = subprocess.run(
            [validator, str(PACKAGED / "robotrace-desktop.desktop")],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0 and not done.stdout.strip(), done.stdout


def test_pyproject_metadata_is_complete() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "Apache-2.0"
    assert project["scripts"] == {"robotrace-desktop": "robotrace_desktop.cli:main"}
    assert project["urls"] == {
        "Homepage": URL,
        "Documentation": f"{URL}#readme",
        "Source": URL,
        "Issues": f"{URL}/issues",
        "Changelog": f"{URL}/releases",
    }
    classifiers = set(project["classifiers"])
    assert {
        "Environment :: X11 Applications :: Qt",
        "Topic :: Scientific/Engineering",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Operating System :: POSIX :: Linux",
    } <= classifiers
    assert not any(c.startswith("License ::") for c in classifiers)  # the SPDX field says it
    extras = project["optional-dependencies"]
    assert {"test", "otel", "otel-export", "wandb", "mlflow", "ray"} <= set(extras)
    names = {dep.split(">")[0].split("<")[0].split("=")[0] for dep in project["dependencies"]}
    assert {"PySide6-Essentials", "pyqtgraph", "av", "numpy", "pyarrow", "rosbags", "h5py"} <= (
        names
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip wheel . --no-deps`` on a copy of the checkout (setuptools writes build/ and
    *.egg-info next to the sources; the real checkout stays untouched). About 20 s, most of
    it pip fetching setuptools>=77 into the isolated build environment."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git", "_work", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
        ),
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(tmp)],
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"wheel built in {time.perf_counter() - started:.1f} s")
    wheels = list(tmp.glob("robotrace_desktop-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def test_wheel_ships_resources_entry_point_and_urls(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name in SHIPPED:
            member = f"robotrace_desktop/resources/{name}"
            assert member in names, member
            assert archive.read(member) == (PACKAGED / name).read_bytes()
        assert "robotrace_desktop/cli.py" in names
        assert "robotrace_desktop/ui/app.py" in names
        assert "robotrace_desktop/analysis/causes/__init__.py" in names
        assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "packaging/"))]
        assert not [n for n in names if n.startswith("resources/")]  # only the package copies
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
        metadata = email.message_from_bytes(archive.read(f"{dist_info}/METADATA"))
    assert "[console_scripts]\nrobotrace-desktop = robotrace_desktop.cli:main" in entry_points
    urls = metadata.get_all("Project-URL")
    assert f"Homepage, {URL}" in urls and f"Issues, {URL}/issues" in urls
    assert f"Changelog, {URL}/releases" in urls and len(urls) == 5
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Requires-Python"] == ">=3.11"
    assert "Environment :: X11 Applications :: Qt" in metadata.get_all("Classifier")
    assert {"test", "wandb", "mlflow", "ray", "otel"} <= set(metadata.get_all("Provides-Extra"))
