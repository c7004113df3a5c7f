"""Stored findings are reused while nothing they depend on changed: ``explain EPISODE`` and
``explain --all`` return them without opening the recording, ``--force`` recomputes, and a
changed thresholds file, override or model version invalidates them. Scan-time Explain uses
the same key. On a real bag (the underwater robot's MCAP) and generated demo bundles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.cli import main
from robotrace_desktop.episodes import ResolvedEpisode
from robotrace_desktop.errors import RecordingError
from robotrace_desktop.library.explain_reuse import current_keys, explain_key
from robotrace_desktop.library.explain_runner import explain_many
from tests.demo_cache import demo_copy


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


class Opens:
    """Counts ResolvedEpisode.open calls; with ``fail`` every open raises."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self.fail = False
        real = ResolvedEpisode.open

        def counting(resolved: ResolvedEpisode):  # type: ignore[no-untyped-def]
            self.count += 1
            if self.fail:
                raise RecordingError(resolved.info.path, "the test forbids opening it")
            return real(resolved)

        monkeypatch.setattr(ResolvedEpisode, "open", counting)


def test_second_explain_reuses_force_recomputes_thresholds_invalidate(
    shared_data: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bag = shared_data / "rosbag2" / "cougars_auv" / "SO_lastbag_mcap"
    catalog = str(tmp_path / "c.sqlite")
    assert run(capsys, "--catalog", catalog, "scan", "--no-explain", str(bag))[0] == 0
    opens = Opens(monkeypatch)
    code, first = run(capsys, "--catalog", catalog, "explain", str(bag), "--json")
    assert code == 0 and opens.count >= 1
    opens.fail = True  # from here on, opening the recording fails the test
    code, again = run(capsys, "--catalog", catalog, "explain", str(bag), "--json")
    assert code == 0 and json.loads(again) == json.loads(first)

    opens.fail, before = False, opens.count
    code, forced = run(capsys, "--catalog", catalog, "explain", str(bag), "--json", "--force")
    assert code == 0 and opens.count > before
    assert json.loads(forced) == json.loads(first)  # same recording, same findings

    toml = tmp_path / "explain.toml"
    toml.write_text(toml.read_text() + "\n# tuned by hand\n")
    before = opens.count
    code, _ = run(capsys, "--catalog", catalog, "explain", str(bag), "--json")
    assert code == 0 and opens.count > before  # the thresholds changed: recomputed
    opens.fail = True
    assert run(capsys, "--catalog", catalog, "explain", str(bag), "--json")[0] == 0


def test_key_follows_overrides_offsets_and_model_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo_copy(tmp_path / "demo1", seed=1)
    catalog = tmp_path / "c.sqlite"
    run(capsys, "--catalog", str(catalog), "scan", "--no-explain", str(tmp_path / "demo1"))
    with Catalog(catalog) as c:
        (episode,) = [e.id for e in c.list_episodes()]
        key = current_keys(c, [episode])[episode].key
        assert current_keys(c, [episode])[episode].key == key  # stable
        c.set_overrides([episode], {"outcome": "success"})
        overridden = current_keys(c, [episode])[episode].key
        assert overridden != key
        c.set_stream_offset(episode, "/joint_states", 5)
        assert current_keys(c, [episode])[episode].key not in (key, overridden)
        with_model = current_keys(c, [episode], model_versions={episode: "g1-model-3"})
        assert with_model[episode].key != current_keys(c, [episode])[episode].key
    common = {"episode_state": "s", "thresholds_text": None}
    assert explain_key(**common, model_version=None) != explain_key(**common, model_version="1")
    assert explain_key(**common, model_version="1") != explain_key(**common, model_version="2")


def test_explain_all_and_scan_reuse_unchanged_episodes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for seed in (1, 2, 3, 4):
        demo_copy(tmp_path / "data" / f"demo{seed}", seed=seed)
    catalog = tmp_path / "c.sqlite"
    code, out = run(capsys, "--catalog", str(catalog), "scan", str(tmp_path / "data"), "--json")
    assert code == 0 and json.loads(out)["explained"] == 4
    with Catalog(catalog) as c:
        ids = [e.id for e in c.list_episodes()]

    opens = Opens(monkeypatch)
    opens.fail = True
    # a re-scan of unchanged recordings explains nothing (workers=1 keeps the opens here)
    code, out = run(capsys, "--catalog", str(catalog), "scan", str(tmp_path / "data"), "--json")
    assert code == 0 and json.loads(out)["explained"] == 0
    again = explain_many(catalog, ids, workers=1)
    assert again.reused == set(ids) and not again.errors and opens.count == 0
    assert all(again.explained[e] for e in ids)  # the stored findings are the result

    opens.fail = False
    forced = explain_many(catalog, ids, workers=1, force=True)
    assert not forced.reused and opens.count >= len(ids)  # (+ baselines the analyzers open)
    assert {e: [f.to_dict() for f in v] for e, v in forced.explained.items()} == {
        e: [f.to_dict() for f in v] for e, v in again.explained.items()
    }
    # the user tags one episode: only that one is explained again, by the scan too
    with Catalog(catalog) as c:
        c.set_overrides([ids[0]], {"outcome": "success"})
    before = opens.count
    code, out = run(capsys, "--catalog", str(catalog), "scan", str(tmp_path / "data"), "--json")
    assert json.loads(out)["explained"] == 1 and opens.count > before


def test_a_new_run_of_the_robot_invalidates_the_others_but_a_tag_does_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Range excursions are judged against the robot's other runs: a run added to the catalog
    changes every other run's key (they are judged again); tagging one changes none."""
    for seed in (1, 2):
        demo_copy(tmp_path / "data" / f"demo{seed}", seed=seed)
    catalog = tmp_path / "c.sqlite"
    code, _ = run(capsys, "--catalog", str(catalog), "scan", "--no-explain", str(tmp_path / "data"))
    assert code == 0
    with Catalog(catalog) as c:
        ids = [e.id for e in c.list_episodes()]
        before = {e: k.key for e, k in current_keys(c, ids).items()}
        c.add_tags(ids[:1], ["looked-at"])
        assert {e: k.key for e, k in current_keys(c, ids).items()} == before
    demo_copy(tmp_path / "data" / "demo3", seed=3)
    code, _ = run(capsys, "--catalog", str(catalog), "scan", "--no-explain", str(tmp_path / "data"))
    with Catalog(catalog) as c:
        after = {e: k.key for e, k in current_keys(c, ids).items()}
    assert all(after[e] != before[e] for e in ids)
