"""``export-to`` and ``verify --export-to`` from the command line, on the real recordings
(the ROS 1 turtlesim bag and the KUKA iiwa bag, scanned and explained) and on generated policy
sets: what reaches MLflow (file store), W&B (offline) and an OTLP endpoint, the exit codes, and
that a broken or missing sink only ever warns."""

from __future__ import annotations

import json
import sys
import threading
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from robotrace_desktop.catalog.findings import findings_for
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.cli import main
from robotrace_desktop.library.scanner import scan
from robotrace_desktop.sinks.mlflow_sink import MlflowSink
from tests.sinks.test_mlflow_sink import MLFLOW_ENV, artifact_text, mlflow_tracking, runs_of
from tests.sinks.test_wandb_sink import offline_runs, read_run, use_offline_wandb, wandb
from tests.verify.verify_fixtures import scan_sets, write_policy_set

TURTLES = "ros1/example.bag"
IIWA = "rosbag2/iiwa7_gazebo_joint_torque_sqlite3"
STRICT_GATE = "[success_rate]\nrequire_non_inferiority = true\n"  # 10 episodes cannot prove it


# --------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def real_catalog(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """The turtlesim and iiwa bags, scanned and explained (the turtlesim bag has findings)."""
    path = tmp_path_factory.mktemp("export_real") / "catalog.sqlite"
    with Catalog(path) as catalog:
        summary = scan(catalog, [shared_data / TURTLES, shared_data / IIWA], explain=True)
    assert summary.new == 2 and summary.explained == 2, summary.to_dict()
    return path


@pytest.fixture(scope="module")
def verify_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("export_verify")
    sets = [
        write_policy_set(root / "baseline", "v1", "baseline", episodes=10, steps=120),
        write_policy_set(root / "same", "v1-retrain", "same", episodes=10, steps=120),
    ]
    path = root / "catalog.sqlite"
    assert scan_sets(path, sets).new == 20
    (root / "strict.toml").write_text(STRICT_GATE)
    return path


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in (*MLFLOW_ENV, "MLFLOW_ALLOW_FILE_STORE"):
        monkeypatch.delenv(name, raising=False)
    return (tmp_path / "mlruns").as_uri()


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = use_offline_wandb(monkeypatch, tmp_path / "wandb_root")
    root.mkdir()
    yield root
    wandb.teardown()


def ids_by_name(catalog: Path) -> dict[str, str]:
    with Catalog(catalog) as c:
        return {info.name: info.id for info in c.list_episodes()}


def cli(
    capsys: pytest.CaptureFixture[str], catalog: Path, *argv: str
) -> tuple[int, str, list[str]]:
    capsys.readouterr()
    code = main(["--catalog", str(catalog), *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


# --------------------------------------------------------------------- export-to


@pytest.mark.extra("mlflow")
def test_all_real_recordings_to_mlflow(
    real_catalog: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(
        capsys, real_catalog, "export-to", "mlflow", "--all", "--tracking-uri", store
    )
    assert code == 0, err
    assert out.strip() == "exported 2 of 2 episode(s) to mlflow"

    ids = ids_by_name(real_catalog)
    runs = {r.info.run_name: r for r in runs_of(store)}
    assert sorted(runs) == ["example", "iiwa7_gazebo_joint_torque_sqlite3"]
    turtles = runs["example"]
    assert turtles.data.tags["robotrace.episode_id"] == ids["example"]
    assert turtles.data.tags["robotrace.format"] == "rosbag1"
    assert turtles.data.metrics["duration_s"] == pytest.approx(21.700086256)
    with Catalog(real_catalog) as c:
        stored = findings_for(c, ids["example"])
    assert stored, "Explain found nothing in the turtlesim bag"
    exported = json.loads(artifact_text(store, turtles.info.run_id, "findings.json"))
    assert [(f["rank"], f["cause"], f["title"]) for f in exported] == [
        (f.rank, f.cause, f.title) for f in stored
    ]
    assert turtles.data.metrics["n_findings"] == len(stored)
    episode = json.loads(artifact_text(store, turtles.info.run_id, "episode.json"))
    assert "/turtle1/cmd_vel" in [s["name"] for s in episode["streams"]]
    iiwa = runs["iiwa7_gazebo_joint_torque_sqlite3"]
    assert iiwa.data.tags["robot"] == "iiwa" and iiwa.data.params["robot"] == "iiwa"


@pytest.mark.extra("wandb")
def test_episodes_by_id_prefix_and_link_to_wandb(
    real_catalog: Path, offline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = ids_by_name(real_catalog)
    iiwa, turtles = ids["iiwa7_gazebo_joint_torque_sqlite3"], ids["example"]
    code, out, err = cli(
        capsys,
        real_catalog,
        "export-to",
        "wandb",
        "--project",  # the sink's options may come before the episodes
        "robots",
        iiwa[:8],
        f"robotrace://episode/{turtles}?t=1500ms",
        iiwa,  # the same episode twice is exported once
        "--json",
    )
    assert code == 0, err
    assert json.loads(out) == {
        "sink": "wandb",
        "exported": [iiwa, turtles],
        "failed": {},
        "warnings": [],
    }
    (folder,) = offline_runs(offline)
    logged = read_run(folder)
    assert logged.run.project == "robots"
    rows = logged.table("robotrace/episodes")
    assert [r["episode_id"] for r in rows] == [iiwa, turtles]
    assert rows[0]["robot"] == "iiwa" and rows[0]["n_findings"] == 0
    with Catalog(real_catalog) as c:
        top = findings_for(c, turtles)[0]
    assert rows[1]["top_cause"] == top.cause
    assert rows[1]["top_confidence"] == pytest.approx(top.confidence)


def test_a_missing_extra_is_one_line_and_exit_2(
    real_catalog: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)
    code, out, err = cli(capsys, real_catalog, "export-to", "wandb", "--all")
    assert code == 2 and out == ""
    assert len(err) == 1, err
    assert "pip install 'robotrace-desktop[wandb]'" in err[0]


@pytest.mark.extra("mlflow")
def test_a_sink_failing_midway_warns_and_exports_the_rest(
    real_catalog: Path,
    store: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids = ids_by_name(real_catalog)
    real_export = MlflowSink.export_episode

    def flaky(self: MlflowSink, info, findings) -> None:  # type: ignore[no-untyped-def]
        if info.name == "example":
            raise ConnectionError("tracking server went away")
        real_export(self, info, findings)

    monkeypatch.setattr(MlflowSink, "export_episode", flaky)
    code, out, err = cli(
        capsys, real_catalog, "export-to", "mlflow", "--all", "--json", "--tracking-uri", store
    )
    assert code == 1
    result = json.loads(out)
    assert result["exported"] == [ids["iiwa7_gazebo_joint_torque_sqlite3"]]
    assert list(result["failed"]) == [ids["example"]]
    assert err == [
        f"robotrace-desktop export-to: warning: episode example ({ids['example']}): "
        "mlflow: ConnectionError: tracking server went away"
    ]
    assert [r.info.run_name for r in runs_of(store)] == ["iiwa7_gazebo_joint_torque_sqlite3"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["mlflow"], "give one or more EPISODEs or --all"),
        (["mlflow", "--all", "example"], "give one or more EPISODEs or --all"),
        (["mlflow", "no-such-episode"], "'no-such-episode' is neither a catalog episode id"),
        (["mlflow", "UNSCANNED"], "not in the catalog; scan it first"),
    ],
)
def test_usage_errors_export_nothing(
    real_catalog: Path,
    store: str,
    shared_data: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    argv = [str(shared_data / "ros1/example-lz4.bag") if a == "UNSCANNED" else a for a in argv]
    code, out, err = cli(capsys, real_catalog, "export-to", *argv, "--tracking-uri", store)
    assert code == 2 and out == ""
    assert len(err) == 1 and message in err[0], err
    assert not Path(store.removeprefix("file://")).exists()  # not even an experiment


@pytest.mark.parametrize(
    "argv", [["mlflow", "--all", "--project", "p"], ["wandb", "--all", "--tracking-uri", "x"]]
)
def test_another_sinks_option_is_rejected(
    real_catalog: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--catalog", str(real_catalog), "export-to", *argv])
    assert caught.value.code == 2
    assert f"unrecognized arguments: {argv[2]}" in capsys.readouterr().err


class _OtlpReceiver(BaseHTTPRequestHandler):
    """A stand-in collector on the loopback interface: keeps every OTLP/HTTP trace request."""

    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:  # http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        type(self).bodies.append(self.rfile.read(length))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[bytes]]]:
    _OtlpReceiver.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OtlpReceiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1/traces", _OtlpReceiver.bodies
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.extra("otel-export")
def test_otel_spans_reach_an_otlp_endpoint(
    real_catalog: Path,
    collector: tuple[str, list[bytes]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    endpoint, bodies = collector
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    code, _, err = cli(capsys, real_catalog, "export-to", "otel", "--all")
    assert code == 0, err
    spans, services = [], set()
    for body in bodies:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            for attribute in resource_spans.resource.attributes:
                if attribute.key == "service.name":
                    services.add(attribute.value.string_value)
            for scope_spans in resource_spans.scope_spans:
                spans.extend(scope_spans.spans)
    assert services == {"robotrace-desktop"}
    attrs = [{a.key: a.value for a in s.attributes} for s in spans]
    episodes = sorted(
        a["robotrace.episode.name"].string_value
        for s, a in zip(spans, attrs, strict=True)
        if s.name == "robotrace.episode"
    )
    assert episodes == ["example", "iiwa7_gazebo_joint_torque_sqlite3"]
    ids = ids_by_name(real_catalog)
    with Catalog(real_catalog) as c:
        stored = findings_for(c, ids["example"])
    causes = [
        a["robotrace.finding.cause"].string_value
        for s, a in zip(spans, attrs, strict=True)
        if s.name == "robotrace.finding"
    ]
    assert causes == [f.cause for f in stored]


@pytest.mark.extra("otel-export")
def test_otel_with_no_collector_warns_and_exits_1(
    real_catalog: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"http://127.0.0.1:{port}/v1/traces")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1")  # give up retrying quickly
    code, out, err = cli(capsys, real_catalog, "export-to", "otel", "--all")
    assert code == 1
    assert "the sink reported a problem" in out
    assert any("could not be sent to" in line and str(port) in line for line in err), err


# --------------------------------------------------------------------- verify --export-to


def verify(
    capsys: pytest.CaptureFixture[str], catalog: Path, *extra: str, strict: bool = False
) -> tuple[int, dict, list[str]]:
    gate = ["--gate", str(catalog.parent / "strict.toml")] if strict else []
    code, out, err = cli(
        capsys,
        catalog,
        "verify",
        "--workers",
        "2",
        "--baseline",
        "v1",
        "--candidate",
        "v1-retrain",
        *gate,
        *extra,
        "--json",
    )
    return code, json.loads(out), err


@pytest.mark.extra("mlflow", "wandb")
def test_verify_exports_pass_and_fail_to_mlflow_and_wandb(
    verify_catalog: Path,
    store: str,
    offline: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    sinks = ["--export-to", "mlflow", "--export-to", "wandb"]
    code, result, err = verify(capsys, verify_catalog, *sinks)
    assert code == 0 and result["verdict"] == "pass"
    assert "exported the result to mlflow" in err and "exported the result to wandb" in err
    assert not any("warning" in line for line in err), err
    code, strict, err = verify(capsys, verify_catalog, *sinks, strict=True)
    assert code == 1 and strict["verdict"] == "fail"

    runs = runs_of(store)
    assert [r.data.tags["robotrace.verdict"] for r in runs] == ["pass", "fail"]
    assert [r.data.metrics["verify.passed"] for r in runs] == [1.0, 0.0]
    assert runs[1].data.tags["robotrace.failed_checks"] == "success_rate_drop"
    assert runs[0].data.metrics["verify.n_baseline"] == 10.0
    success = next(m for m in result["metrics"] if m["metric"] == "success_rate")
    assert runs[0].data.metrics["verify.success_rate.baseline"] == pytest.approx(
        success["baseline"]
    )
    logged = sorted(
        (read_run(f) for f in offline_runs(offline)), key=lambda r: -r.summary["verify/passed"]
    )
    assert [r.summary["verify/passed"] for r in logged] == [1, 0]
    checks = {c["name"]: c["passed"] for c in logged[1].table("verify/checks")}
    assert checks["success_rate_drop"] is False
    assert "PASS" in logged[0].html("verify/report")


class _ExplodingModule(types.ModuleType):
    """A library that raises on every use."""

    def __getattr__(self, name: str) -> object:
        raise RuntimeError(f"{self.__name__}.{name} exploded")


@pytest.mark.extra("mlflow")
@pytest.mark.parametrize("strict", [False, True], ids=["pass", "fail"])
def test_broken_sinks_never_change_the_exit_code(
    verify_catalog: Path,
    store: str,
    strict: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "wandb", _ExplodingModule("wandb"))

    def down(*args: object, **kwargs: object) -> None:
        raise ConnectionError("tracking server went away")

    monkeypatch.setattr(mlflow_tracking.MlflowClient, "create_run", down)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    code, result, err = verify(
        capsys, verify_catalog, "--export-to", "wandb", "--export-to", "mlflow", strict=strict
    )
    assert code == (1 if strict else 0)
    assert result["verdict"] == ("fail" if strict else "pass")
    (wandb_warning,) = [line for line in err if "sink wandb:" in line]
    assert wandb_warning.startswith("robotrace-desktop verify: warning: sink wandb: RuntimeError")
    assert wandb_warning.endswith("exploded")
    assert (
        "robotrace-desktop verify: warning: sink mlflow: ConnectionError: tracking server went away"
        in err
    )
    assert not any("Traceback" in line or line.startswith("exported") for line in err), err


def test_missing_extras_only_warn(
    verify_catalog: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)
    monkeypatch.setitem(sys.modules, "mlflow", None)
    code, result, err = verify(
        capsys, verify_catalog, "--export-to", "wandb", "--export-to", "mlflow", strict=True
    )
    assert code == 1 and result["verdict"] == "fail"
    warnings = [line for line in err if "warning" in line]
    assert len(warnings) == 2, err
    assert "pip install 'robotrace-desktop[wandb]'" in warnings[0]
    assert "pip install 'robotrace-desktop[mlflow]'" in warnings[1]
