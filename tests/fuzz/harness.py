"""Runs one (possibly corrupt) recording through everything a user can trigger, in a worker.

``exercise(path)`` is what the worker does: pick the reader by sniffing, ``index`` fully, then
for the first few episodes ``open`` it, read every signal and event stream whole and in a
window, and for every camera read the frame times and decode the first, middle and last frame.
The outcome is one of

- ``ok``      — everything read, no problems;
- ``partial`` — the recording read, with ``problems`` listed or a stream refusing with a typed
  error;
- ``error``   — index/open refused with a RobotraceError;
- ``failure`` — any other exception escaped (the bug the fuzzer hunts), or a typed error whose
  message does not name the file;
- ``hang`` / ``memory`` / ``crash`` — set by ``Runner``: over the time limit, over the peak RSS
  limit, or the worker died (a segfault in a C library).

``Runner`` keeps one worker subprocess (``python -m tests.fuzz.harness``) and talks JSON lines
to it, so a hang is killed after ``timeout`` seconds and memory is watched from outside without
taking pytest down; the worker is restarted after each of those.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BAD = ("failure", "hang", "memory", "crash")
MAX_EPISODES = 3
ADDRESS_LIMIT = 6 * 1024**3  # hard cap on the worker's address space: never swap the machine


# -- inside the worker ----------------------------------------------------------------------------


def _peak_reset() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _names_file(message: str, path: Path) -> bool:
    return str(path) in message or str(path.resolve()) in message


class _Log:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.typed: list[str] = []  # typed errors met while reading streams / frames
        self.unnamed: list[str] = []  # typed errors whose message does not name the file
        self.failure: str | None = None

    def guard(self, what: str, func: Any, *args: Any) -> Any:
        """Run one user action; record typed errors, keep the first failure."""
        from robotrace_desktop.errors import RobotraceError

        try:
            return func(*args)
        except RobotraceError as exc:
            self.typed.append(f"{what}: {type(exc).__name__}: {exc}")
            if not _names_file(str(exc), self.path):
                self.unnamed.append(f"{what}: {type(exc).__name__}: {exc}")
            raise _RefusedError from exc
        except _RefusedError:
            raise
        except Exception:
            if self.failure is None:
                self.failure = f"{what}:\n{traceback.format_exc()}"
            raise _RefusedError from None


class _RefusedError(Exception):
    """A user action failed (already recorded); carry on with the next one."""


def _read_episode(log: _Log, reader: Any, path: Path, index: int | None) -> None:
    from robotrace_desktop.core.episode import StreamKind

    source = log.guard(f"open #{index}", reader.open, path, index)
    try:
        for stream in source.info.streams:
            label = f"#{index} {stream.name}"
            try:
                if stream.kind == StreamKind.SIGNAL:
                    chunk = log.guard(f"read_signal {label}", source.read_signal, stream.name)
                    if len(chunk):
                        t = chunk.t_ns
                        mid = int(t[0]) + (int(t[-1]) - int(t[0])) // 2
                        log.guard(f"window {label}", source.read_signal, stream.name, 0, mid)
                elif stream.kind == StreamKind.EVENT:
                    log.guard(f"read_events {label}", source.read_events, stream.name)
                else:
                    _read_video(log, source, stream.name, label)
            except _RefusedError:
                continue
    finally:
        log.guard(f"close #{index}", source.close)


def _read_video(log: _Log, source: Any, name: str, label: str) -> None:
    frames = log.guard(f"video {label}", source.video, name)
    try:
        times = log.guard(f"frame_times {label}", frames.frame_times_ns)
        count = len(times)
        for i in sorted({0, count // 2, count - 1} if count else set()):
            try:
                log.guard(f"frame {i} {label}", frames.frame, i)
            except _RefusedError:
                continue
        if count:
            log.guard(f"frame_at {label}", frames.frame_at, int(times[-1]))
    finally:
        log.guard(f"close video {label}", frames.close)


def exercise(path: Path) -> dict[str, Any]:
    """Everything a user can do with ``path``; the outcome as a JSON-able dict."""
    from robotrace_desktop.readers.registry import reader_for
    from robotrace_desktop.readers.sanity import MAX_DURATION_NS

    log = _Log(path)
    result: dict[str, Any] = {"kind": None, "episodes": 0, "problems": 0, "error": None}
    try:
        reader = log.guard("sniff", reader_for, path)
        result["kind"] = reader.kind
        infos = log.guard("index", lambda: list(reader.index(path)))
        result["episodes"] = len(infos)
        result["problems"] = sum(len(i.problems) for i in infos)
        result["problem_texts"] = [p for i in infos[:MAX_EPISODES] for p in i.problems][:10]
        for info in infos:
            log.guard("catalog row", lambda i=info: json.dumps(i.to_dict()))  # what a scan stores
            if not 0 <= info.duration_ns <= MAX_DURATION_NS:
                log.failure = log.failure or f"absurd duration {info.duration_ns} in {info.name}"
        for info in infos[:MAX_EPISODES]:
            try:
                _read_episode(log, reader, path, info.episode_index)
            except _RefusedError:
                continue
    except _RefusedError:
        result["error"] = log.typed[-1] if log.typed else None
    if log.failure is not None:
        outcome = "failure"
    elif log.unnamed:
        outcome = "failure"
        log.failure = "typed error without the file's path: " + log.unnamed[0]
    elif result["error"] is not None:
        outcome = "error"
    elif result["problems"] or log.typed:
        outcome = "partial"
    else:
        outcome = "ok"
    result.update(outcome=outcome, failure=log.failure, typed=log.typed[:5])
    return result


def _worker() -> None:
    """Serve requests: one JSON line in ({"path": ...}), one JSON line out."""
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_LIMIT, ADDRESS_LIMIT))
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints from libraries must not corrupt the protocol
    import av  # noqa: F401 - import the heavy libraries before the first timed input
    import h5py  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    import rosbags.rosbag2  # noqa: F401

    from robotrace_desktop.readers.registry import readers
    from robotrace_desktop.video.cache import default_cache

    readers()
    out.write('{"ready": true}\n')
    for line in sys.stdin:
        request = json.loads(line)
        default_cache().clear()
        _peak_reset()
        start = time.perf_counter()
        try:
            result = exercise(Path(request["path"]))
        except BaseException:  # the worker must answer whatever happens
            result = {"outcome": "failure", "failure": traceback.format_exc(), "kind": None}
        result["seconds"] = round(time.perf_counter() - start, 3)
        result["peak_rss_mb"] = round(_peak_mb(), 1)
        out.write(json.dumps(result) + "\n")


# -- in the parent --------------------------------------------------------------------------------


class Runner:
    """A persistent worker process; ``run(path)`` returns the outcome dict of one input."""

    def __init__(self, home: Path, timeout: float = 10.0, rss_limit_mb: float = 1024.0) -> None:
        self.home = home
        self.timeout = timeout
        self.rss_limit_mb = rss_limit_mb
        self.proc: subprocess.Popen[str] | None = None
        self.restarts = 0

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> subprocess.Popen[str]:
        env = dict(os.environ)
        env.update(
            ROBOTRACE_HOME=str(self.home),
            ROBOTRACE_QUIET="1",
            ROBOTRACE_FRAME_CACHE_MB="256",
            PYTHONPATH=str(REPO),
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fuzz.harness"],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        if not ready or not proc.stdout.readline().strip():
            proc.kill()
            raise RuntimeError("fuzz worker did not start")
        return proc

    def _rss_mb(self, pid: int) -> float:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def _kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            self.restarts += 1

    def run(self, path: Path) -> dict[str, Any]:
        """The outcome of ``path``. A time-out is retried once in a fresh worker, so a
        machine busy with other work is not reported as a hang; a real hang times out twice."""
        result = self._run_once(path)
        if result["outcome"] == "hang":
            again = self._run_once(path)
            if again["outcome"] != "hang":
                again["retried"] = f"timed out once, then answered in {again.get('seconds')} s"
            return again
        return result

    def _run_once(self, path: Path) -> dict[str, Any]:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        proc = self.proc
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps({"path": str(path)}) + "\n")
        proc.stdin.flush()
        start = time.perf_counter()
        peak = 0.0
        while True:
            ready, _, _ = select.select([proc.stdout], [], [], 0.05)
            elapsed = time.perf_counter() - start
            if ready:
                line = proc.stdout.readline()
                if not line:
                    code = proc.wait()
                    self.proc = None
                    self.restarts += 1
                    return {
                        "outcome": "crash",
                        "failure": f"worker died (exit {code})",
                        "seconds": round(elapsed, 3),
                        "kind": None,
                    }
                result = json.loads(line)
                if result.get("peak_rss_mb", 0) > self.rss_limit_mb:
                    result["failure"] = f"peak RSS {result['peak_rss_mb']} MB"
                    result["outcome"] = "memory"
                return result
            peak = max(peak, self._rss_mb(proc.pid))
            if peak > self.rss_limit_mb:
                self._kill()
                return {
                    "outcome": "memory",
                    "failure": f"RSS over {peak:.0f} MB",
                    "seconds": round(elapsed, 3),
                    "peak_rss_mb": peak,
                    "kind": None,
                }
            if elapsed > self.timeout:
                self._kill()
                return {
                    "outcome": "hang",
                    "failure": f"no answer in {self.timeout:.0f} s",
                    "seconds": round(elapsed, 3),
                    "kind": None,
                }

    def close(self) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


if __name__ == "__main__":
    _worker()
