"""The optional Ray engine runs the same per-episode jobs as the process pool, with the same
results and the same per-item errors, against a local Ray instance started by the test: verify's
jobs, and Explain's (``explain --all --engine ray`` stores the same findings as the pool).

Without ray installed these tests skip — unless ROBOTRACE_REQUIRE_EXTRAS=1 (CI installs the
``[ray]`` extra and sets it), where a missing ray is a failure (``tests/extras.py``).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from robotrace_desktop.catalog.findings import findings_for
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.cli import main
from robotrace_desktop.errors import ConfigurationError
from robotrace_desktop.library.explain_runner import explain_many
from robotrace_desktop.verify.spec import Selector, VerifySpec
from robotrace_desktop.workers import JobError, map_jobs, ray_engine
from tests.demo_cache import demo_copy
from tests.verify.ray_jobs import action_summary_job, worker_pid_job
from tests.verify.verify_fixtures import scan_sets, write_policy_set

REPO = Path(__file__).resolve().parents[2]
BAD_EPISODE = 999  # the real dataset has episodes 0..99


def _require_ray() -> Any:
    """ray itself; the tests that call this are marked ``extra("ray")``, so it is installed."""
    import ray

    return ray


@pytest.fixture(scope="module")
def ray_session() -> Iterator[Any]:
    """A 2-CPU local Ray instance owned by the test (the engine must reuse, not restart it)."""
    ray = _require_ray()
    _stop_any(ray)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        # the workers import tests.verify.ray_jobs from this checkout
        runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}},
    )
    yield ray
    ray.shutdown()


def _stop_any(ray: Any) -> None:
    ray_engine.shutdown_local()
    if ray.is_initialized():
        ray.shutdown()


def _rounded(value: Any) -> Any:
    """``value`` with every float rounded to 12 significant digits."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def _collect(**kwargs: Any) -> dict[int, Any]:
    return dict(map_jobs(**kwargs))


def test_missing_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(ConfigurationError) as caught:
        list(ray_engine.map_chunks(worker_pid_job, {}, [[1]], address=None, cancel=None))
    assert str(caught.value) == (
        "the ray engine needs the optional extra: pip install 'robotrace-desktop[ray]'"
    )


@pytest.mark.extra("ray")
def test_engine_starts_and_owns_a_local_instance(tmp_path: Path) -> None:
    """No Ray running: the engine starts one (workers see the driver's import path, so a module
    found only through sys.path imports there) and ``shutdown_local`` stops only that one."""
    ray = _require_ray()
    _stop_any(ray)  # e.g. a verify run earlier in the session left its local instance up
    (tmp_path / "driver_only_jobs.py").write_text(
        "import os\n\ndef job(context, item):\n    return (item * context['k'], os.getpid())\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        import driver_only_jobs

        results = dict(
            ray_engine.map_chunks(driver_only_jobs.job, {"k": 3}, [[1, 2], [3]], address=None)
        )
        assert ray.is_initialized()
        assert ray.cluster_resources()["CPU"] == os.cpu_count()
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("driver_only_jobs", None)
        ray_engine.shutdown_local()
    assert not ray.is_initialized()
    assert sorted(results) == [0, 1]
    assert [v for v, _ in results[0]] == [3, 6] and [v for v, _ in results[1]] == [9]
    assert os.getpid() not in {pid for chunk in results.values() for _, pid in chunk}


@pytest.mark.extra("ray")
def test_ray_results_equal_inline_and_errors_stay_per_item(
    ray_session: Any, shared_data: Path
) -> None:
    root = shared_data / "lerobot" / "g1_pick_bottle_v21"
    items = [0, 1, 2, BAD_EPISODE, 4, 5, 17, 42, 63, 99]
    context = {"root": str(root)}
    inline = _collect(
        fn=action_summary_job, items=items, context=context, workers=2, engine="inline"
    )
    progress: list[tuple[int, int]] = []
    remote = _collect(
        fn=action_summary_job,
        items=items,
        context=context,
        workers=2,
        engine="ray",
        progress=lambda done, total: progress.append((done, total)),
    )
    assert sorted(remote) == list(range(len(items)))
    assert remote == inline  # every number, channel name and error message identical
    bad = remote[items.index(BAD_EPISODE)]
    assert isinstance(bad, JobError)
    assert "999" in bad.reason and "Traceback" in bad.detail
    good = [remote[i] for i, episode in enumerate(items) if episode != BAD_EPISODE]
    assert all(isinstance(r, dict) for r in good)
    assert [r["episode"] for r in good] == [e for e in items if e != BAD_EPISODE]
    first = remote[0]
    assert len(first["channels"]) == 26 and first["channels"][0] == "kLeftShoulderPitch"
    assert progress[-1] == (len(items), len(items))
    assert ray_session.is_initialized() and not ray_engine._started_here  # reused, not owned


@pytest.mark.extra("ray")
def test_ray_runs_on_other_processes_and_cancel_stops_early(ray_session: Any) -> None:
    items = list(range(40))
    pids = _collect(fn=worker_pid_job, items=items, context={}, workers=2, engine="ray")
    assert sorted(pids) == items
    assert os.getpid() not in set(pids.values())

    cancel = threading.Event()
    seen = _collect(
        fn=worker_pid_job,
        items=items,
        context={},
        workers=2,
        engine="ray",
        progress=lambda done, total: cancel.set(),
        cancel=cancel,
    )
    # 40 items on 2 workers: chunks of 5; the first finished chunk sets cancel, nothing follows
    assert len(seen) == 5
    assert ray_session.is_initialized()  # a cancelled run leaves the session usable
    again = _collect(fn=worker_pid_job, items=items[:4], context={}, workers=2, engine="ray")
    assert sorted(again) == [0, 1, 2, 3]


@pytest.mark.extra("ray")
def test_run_verify_on_ray_equals_the_inline_run(
    ray_session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real verify jobs (metrics, re-roll, replay bundles) on Ray workers: the same result
    as the in-process run, replays included."""
    sets = [
        write_policy_set(tmp_path / effect, f"v-{effect}", effect, episodes=12, steps=90)
        for effect in ("baseline", "drop10")
    ]
    catalog = tmp_path / "home" / "catalog.sqlite"
    catalog.parent.mkdir()
    scan_sets(catalog, sets)

    def run(engine: str, workers: int) -> dict[str, Any]:
        from robotrace_desktop.verify.run import run_verify

        spec = VerifySpec(
            baseline=Selector.parse("v-baseline"),
            candidate=Selector.parse("v-drop10"),
            policy="tests.verify.ray_jobs:hold_state",
            candidate_name="hold",
            workers=workers,
            engine=engine,  # type: ignore[arg-type]
        )
        document = run_verify(catalog, spec).to_json_dict()
        document.pop("elapsed_s")
        return document

    inline = run("process", 1)  # one worker: map_jobs runs the jobs in this process
    stages = _ray_stages(monkeypatch)
    remote = run("ray", 2)
    assert stages == ["metrics_job", "reroll_job"]  # both stages ran as Ray tasks
    assert len(remote["pairs"]) == 12 and len(remote["rerolls"]) == 12
    assert not remote["errors"] and all(r["error"] is None for r in remote["rerolls"])
    assert all(r["replay_id"] for r in remote["rerolls"])
    # equal up to float summation order: the baseline's action statistics are combined in the
    # order the workers' results arrive
    assert _rounded(remote) == _rounded(inline)


@pytest.mark.extra("ray")
def test_explain_all_on_ray_equals_the_process_pool(
    ray_session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``explain --all --engine ray``: the Explain jobs run as Ray tasks on the module's
    instance and store the same findings as the process pool (moved here from
    tests/analysis/test_explain_ray.py so that it reuses that instance instead of starting and
    stopping one of its own)."""
    for seed in (1, 2, 3, 4, 5):
        demo_copy(tmp_path / "data" / f"demo{seed}", seed=seed)
    catalog = tmp_path / "c.sqlite"
    assert main(["--catalog", str(catalog), "scan", "--no-explain", str(tmp_path / "data")]) == 0
    with Catalog(catalog) as c:
        ids = [e.id for e in c.list_episodes()] + ["no-such-episode"]
    local = explain_many(catalog, ids, workers=1, force=True)

    calls = _ray_stages(monkeypatch)
    remote = explain_many(catalog, ids, workers=2, force=True, engine="ray")
    assert ray_session.is_initialized() and not ray_engine._started_here  # reused, not owned
    assert calls == ["explain_job"]
    assert list(remote.errors) == ["no-such-episode"] == list(local.errors)
    assert remote.errors == local.errors

    def as_dicts(run: Any) -> dict[str, list[dict[str, Any]]]:
        return {e: [f.to_dict() for f in v] for e, v in run.explained.items()}

    assert as_dicts(remote) == as_dicts(local) and len(remote.explained) == 5
    with Catalog(catalog) as c:  # stored by the driver, with their keys
        assert all(findings_for(c, e) for e in ids[:-1])
    again = explain_many(catalog, ids[:-1], workers=2, engine="ray")
    assert again.reused == set(ids[:-1])  # nothing changed: no task ran, Ray not needed
    assert calls == ["explain_job"]


def _ray_stages(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The job functions handed to Ray from now on, in order (``ray_engine.map_chunks`` is
    wrapped, not replaced: the jobs still run)."""
    stages: list[str] = []
    real = ray_engine.map_chunks

    def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
        stages.append(fn.__name__)
        return real(fn, *args, **kwargs)

    monkeypatch.setattr(ray_engine, "map_chunks", counting)
    return stages
