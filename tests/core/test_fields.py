"""core/fields.py: the one rule per descriptive field, its problem lines and its strict use."""

from __future__ import annotations

import numpy as np
import pytest

from robotrace_desktop.core.episode import EpisodeInfo, Outcome
from robotrace_desktop.core.fields import (
    FieldValueError,
    parse_fields,
    parse_value,
    require_fields,
)
from robotrace_desktop.errors import ValidationError
from robotrace_desktop.sdk.fields import check_fields, check_outcome


@pytest.mark.parametrize(
    ("name", "value", "accepted"),
    [
        ("seed", 7, 7),
        ("seed", "7", 7),
        ("seed", " -7 ", -7),
        ("seed", np.int64(11), 11),
        ("seed", None, None),
        ("seed", "", None),
        ("git_sha", "90FF6A08", "90ff6a08"),
        ("git_sha", "a" * 64, "a" * 64),
        ("source", " Real ", "real"),
        ("policy_version", "  v1.4 ", "v1.4"),
        ("policy_version", 2, "2"),
        ("task", "x" * 4096, "x" * 4096),
        ("success", np.bool_(True), Outcome.SUCCESS),
        ("success", 0, Outcome.FAILURE),
        ("outcome", "Failed", Outcome.FAILURE),
        ("outcome", "unknown", Outcome.UNKNOWN),
        ("status", "FAILED", "failed"),
    ],
)
def test_accepted_values(name: str, value: object, accepted: object) -> None:
    assert parse_value(name, value) == accepted


@pytest.mark.parametrize(
    ("name", "value", "wants"),
    [
        ("seed", 7.0, "an integer"),
        ("seed", True, "an integer"),
        ("seed", "7.5", "an integer"),
        ("seed", 2**64, "an integer that fits in 64 bits"),
        ("git_sha", "abc", "a git commit id (4 to 64 hexadecimal digits)"),
        ("git_sha", "g" * 40, "a git commit id (4 to 64 hexadecimal digits)"),
        ("git_sha", "a" * 65, "a git commit id (4 to 64 hexadecimal digits)"),
        ("source", "lab", "one of real, sim, replay"),
        ("robot", True, "a string of at most 256 characters"),
        ("robot", ["a"], "a string of at most 256 characters"),
        ("env_version", float("nan"), "a string of at most 256 characters"),
        ("task", "x" * 4097, "a string of at most 4096 characters"),
        ("success", 2, "success or failure (true/false)"),
        ("status", "done", "one of ready, failed"),
    ],
)
def test_rejected_values_say_what_the_field_wants(name: str, value: object, wants: str) -> None:
    with pytest.raises(FieldValueError) as err:
        parse_value(name, value)
    assert str(err.value) == wants


def test_parse_fields_reports_in_schema_order_and_applies_only_what_is_stated() -> None:
    raw = {"seed": "x", "source": "lab", "policy_version": "v2", "unrelated": object()}
    fields, problems = parse_fields(raw, origin="where")
    assert fields.given() == {"policy_version": "v2"}
    assert [str(p) for p in problems] == [
        "where: source 'lab' is not one of real, sim, replay — ignored",
        "where: seed 'x' is not an integer — ignored",
    ]
    info = EpisodeInfo("i", "bundle", "/p", None, "n", robot="native", outcome=Outcome.SUCCESS)
    fields.apply(info)
    assert (info.policy_version, info.robot, info.outcome) == ("v2", "native", Outcome.SUCCESS)


def test_outcome_wins_over_success_and_episode_values_over_dataset_values() -> None:
    fields, _ = parse_fields({"success": "yes", "outcome": "failure"}, origin="o")
    assert fields.outcome == Outcome.FAILURE and fields.success is False
    dataset, _ = parse_fields({"seed": 1, "robot": "a"}, origin="o")
    episode, _ = parse_fields({"seed": 2}, origin="o")
    assert episode.over(dataset).given() == {"seed": 2, "robot": "a"}


def test_strict_callers_get_the_first_problem_as_their_error() -> None:
    with pytest.raises(ValidationError, match=r"^seed must be an integer, got 'seven' \(str\)$"):
        require_fields({"seed": "seven", "success": "maybe"}, error=ValidationError)


def test_the_sdk_applies_the_same_rules() -> None:
    fields = check_fields(seed="7", git_sha="ABCDEF0", source="SIM", robot=3, success="no")
    assert (fields.seed, fields.git_sha, fields.source, fields.robot, fields.success) == (
        7,
        "abcdef0",
        "sim",
        "3",
        False,
    )
    with pytest.raises(ValidationError, match="git_sha must be a git commit id"):
        check_fields(git_sha="HEAD~1")
    with pytest.raises(ValidationError, match="status must be one of ready, failed"):
        check_outcome(None, None, None)
    assert check_outcome("Failed", 1.0, None).status == "failed"
