"""Clients, defaults and everything that happens after writing: Explain, sinks (fail-soft),
the OpenTelemetry block, git_sha inference, printing the link and `show`."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import robotrace_desktop as rt
from robotrace_desktop import paths
from robotrace_desktop.catalog.findings import findings_for
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.cli import main
from robotrace_desktop.sdk import api, git
from robotrace_desktop.sinks.base import Sink
from tests.sdk.sdk_fixtures import bundles, catalog_ids, joints

REPO = Path(__file__).resolve().parents[2]


class RecordingSink(Sink):
    name = "recording"

    def __init__(self) -> None:
        self.exported: list[tuple[str, list[str]]] = []
        self.closed = False

    def export_episode(self, info: Any, findings: Sequence[Any]) -> None:
        self.exported.append((info.id, [f.cause for f in findings]))

    def export_verify(self, result: Any) -> None:
        raise AssertionError("not a verify run")

    def close(self) -> None:
        self.closed = True


class BrokenSink(RecordingSink):
    name = "broken"

    def export_episode(self, info: Any, findings: Sequence[Any]) -> None:
        raise ConnectionError("server down")


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_import_is_light_and_lazy() -> None:
    code = (
        "import sys, robotrace_desktop as rt\n"
        "heavy = [m for m in ('numpy', 'pyarrow', 'av', 'PySide6') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert callable(rt.log_episode) and rt.Client.__name__ == 'Client'\n"
        "assert 'log_episode' in dir(rt)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_clients_write_to_their_own_library_and_catalog(tmp_path: Path) -> None:
    sensors, _ = joints(tmp_path / "joints.parquet")
    a = rt.Client(tmp_path / "a/lib", catalog=tmp_path / "a/catalog.sqlite")
    b = rt.Client(tmp_path / "b/lib", catalog=tmp_path / "b/catalog.sqlite")
    first = a.log_episode(sensors=sensors, name="a")
    second = b.log_episode(sensors=sensors, name="b")
    third = a.log_episode(sensors=sensors, name="a2")
    assert bundles(tmp_path / "a/lib") == sorted([first.path, third.path])
    assert bundles(tmp_path / "b/lib") == [second.path]
    assert sorted(catalog_ids(tmp_path / "a/catalog.sqlite")) == sorted([first.id, third.id])
    assert catalog_ids(tmp_path / "b/catalog.sqlite") == [second.id]
    assert bundles(paths.library_dir()) == [] and catalog_ids(paths.catalog_path()) == []


def test_init_configures_the_default_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "_default", None)
    sensors, _ = joints(tmp_path / "joints.parquet")
    default = rt.log_episode(sensors=sensors)  # ROBOTRACE_HOME, read at the call
    assert default.path.is_relative_to(paths.library_dir().resolve())
    sink = RecordingSink()
    client = rt.init(library=tmp_path / "lib", catalog=tmp_path / "c.sqlite", sinks=[sink])
    episode = rt.log_episode(sensors=sensors)
    assert episode.path.is_relative_to((tmp_path / "lib").resolve())
    assert catalog_ids(tmp_path / "c.sqlite") == [episode.id]
    assert sink.exported == [(episode.id, [f.cause for f in episode.findings])]
    rt.init(library=tmp_path / "other")  # replacing the default closes the old one's sinks
    assert sink.closed and api.default_client() is not client
    monkeypatch.setattr(api, "_default", None)


def test_explain_runs_and_its_findings_are_stored(tmp_path: Path) -> None:
    sensors, _ = joints(tmp_path / "joints.parquet")
    sink = RecordingSink()
    client = rt.Client(sinks=[sink])
    episode = client.log_episode(
        sensors=sensors,
        status="failed",
        failure_time_s=0.3,
        metadata={"failure_reason": "GraspError: cube slipped"},
    )
    causes = [f.cause for f in episode.findings]
    assert "raised_exception" in causes and "outcome_failed" in causes
    top = episode.findings[0]
    assert top.rank == 1 and top.t_start_ns == 300_000_000
    with Catalog() as catalog:
        assert [f.cause for f in findings_for(catalog, episode.id)] == causes
    assert sink.exported == [(episode.id, causes)]  # sinks get the episode after Explain


def test_sinks_fail_soft(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)  # the [wandb] extra is not installed
    monkeypatch.delitem(sys.modules, "robotrace_desktop.sinks.wandb_sink", raising=False)
    sensors, _ = joints(tmp_path / "joints.parquet")
    good = RecordingSink()
    client = rt.Client(sinks=[BrokenSink(), "no-such-sink", "wandb", good])
    episode = client.log_episode(sensors=sensors)
    assert catalog_ids(paths.catalog_path()) == [episode.id]
    assert good.exported == [(episode.id, [f.cause for f in episode.findings])]
    text = "\n".join(episode.warnings)
    assert "sink failed: broken: ConnectionError: server down" in text
    assert "sink not exported: no-such-sink: unknown sink 'no-such-sink'" in text
    assert "robotrace-desktop[wandb]" in text
    assert client.close() == []


def test_otel_block_when_a_span_is_active(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from robotrace_desktop.core import otel

    block = {
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": "00f067aa0ba902b7",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    }
    sensors, _ = joints(tmp_path / "joints.parquet")
    monkeypatch.setattr(otel, "trace_context", lambda: dict(block))
    assert rt.log_episode(sensors=sensors).info.metadata["otel"] == block
    monkeypatch.setattr(otel, "trace_context", lambda: None)
    assert "otel" not in rt.log_episode(sensors=sensors).info.metadata

    def broken() -> None:
        raise RuntimeError("otel exploded")

    monkeypatch.setattr(otel, "trace_context", broken)
    assert "otel" not in rt.log_episode(sensors=sensors).info.metadata


def test_otel_with_a_real_span(tmp_path: Path) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("test")
    sensors, _ = joints(tmp_path / "joints.parquet")
    with tracer.start_as_current_span("eval") as span:
        episode = rt.log_episode(sensors=sensors)
    ids = span.get_span_context()
    block = episode.info.metadata["otel"]
    assert block["trace_id"] == f"{ids.trace_id:032x}" and block["span_id"] == f"{ids.span_id:016x}"


# ---------------------------------------------------------------- git_sha


def _git(repo: Path, *args: str) -> str:
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.com",
        GIT_CONFIG_NOSYSTEM="1",
        HOME=str(repo.parent),
    )
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "commit", "-q", "--allow-empty", "-m", "first")
    _git(root, "commit", "-q", "--allow-empty", "-m", "second")
    return root


def test_git_sha_is_inferred_from_the_checkout(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sensors, _ = joints(tmp_path / "joints.parquet")
    monkeypatch.chdir(repo / "src")
    head = _git(repo, "rev-parse", "HEAD")
    episode = rt.log_episode(sensors=sensors, policy_version="v1", env_version="e1", seed=3)
    assert episode.info.git_sha == head
    assert episode.info.metadata["reproducibility"] == {"missing": [], "inferred": ["git_sha"]}
    assert not any("not reproducible" in w for w in episode.warnings)
    given = rt.log_episode(sensors=sensors, git_sha="abc123", seed=3)
    assert given.info.git_sha == "abc123"
    assert given.info.metadata["reproducibility"] == {
        "missing": ["policy_version", "env_version"],
        "inferred": [],
    }
    capsys.readouterr()
    assert main(["show", episode.id]) == 0
    out = capsys.readouterr().out
    assert f"git_sha         {head}  (inferred from the git checkout)" in out
    assert "warning: not reproducible" not in out
    assert main(["show", given.id, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["reproducibility"] == {"missing": ["policy_version", "env_version"], "inferred": []}
    assert data["missing_reproducibility"] == ["policy_version", "env_version"]


def test_git_files_are_read_when_git_cannot_run(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = _git(repo, "rev-parse", "HEAD")
    first = _git(repo, "rev-parse", "HEAD~1")
    _git(repo, "pack-refs", "--all")  # the branch now lives only in packed-refs
    assert not (repo / ".git/refs/heads/main").exists()
    monkeypatch.setenv("PATH", "")  # no git binary
    assert git.infer_git_sha(repo / "src") == head
    (repo / ".git/HEAD").write_text(first + "\n")  # detached HEAD
    assert git.sha_from_files(repo) == first


def test_no_checkout_no_sha(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    monkeypatch.chdir(outside)
    assert git.infer_git_sha() is None
    monkeypatch.setenv("PATH", "")
    assert git.infer_git_sha() is None
    sensors, _ = joints(tmp_path / "joints.parquet")
    episode = rt.log_episode(sensors=sensors)
    assert episode.info.git_sha is None
    assert episode.info.metadata["reproducibility"]["missing"] == [
        "policy_version",
        "env_version",
        "git_sha",
        "seed",
    ]
    assert "not reproducible: missing policy_version, env_version, git_sha, seed" in (
        episode.warnings
    )


def test_show_warns_about_missing_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    sensors, _ = joints(tmp_path / "joints.parquet")
    episode = rt.log_episode(sensors=sensors, seed=1)
    capsys.readouterr()
    assert main(["show", episode.url]) == 0
    out = capsys.readouterr().out
    assert "warning: not reproducible — missing policy_version, env_version, git_sha" in out
    assert "inferred" not in out


# ---------------------------------------------------------------- the link on stdout


def test_link_printed_on_a_terminal_unless_quiet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sensors, _ = joints(tmp_path / "joints.parquet")
    terminal = TTY()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.delenv("ROBOTRACE_QUIET", raising=False)
    episode = rt.log_episode(name="shown", sensors=sensors)
    assert terminal.getvalue() == f"RoboTrace: shown → {episode.url}\n"
    monkeypatch.setenv("ROBOTRACE_QUIET", "1")
    rt.log_episode(sensors=sensors)
    assert terminal.getvalue().count("robotrace://") == 1
    monkeypatch.setenv("ROBOTRACE_QUIET", "0")
    piped = io.StringIO()
    monkeypatch.setattr(sys, "stdout", piped)
    rt.log_episode(sensors=sensors)
    assert piped.getvalue() == ""
