"""Text from recordings is data, never control: every command's output shows hostile names,
notes and log lines as visible escapes (no raw ESC, NUL or BEL reaches the terminal), JSON
stays exact JSON, and every CSV neutralises spreadsheet formulas."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import pytest

from robotrace_desktop.cli import main
from robotrace_desktop.commands.terminal_text import (
    SafeStream,
    json_terminal_safe,
    write_literal,
)
from robotrace_desktop.core.csv_safe import csv_cell
from tests.hostile.cli_run import Run, run_cli
from tests.hostile.hostile_data import (
    EVENT_STREAM,
    FORMULAS,
    RAW_CONTROL_BYTES,
    TERMINAL_ATTACK,
    hostile_bundle,
)


def _assert_inert(run: Run) -> None:
    assert run.code is not None, f"{run.args} hung"
    assert b"Traceback" not in run.err, run.text
    for raw in RAW_CONTROL_BYTES:
        assert raw not in run.out, (run.args, raw, run.out[:400])
        assert raw not in run.err, (run.args, raw, run.err[:400])


def _setup_in_process(*args: str, home: Path) -> None:
    """A set-up step (not under test: the subprocess runs below check its output) run as
    ``main`` in this process, which saves an interpreter launch."""
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(io.StringIO()) as out:
        patch.setenv("ROBOTRACE_HOME", str(home))
        assert main(list(args)) == 0, out.getvalue()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The hostile bundle scanned, with a hostile bookmark note stored: every test here reads
    that state, whichever runs first."""
    root = tmp_path_factory.mktemp("hostile")
    home = root / "home"
    path = hostile_bundle(root / "bundle")
    _setup_in_process("scan", str(root / "bundle"), home=home)
    _setup_in_process("bookmark", "add", str(path), "--t", "0.25s", "--note",
                      TERMINAL_ATTACK[:-2], home=home)  # fmt: skip
    return path, home


def test_every_command_prints_recording_text_as_text(bundle: tuple[Path, Path]) -> None:
    path, home = bundle
    target = str(path)
    runs = [
        run_cli("scan", target, home=home),
        run_cli("list", home=home),
        run_cli("list", "--search", "run", home=home),
        run_cli("show", target, home=home),
        run_cli("explain", target, home=home),
        run_cli(
            "bookmark", "add", target, "--t", "0.5s", "--note", TERMINAL_ATTACK[:-2], home=home
        ),
        run_cli("bookmark", "list", home=home),
        run_cli("tag", target, "--tag", "hostile", home=home),
        run_cli("verify", "--baseline", "tag:hostile", "--candidate", "tag:hostile", home=home),
        run_cli(
            "export", target, "--streams", "nope" + TERMINAL_ATTACK[:-2], "-o", "x.csv", home=home
        ),
    ]
    for run in runs:
        _assert_inert(run)
    show = runs[3].out.decode()
    assert "run \\x1b]0;pwned\\x07\\x1b[2J\\x00x" in show  # shown, escaped, not lost
    assert "failure   Boom: \\x1b]0;pwned" in show
    assert "\\x1b]0;pwned" in runs[4].out.decode()  # explain quotes the failure reason


def test_json_output_is_exact_json(bundle: tuple[Path, Path]) -> None:
    path, home = bundle
    for args in (("list", "--json"), ("show", str(path), "--json"), ("bookmark", "list", "--json")):
        run = run_cli(*args, home=home)
        _assert_inert(run)
        text = json.dumps(json.loads(run.out))
        assert "pwned" in text
    rows = json.loads(run_cli("list", "--json", home=home).out)
    assert rows[0]["name"] == f"run {TERMINAL_ATTACK}"  # the exact value survives


def test_csv_exports_neutralise_formulas(bundle: tuple[Path, Path], tmp_path: Path) -> None:
    path, home = bundle
    signals, log = tmp_path / "signals.csv", tmp_path / "log.csv"
    _assert_inert(run_cli("export", str(path), "--format", "csv", "-o", str(signals), home=home))
    _assert_inert(
        run_cli("export", str(path), "--streams", EVENT_STREAM, "-o", str(log), home=home)
    )
    header = next(csv.reader(signals.open(encoding="utf-8")))
    assert "'=cmd|'/C calc'!A0/=SUM(A1)" in header
    texts = [row["text"] for row in csv.DictReader(log.open(encoding="utf-8"))]
    assert texts[:3] == ["'" + f for f in FORMULAS]
    assert all(not t.startswith(("=", "+", "-", "@")) for t in texts)


def test_safe_stream_escapes_all_but_line_ends() -> None:
    raw = io.StringIO()
    stream = SafeStream(raw)
    print(f"name {TERMINAL_ATTACK}\u202e", file=stream)
    assert raw.getvalue() == "name \\x1b]0;pwned\\x07\\x1b[2J\\x00x\\u202e\n"


def test_exports_bypass_the_safe_stream_byte_exact() -> None:
    raw = io.StringIO()
    write_literal("a,\x1b[31m\r\n", SafeStream(raw))
    assert raw.getvalue() == "a,\x1b[31m\r\n"


def test_json_escapes_are_the_same_value() -> None:
    value = {"note": "a\x9b\x7f\u202eb"}
    text = json_terminal_safe(json.dumps(value, ensure_ascii=False))
    assert "\x9b" not in text and "\u202e" not in text
    assert json.loads(text) == value


def test_csv_cell_keeps_numbers() -> None:
    assert csv_cell(-1.5) == -1.5
    assert csv_cell("-1.5") == "'-1.5"
    assert csv_cell(None) == ""
