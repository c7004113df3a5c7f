"""Security guarantees a user relies on when opening someone else's recording or link.

Each test plants a payload that would leave a marker file (or read a secret) if the guarantee
broke, then checks the marker is absent and the user got a clear error instead. Guarantees
tested elsewhere: bundle paths confined to the bundle (tests/readers/test_bundle_format.py),
HDF5 object references and external links refused (tests/readers/test_hdf5.py), HTML and JUnit
reports escaped (tests/verify/test_reports.py), hostile text shown literally in the window
(tests/ui/test_hostile_text.py).
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import robotrace_desktop as rt
from robotrace_desktop.catalog.bookmarks import add_bookmark
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.cli import main as cli
from robotrace_desktop.core.episode import StreamKind
from robotrace_desktop.episodes import resolve
from robotrace_desktop.errors import EpisodeNotFoundError, RobotraceError, ValidationError
from robotrace_desktop.library.scanner import scan
from robotrace_desktop.readers.bundle.reader import BundleReader
from tests.demo_cache import demo_copy
from tests.sdk.sdk_fixtures import catalog_ids

S = 1_000_000_000


class _Payload:
    """Unpickling this creates ``path``: proof that pickle ran."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (self.path, "w"))


def _pickled_array(marker: Path) -> np.ndarray:
    arr = np.empty(3, dtype=object)
    arr[:] = [_Payload(marker)] * 3
    return arr


# --------------------------------------------------------------------- no pickle


def test_a_pickled_npz_in_a_bundle_is_refused_and_never_unpickled(tmp_path: Path) -> None:
    bundle = demo_copy(tmp_path / "demo")
    marker = tmp_path / "PWNED"
    with open(bundle / "signals" / "actions.npz", "wb") as out:
        np.savez(out, **{"t_ns": _pickled_array(marker), "gripper": _pickled_array(marker)})
    infos = list(BundleReader().index(bundle))
    # the episode still indexes; the bad stream is left out with the file and reason named
    assert [s.name for s in infos[0].streams_of(StreamKind.SIGNAL)] == ["/joint_states"]
    assert any("actions.npz" in p and "object" in p for p in infos[0].problems), infos[0].problems
    assert not marker.exists()


def test_logging_a_pickled_npz_is_refused_and_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    sensors = tmp_path / "sensors.npz"
    np.savez(sensors, **{"joints/_t_ns": _pickled_array(marker), "joints/q": np.zeros(3)})
    client = rt.Client(library=tmp_path / "library", catalog=tmp_path / "catalog.sqlite")
    with pytest.raises(RobotraceError, match=r"sensors\.npz"):
        client.log_episode(name="x", sensors=sensors)
    assert not marker.exists()
    assert catalog_ids(tmp_path / "catalog.sqlite") == []  # nothing half-logged


def test_a_tampered_packet_index_cache_is_not_unpickled(tmp_path: Path) -> None:
    """The frame index cache lives in the user's cache folder, where anything may write."""
    bundle = demo_copy(tmp_path / "demo")
    reader = BundleReader()
    info = next(iter(reader.index(bundle)))
    with reader.open(bundle, info.episode_index) as source:
        first = source.video("front").frame(0).rgb.copy()
    caches = [p for p in Path(os.environ["ROBOTRACE_HOME"]).rglob("*.npz")]
    assert caches, "the packet index was not cached"
    marker = tmp_path / "PWNED"
    for cache in caches:
        with open(cache, "wb") as out:
            pickle.dump(_pickled_array(marker), out)  # not even an npz any more
    with reader.open(bundle, info.episode_index) as source:
        again = source.video("front").frame(0).rgb
    assert not marker.exists()
    assert np.array_equal(first, again)  # the index was rebuilt from the video


# --------------------------------------------------------------------- deep links


def test_no_code_asks_numpy_for_pickles() -> None:
    """Every array the app reads or writes goes through numpy with allow_pickle=False: a cache
    or bundle written with pickles allowed would hold objects the next read must refuse."""
    package = Path(rt.__file__).parent
    offenders = [
        f"{path.relative_to(package)}:{n}"
        for path in sorted(package.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "allow_pickle=True" in line.replace(" ", "")
    ]
    assert offenders == []


def test_a_link_opens_catalog_ids_only_never_a_path(tmp_path: Path, monkeypatch) -> None:
    bundle = demo_copy(tmp_path / "demo")
    catalog = Catalog(tmp_path / "catalog.sqlite")
    # a recording sits in the working folder under a name that is a valid-looking id
    monkeypatch.chdir(tmp_path)
    os.rename(bundle, tmp_path / "deadbeefcafe0001")
    with pytest.raises(EpisodeNotFoundError):
        resolve("robotrace://episode/deadbeefcafe0001", catalog)
    for hostile in (
        "robotrace://episode/..%2F..%2Fetc%2Fpasswd",
        "robotrace://episode/%2Fetc%2Fpasswd",
        "robotrace://episode/../../etc/passwd",
        "robotrace://file/etc/passwd",
        "robotrace://episode/abc;rm -rf ~",
    ):
        with pytest.raises(ValidationError):
            resolve(hostile, catalog)
    # the same name passed explicitly as a path does open: the user chose it
    assert resolve("deadbeefcafe0001", catalog).info.name.startswith("Demo")


def test_the_url_handler_refuses_a_path_link_with_a_clear_message(tmp_path: Path, capsys) -> None:
    code = cli(["--catalog", str(tmp_path / "c.sqlite"), "show", "robotrace://episode/%2Fetc"])
    assert code == 1
    assert "bad episode id" in capsys.readouterr().err


# --------------------------------------------------------------------- policy code


EVIL = """
from pathlib import Path
Path({marker!r}).write_text("imported")

def act(obs):
    return obs
"""


@pytest.fixture()
def verify_catalog(tmp_path: Path) -> tuple[Path, Path]:
    """Two versions with one seed each, and an importable evil.py next to them whose import
    leaves a marker. Every place a policy could be named is filled with it — but --policy."""
    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil.py"
    evil.write_text(EVIL.format(marker=str(marker)))
    client = rt.Client(library=tmp_path / "library", catalog=tmp_path / "catalog.sqlite")
    t = np.arange(50, dtype=np.int64) * (S // 50)
    for version, success in (("v1", True), ("v2", False)):
        client.log_episode(
            name=f"run {version}",
            policy_version=version,
            env_version="e",
            git_sha="0" * 40,
            seed=1,
            success=success,
            actions={"cmd": {"t_ns": t, "u": np.sin(t / S)}},
            metadata={"policy": f"{evil}:act", "policy_spec": f"{evil}:act"},
        )
    return tmp_path / "catalog.sqlite", marker


def test_policy_code_is_never_loaded_without_the_flag(
    verify_catalog: tuple[Path, Path], tmp_path: Path, monkeypatch
) -> None:
    catalog, marker = verify_catalog
    monkeypatch.chdir(tmp_path)  # evil.py is importable from here
    gate = tmp_path / "gate.toml"
    gate.write_text(f'policy = "{tmp_path / "evil.py"}:act"\n')
    args = ["--catalog", str(catalog), "verify", "--baseline", "v1", "--candidate", "v2"]
    assert cli([*args, "--gate", str(gate)]) == 2  # an unknown gate key is a usage error
    assert cli([*args, "--workers", "1"]) in (0, 1)
    assert cli(["--catalog", str(catalog), "explain", "--all"]) == 0
    assert not marker.exists()
    # and with the explicit flag it is loaded: the marker proves the test can fail
    assert cli([*args, "--workers", "1", "--policy", f"{tmp_path / 'evil.py'}:act"]) in (0, 1)
    assert marker.exists()


# --------------------------------------------------------------------- SQL


def test_filters_are_parameters_not_sql(tmp_path: Path, capsys) -> None:
    bundle = demo_copy(tmp_path / "demo")
    catalog_path = tmp_path / "catalog.sqlite"
    with Catalog(catalog_path) as catalog:
        scan(catalog, [bundle])
    base = ["--catalog", str(catalog_path), "list", "--json"]
    for hostile in ("x' OR '1'='1", "%' --", "'; DROP TABLE episodes; --"):
        assert cli([*base, "--policy", hostile]) == 0
        assert json.loads(capsys.readouterr().out) == []
        assert cli([*base, "--search", hostile]) == 0
        assert json.loads(capsys.readouterr().out) == []
    assert cli([*base, "--search", "%"]) == 0  # LIKE wildcards are literal too
    assert json.loads(capsys.readouterr().out) == []
    assert cli(base) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1


# --------------------------------------------------------------------- HTML report


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_verify_report_escapes_hostile_names_notes_and_tags_end_to_end(
    tmp_path: Path,
) -> None:
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    client = rt.Client(library=tmp_path / "library", catalog=tmp_path / "catalog.sqlite")
    t = np.arange(50, dtype=np.int64) * (S // 50)
    ids = []
    for version, success in ((f"v1{hostile}", True), (f"v2{hostile}", False)):
        episode = client.log_episode(
            name=f"run {hostile}",
            task=f"task {hostile}",
            policy_version=version,
            seed=1,
            success=success,
            actions={f"cmd{hostile.replace('/', '')}": {"t_ns": t, "u": np.sin(t / S)}},
            metadata={"failure_reason": hostile},
        )
        ids.append(episode.id)
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        catalog.add_tags(ids, [hostile])
        add_bookmark(catalog, ids[1], S // 2, note=hostile)
    report = tmp_path / "report.html"
    result = subprocess.run(
        [sys.executable, "-m", "robotrace_desktop", "--catalog", str(tmp_path / "catalog.sqlite"),
         "verify", "--baseline", f"v1{hostile}", "--candidate", f"v2{hostile}",
         "--workers", "1", "--report", str(report)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "ROBOTRACE_HOME": str(tmp_path / "home")},
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    page = report.read_text()
    parsed = _Elements()
    parsed.feed(page)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert "run <script>alert(1)</script>" in "".join(parsed.text)  # shown, as text
