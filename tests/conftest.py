"""Shared fixtures. The real recordings in ../shared/data are required: a missing folder is a
test failure, never a skip (set ROBOTRACE_TEST_DATA to point elsewhere)."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

from tests.extras import extras_required, is_installed, missing_reason

REPO = Path(__file__).resolve().parent.parent
# Headless tests need no display (the README's test command is run as is, without one); an
# explicit QT_QPA_PLATFORM wins, e.g. xcb to watch the widgets on a desktop.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Hypothesis profiles, for properties that take their example count from the profile (the reader
# fuzz test): "suite", the README's run, draws 200; "ci-deep", .ci/run's deep pass
# (HYPOTHESIS_PROFILE=ci-deep), draws 800. A property with its own max_examples keeps it.
settings.register_profile("suite", max_examples=200)
settings.register_profile("ci-deep", max_examples=800)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))


def _shared_data_dir() -> Path:
    override = os.environ.get("ROBOTRACE_TEST_DATA")
    return Path(override) if override else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the third-party recordings (rosbag2/, ros1/, lerobot/)."""
    root = _shared_data_dir()
    if not (root / "README.md").is_file():
        pytest.fail(f"real recordings not found at {root}: set ROBOTRACE_TEST_DATA", pytrace=False)
    return root


@pytest.fixture(scope="session")
def shared_data_before_scan(shared_data: Path) -> dict[str, tuple[str, int, int, str]]:
    """A byte-exact snapshot (``tests.hardening.snapshot``) of the real recordings taken before
    the session's scan (``scanned_shared_data``): the read-only test compares against it, so
    the session's scan with Explain is checked for writes into the recordings too."""
    from tests.hardening.snapshot import snapshot

    return snapshot(shared_data.resolve())


@pytest.fixture(scope="session")
def scanned_shared_data(
    tmp_path_factory: pytest.TempPathFactory,
    shared_data: Path,
    shared_data_before_scan: dict[str, tuple[str, int, int, str]],
) -> tuple[Path, dict[str, object]]:
    """``robotrace-desktop scan ../shared/data --json`` (Explain included) run once per session:
    the catalog file and the printed summary. Scanning and explaining every real recording is
    the slowest setup there is; tests that read such a catalog copy it (``copy_catalog``).
    The recordings are snapshotted first (``shared_data_before_scan``)."""
    import contextlib
    import io
    import json

    from robotrace_desktop.cli import main

    home = tmp_path_factory.mktemp("scanned_home")
    path = tmp_path_factory.mktemp("scanned") / "catalog.sqlite"
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out):
        patch.setenv("ROBOTRACE_HOME", str(home))
        patch.setenv("ROBOTRACE_QUIET", "1")
        code = main(["--catalog", str(path), "scan", str(shared_data), "--json"])
    assert code == 0, out.getvalue()
    return path, json.loads(out.getvalue())


@pytest.fixture(autouse=True)
def robotrace_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own catalog and library, never the user's."""
    home = tmp_path_factory.mktemp("robotrace_home")
    monkeypatch.setenv("ROBOTRACE_HOME", str(home))
    monkeypatch.setenv("ROBOTRACE_QUIET", "1")
    return home


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "extra(name): needs the optional extra NAME (skipped when it is absent)"
    )
    if not hasattr(config, "workerinput"):
        share_bytecode()
    worker_basetemp = getattr(config.option, "basetemp", None)
    if hasattr(config, "workerinput") and worker_basetemp:
        # an xdist worker: its --basetemp is <the run's base temp>/popen-gwN; the workers
        # share one build cache there (demo bundles, hardening trees: tests/build_cache.py)
        from tests.build_cache import share_between_workers

        share_between_workers(Path(worker_basetemp).parent)


def share_bytecode() -> None:
    """Where bytecode is not written (``PYTHONDONTWRITEBYTECODE``, as on this project's
    machines), every Python process of the run compiled the package from source again: both
    xdist workers and each of the ~300 CLI, scan and pool-worker subprocesses the tests start
    (≈ 0.3 s of CPU a scan). They write and read it in one cache folder of this run instead
    (``PYTHONPYCACHEPREFIX``, inherited by every child; removed at exit), never beside the
    sources. Called in the controller before the workers start; a prefix already set wins."""
    if not sys.dont_write_bytecode or os.environ.get("PYTHONPYCACHEPREFIX"):
        return
    folder = tempfile.mkdtemp(prefix="robotrace-test-pycache-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["PYTHONPYCACHEPREFIX"] = folder
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.pycache_prefix = folder
    sys.dont_write_bytecode = False


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a test of an absent optional extra — or fail it where extras are required (CI)."""
    for marker in item.iter_markers("extra"):
        for extra in marker.args:
            if not is_installed(extra):
                if extras_required():
                    pytest.fail(missing_reason(extra), pytrace=False)
                pytest.skip(missing_reason(extra))


@pytest.fixture(autouse=True)
def gui_thread_garbage(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Qt tests collect cyclic garbage on the GUI thread only, as the app does
    (``robotrace_desktop.ui.gui_gc``): a closed view's widgets freed by a collection that
    happened to run on a pool thread froze the suite. Torn down after pytest-qt closed the
    test's widgets, so their garbage is collected here, on this thread."""
    if "qapp" not in request.fixturenames:
        yield
        return
    from PySide6.QtCore import QCoreApplication, QEvent

    from robotrace_desktop.ui.gui_gc import GuiThreadCollector

    request.getfixturevalue("qapp")
    collector = GuiThreadCollector()
    collector.start()
    yield
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    collector.stop()
    collector.deleteLater()


@pytest.fixture(scope="session")
def triage_catalog(
    tmp_path_factory: pytest.TempPathFactory,
    scanned_shared_data: tuple[Path, dict[str, object]],
    shared_data: Path,
) -> Path:
    """The scanned real recordings plus a never-explained copy of a dataset (what
    ``list --sort anomaly`` and the browser's Anomaly column must put last); read-only:
    tests copy it (``copy_catalog``)."""
    from tests.catalog_files import with_unexplained_dataset

    folder = tmp_path_factory.mktemp("triage")
    return with_unexplained_dataset(scanned_shared_data[0], shared_data, folder)


#: Session fixtures that cost tens of seconds to build: the files that use one run on one worker
#: process (xdist group named after it), so it is built once, not once per worker.
SHARED_SETUPS = ("shared_policy_catalog", "scanned_shared_data")

#: The other groups that take longest (seconds on a quiet 2-core machine, measured with
#: ``--durations``), scheduled right after the shared setups, longest first, so that the two
#: workers end together on short files; a long file handed out last runs alone on one core.
#: A file missing here (renamed, or new) is scheduled in collection order after these.
HEAVY_FIRST = (
    "tests/hardening/test_concurrency.py",  # ~20 s
    "tests/sdk/test_recorder.py",  # ~18 s
    "tests/hardening/test_crash_safety.py",  # ~16 s
    "tests/hostile/test_orphan_workers.py",  # ~12 s
    "tests/fuzz/test_fuzz_readers.py",
    "tests/hostile/test_disk_full.py",
    "tests/ui/test_catalog_browser.py",
    "tests/verify/test_ray_engine.py",
    "tests/hardening/test_catalog_faults.py",
    "tests/hardening/test_catalog_storage.py",  # ~8 s
    "tests/analysis/test_evaluation.py",
    "tests/test_demo.py",
    "tests/hardening/test_catalog_recovery.py",
    "tests/hostile/test_metadata_claims.py",
    "tests/ui/test_video_pane.py",
    "tests/ui/test_episode_fit.py",
    "tests/hostile/test_output_safety.py",
    "tests/ui/test_regression_panel.py",
    "tests/ui/test_catalog_scale.py",  # ~4 s
)


@pytest.hookimpl(tryfirst=True)  # before xdist appends the group to the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``--dist loadgroup`` (addopts): each test file is one unit of work for a worker (its
    module fixtures built once), and the files that share an expensive session fixture are one
    unit together. Units are handed out in the order of the items, so they are sorted longest
    first (``SHARED_SETUPS``, then ``HEAVY_FIRST``); addopts' ``--no-loadscope-reorder`` keeps
    xdist from reordering them by their number of tests, which put the long files of few tests
    last."""
    group_of: dict[str, str] = {}
    for item in items:
        file = item.nodeid.split("::", 1)[0]
        shared = next((s for s in SHARED_SETUPS if s in item.fixturenames), None)
        if shared is not None:
            group_of[file] = shared
        group_of.setdefault(file, file)
    for item in items:
        group = group_of[item.nodeid.split("::", 1)[0]]
        item.add_marker(pytest.mark.xdist_group(group))
        if config.getoption("loadgroup", default=False):
            _append_group_to_node_id(item, group)
    first = {g: i for i, g in enumerate((*SHARED_SETUPS, *HEAVY_FIRST))}
    items.sort(key=lambda i: first.get(group_of[i.nodeid.split("::", 1)[0]], len(first)))


def _append_group_to_node_id(item: pytest.Item, group: str) -> None:
    """The ``@group`` suffix is what xdist's scheduler groups by. xdist 3.8 writes it into
    ``item._nodeid``, which pytest 9.2 no longer reads (node ids live in ``item._id``), so the
    groups were silently ignored and the tests spread one by one; on such a pytest the suffix is
    written here. Older pytest versions keep xdist's own write."""
    node_id = getattr(item, "_id", None)
    if node_id is None or "@" in item.nodeid:
        return
    item._id = type(node_id).parse(f"{item.nodeid}@{group}")
