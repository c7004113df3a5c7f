"""Recordings whose text is hostile, for tests and ``benchmarks/hostile_inputs.py``.

Every name a recording controls — episode name, task, failure reason, stream and channel
names, log lines — carries terminal control sequences (retitle, clear screen, BEL, NUL) and
spreadsheet formulas. Whatever RoboTrace prints or exports must show them as text."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from robotrace_desktop.bundle.events import write_events_jsonl
from robotrace_desktop.bundle.manifest import (
    BundleManifest,
    EventEntry,
    SignalEntry,
    write_manifest,
)
from robotrace_desktop.bundle.tables import SignalData, write_parquet
from robotrace_desktop.core.episode import LogEvent

#: Retitles the terminal (OSC 0 ... BEL), clears it (CSI 2J), then a NUL.
TERMINAL_ATTACK = "\x1b]0;pwned\x07\x1b[2J\x00x"
FORMULAS = ('=HYPERLINK("http://evil.example","click")', "-2+3+cmd|' /C calc'!A0", "@SUM(1)")
RAW_CONTROL_BYTES = (b"\x1b", b"\x00", b"\x07")
SIGNAL_STREAM = f"/joint{TERMINAL_ATTACK}"
FORMULA_STREAM = "=cmd|'/C calc'!A0"
EVENT_STREAM = "/log\x1b[2J\x07"  # no NUL: it must pass through argv


def hostile_bundle(folder: Path) -> Path:
    """A native bundle: 2 s, a signal stream with hostile stream and channel names, a
    formula-named stream and a log stream whose lines are formulas and control sequences."""
    t = np.arange(0, 2_000_000_000, 10_000_000, dtype=np.int64)
    wave = np.sin(t / 1e9)[:, None] * np.ones((1, 2))
    write_parquet(
        folder / "signals/joint.parquet",
        SignalData(t, {"position": wave}, {"position": ["=1+1", TERMINAL_ATTACK]}),
    )
    write_parquet(folder / "signals/formula.parquet", SignalData(t, {"=SUM(A1)": -wave[:, 0]}))
    events = [
        LogEvent(int(i * 300_000_000), "ERROR" if i == 2 else "INFO", text, TERMINAL_ATTACK)
        for i, text in enumerate((*FORMULAS, TERMINAL_ATTACK))
    ]
    write_events_jsonl(folder / "events/log.jsonl", events)
    write_manifest(
        folder,
        BundleManifest(
            name=f"run {TERMINAL_ATTACK}",
            robot=TERMINAL_ATTACK,
            task=FORMULAS[0],
            status="failed",
            duration_ns=2_000_000_000,
            metadata={"failure_reason": f"Boom: {TERMINAL_ATTACK}"},
            signals=[
                SignalEntry(SIGNAL_STREAM, "signals/joint.parquet", "parquet", role="sensor"),
                SignalEntry(FORMULA_STREAM, "signals/formula.parquet", "parquet", role="action"),
            ],
            events=[EventEntry(EVENT_STREAM, "events/log.jsonl")],
        ),
    )
    return folder


def hostile_info_json(root: Path, **claims: object) -> Path:
    """Rewrite a LeRobot dataset's meta/info.json with the given claims."""
    path = root / "meta/info.json"
    info = json.loads(path.read_text())
    info.update(claims)
    path.write_text(json.dumps(info))
    return root
