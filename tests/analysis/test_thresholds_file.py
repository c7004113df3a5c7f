"""The thresholds file next to the catalog is written whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.library.explain_runner import ensure_thresholds_file


def test_a_write_cut_short_leaves_no_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = Path.write_text

    def half_then_disk_full(self: Path, text: str, *args, **kwargs) -> int:  # type: ignore[no-untyped-def]
        real_write(self, text[: len(text) // 2], *args, **kwargs)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", half_then_disk_full)
    target = tmp_path / thresholds.FILE_NAME
    with pytest.raises(OSError):
        thresholds.write_defaults(target)
    assert list(tmp_path.iterdir()) == []  # no truncated file, no temp file


def test_the_defaults_are_written_once_and_never_overwritten(tmp_path: Path) -> None:
    path = ensure_thresholds_file(tmp_path / "catalog.sqlite")
    assert thresholds.render_defaults() == path.read_text(encoding="utf-8")
    path.write_text("# edited by the user\n", encoding="utf-8")
    ensure_thresholds_file(tmp_path / "catalog.sqlite")
    assert path.read_text(encoding="utf-8") == "# edited by the user\n"
