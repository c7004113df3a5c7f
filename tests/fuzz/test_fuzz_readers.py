"""The short fuzz run (CI): mutated real and generated recordings never crash a reader.

Every input — a seed recording from shared/data or a generated one, one member file mutated —
must give an episode (maybe partial, with problems) or a RobotraceError whose message names the
file: never another exception type, a hang over 10 s or a peak RSS over 1 GB. Inputs run in
tests/fuzz/harness.py's worker subprocess, so a hang or a crash is caught, not suffered. The
corpus in tests/fuzz/corpus/ replays every case that failed before the readers were fixed; the
long run is benchmarks/fuzz_readers.py. The drawn mutations are 200 in the README's run and
800 in .ci/run's deep pass (HYPOTHESIS_PROFILE=ci-deep).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robotrace_desktop.errors import CorruptRecordingError, FrameIndexError, recording_errors
from tests.fuzz.harness import BAD, Runner
from tests.fuzz.mutations import OPERATORS, TEXT_EDITS, mutate
from tests.fuzz.seeds import SEEDS, build

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.json"))
TEXT_SUFFIXES = (".json", ".jsonl", ".yaml")
TEXT_ONLY = {"replace_text", "nest"}

#: What the unmutated seeds give (partial: the recording itself lists problems).
CLEAN = {
    "service_events_mcap": "partial",
    "service_events_sqlite3": "partial",
    "empty_bag_sqlite3": "partial",
    "iiwa7": "partial",
    "no_messages_bag": "partial",
    "g1": "partial",  # episode 0's video is not in the download
    "bundle": "partial",  # its event log has one malformed line
    "wrong_format_mcap": "error",
    "aloha_hollow": "partial",  # the 16 GB qvel is refused with a problem, the rest reads
}


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    with Runner(tmp_path_factory.mktemp("fuzz_home")) as worker:
        yield worker


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    return tmp_path_factory.mktemp("fuzz_seeds")


def _check(result: dict[str, Any], recipe: dict[str, Any]) -> None:
    assert result["outcome"] not in BAD, f"{json.dumps(recipe)}\n{result.get('failure')}"


def test_mutations_are_reproducible_from_params() -> None:
    data = bytes(range(256)) * 8
    for op in OPERATORS:
        params = {"seed": 7, "count": 4, "frac": 0.3, "length": 9, "chunk": 64, "swaps": 2}
        params |= {"old": "\x05", "new": "xy", "nth": 1, "open": "[", "depth": 3}
        once, twice = mutate(data, op, params), mutate(data, op, params)
        assert once == twice, op
        assert once != data, op
    assert mutate(data, "truncate", {"frac": 0.25}) == data[:512]
    assert mutate(b"abcabc", "replace_text", {"old": "b", "new": "X", "nth": 1}) == b"abcaXc"


def test_guard_turns_data_errors_into_recording_errors_but_not_bugs(tmp_path: Path) -> None:
    path = tmp_path / "x.bag"
    with (
        pytest.raises(CorruptRecordingError) as caught,
        recording_errors(path, "cannot read messages"),
    ):
        b"\x80".decode()
    assert str(caught.value).startswith(f"{path}: cannot read messages: UnicodeDecodeError: ")
    assert isinstance(caught.value.__cause__, UnicodeDecodeError)
    with (
        pytest.raises(CorruptRecordingError, match="asks for more memory than the file"),
        recording_errors(path),
    ):
        raise MemoryError
    for bug in (NameError("x"), FrameIndexError("frame 9 out of range")):
        with pytest.raises(type(bug)), recording_errors(path):
            raise bug


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_unmutated_seed_reads(name: str, runner: Runner, cache: Path, tmp_path: Path) -> None:
    seed = SEEDS[name]
    result = runner.run(build({"seed": name, "member": "", "op": "none"}, cache, tmp_path))
    assert result["kind"] == seed.kind
    assert result["outcome"] == CLEAN.get(name, "ok"), result
    if result["outcome"] != "error":
        assert result["episodes"] >= 1
    if name == "aloha_hollow":
        (problem,) = result["problem_texts"]
        assert "/observations/qvel claims 16000000000 bytes" in problem


@pytest.mark.parametrize("case", CORPUS, ids=lambda p: p.stem[:60])
def test_corpus_case(case: Path, runner: Runner, cache: Path, tmp_path: Path) -> None:
    recipe = json.loads(case.read_text())
    result = runner.run(build(recipe, cache, tmp_path / "input"))
    _check(result, recipe)
    if "expect" in recipe:
        assert result["outcome"] in recipe["expect"], result
    if "expect_text" in recipe:
        said = [*result["typed"], result["error"], *result.get("problem_texts", [])]
        assert any(recipe["expect_text"] in str(text) for text in said), result


@st.composite
def recipes(draw: st.DrawFn) -> dict[str, Any]:
    seed = SEEDS[draw(st.sampled_from(sorted(SEEDS)))]
    member = draw(st.sampled_from(seed.members))
    text = member.endswith(TEXT_SUFFIXES)
    op = draw(st.sampled_from(sorted(OPERATORS) if text else sorted(set(OPERATORS) - TEXT_ONLY)))
    frac = draw(st.floats(0, 1))
    rand = draw(st.integers(0, 2**31 - 1))
    params: dict[str, Any] = {
        "bitflip": {"seed": rand, "count": draw(st.sampled_from([1, 4, 32]))},
        "truncate": {"frac": frac},
        "zero_block": {"frac": frac, "length": draw(st.sampled_from([8, 256, 4096]))},
        "shuffle_chunks": {"seed": rand, "chunk": draw(st.sampled_from([64, 1024])), "swaps": 2},
        "insert_bytes": {"seed": rand, "frac": frac, "length": draw(st.sampled_from([1, 33]))},
        "delete_bytes": {"frac": frac, "length": draw(st.sampled_from([1, 16, 1024]))},
        "interesting": {"seed": rand, "count": draw(st.sampled_from([1, 4]))},
        "replace_text": {},
        "nest": {"open": draw(st.sampled_from(["[", '{"a":', "- "])), "depth": 10**5},
    }[op]
    if op == "replace_text":
        old, new = draw(st.sampled_from(TEXT_EDITS))
        params = {"old": old, "new": new, "nth": draw(st.integers(0, 3))}
    return {"seed": seed.name, "member": member, "op": op, "params": params}


@settings(
    derandomize=True,
    deadline=None,  # max_examples: the profile's (tests/conftest.py): 200, or 800 in CI's deep pass
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(recipe=recipes())
def test_mutated_recordings_never_crash_a_reader(
    recipe: dict[str, Any], runner: Runner, cache: Path, tmp_path: Path
) -> None:
    result = runner.run(build(recipe, cache, tmp_path / "input"))
    _check(result, recipe)
