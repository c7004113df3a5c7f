"""``explain --all --engine ray`` runs the Explain jobs as Ray tasks (a local 2-CPU instance
owned by the test) and stores the same findings as the process pool. Marked ``extra("ray")``:
skipped without the extra, run (and required) by CI's extras pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from robotrace_desktop.catalog.findings import findings_for
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.cli import main
from robotrace_desktop.library.explain_runner import explain_many
from robotrace_desktop.workers import ray_engine
from tests.demo_cache import demo_copy
from tests.verify.test_ray_engine import REPO, _require_ray, _stop_any


@pytest.mark.extra("ray")
def test_explain_all_on_ray_equals_the_process_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ray = _require_ray()
    for seed in (1, 2, 3, 4, 5):
        demo_copy(tmp_path / "data" / f"demo{seed}", seed=seed)
    catalog = tmp_path / "c.sqlite"
    assert main(["--catalog", str(catalog), "scan", "--no-explain", str(tmp_path / "data")]) == 0
    with Catalog(catalog) as c:
        ids = [e.id for e in c.list_episodes()] + ["no-such-episode"]
    local = explain_many(catalog, ids, workers=1, force=True)

    _stop_any(ray)
    ray.init(
        num_cpus=2, include_dashboard=False, runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}}
    )
    calls: list[str] = []
    real = ray_engine.map_chunks

    def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(fn.__name__)
        return real(fn, *args, **kwargs)

    monkeypatch.setattr(ray_engine, "map_chunks", counting)
    try:
        remote = explain_many(catalog, ids, workers=2, force=True, engine="ray")
    finally:
        ray.shutdown()
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
