"""The descriptive fields of an episode: one schema, one parser, one wording of every problem.

The reproducibility fields (``policy_version``, ``env_version``, ``git_sha``, ``seed``) and
their companions (``source``, ``robot``, ``task``, ``success``/``outcome``, a bundle's
``status``) reach RoboTrace from a bundle manifest, rosbag2 ``custom_data``, LeRobot metadata,
HDF5 attributes, the logging SDK and ``tag``. They all pass through ``parse_fields`` so a value
means the same thing wherever it was written, and a rejected value is reported the same way:

    <origin>: seed 'seven' is not an integer — ignored

The rules are deliberately tolerant of *text forms*, because some containers can only carry
text (rosbag2 ``custom_data`` is a map of strings; YAML turns an unquoted ``42`` back into a
number): a seed may be an int or its decimal text, a version may arrive as a number. They are
strict about *meaning*: a seed that is not integral, a ``git_sha`` that is not hexadecimal, a
``source`` outside the documented three are rejected, never guessed at. Readers keep the rest
of the recording and list the problem; the SDK (``require_fields``) turns the first problem
into its typed error instead.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from robotrace_desktop.core.episode import SOURCES, EpisodeInfo, Outcome

#: a bundle's own verdict on the run (the catalog adds "missing" for vanished recordings)
STATUSES = ("ready", "failed")
#: the keys a recording may carry; ``outcome`` and ``success`` both state the outcome
RECORDING_KEYS = (
    "source",
    "robot",
    "task",
    "policy_version",
    "env_version",
    "git_sha",
    "seed",
    "success",
    "outcome",
)
#: at most this many characters in a version or robot name; a task may be a sentence
MAX_NAME_CHARS = 256
MAX_TASK_CHARS = 4096
_INT64 = (-(2**63), 2**63 - 1)
_INTEGER_TEXT = re.compile(r"^[+-]?[0-9]+$")
_HEX = re.compile(r"^[0-9a-f]{4,64}$")  # abbreviated ids up to full sha1 (40) / sha256 (64)
_TRUE = frozenset({"true", "1", "yes", "success", "succeeded", "ok"})
_FALSE = frozenset({"false", "0", "no", "failure", "failed", "fail"})
_SHOWN_CHARS = 60


class FieldValueError(ValueError):
    """A value breaks its field's rule; the message says what the field wants."""


@dataclass(frozen=True, slots=True)
class Fields:
    """The accepted values; None means "not stated" (absent, empty or rejected)."""

    source: str | None = None
    robot: str | None = None
    task: str | None = None
    policy_version: str | None = None
    env_version: str | None = None
    git_sha: str | None = None
    seed: int | None = None
    outcome: Outcome | None = None
    status: str | None = None

    def given(self) -> dict[str, Any]:
        """The stated values by field name."""
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None}

    def over(self, base: Fields) -> Fields:
        """These values where stated, ``base``'s elsewhere (episode metadata over dataset's)."""
        return replace(base, **self.given())

    @property
    def success(self) -> bool | None:
        """The outcome as a bundle manifest and the SDK store it (unknown: None)."""
        if self.outcome in (Outcome.SUCCESS, Outcome.FAILURE):
            return self.outcome == Outcome.SUCCESS
        return None

    def apply(self, info: EpisodeInfo) -> None:
        """Set the stated values on ``info``; what the recording's format implied stays
        wherever the fields say nothing (``status`` is the reader's to interpret)."""
        for name, value in self.assignments():
            setattr(info, name, value)

    def assignments(self) -> list[tuple[str, Any]]:
        """The (attribute, value) pairs ``apply`` sets: a reader applying the same fields to
        10,000 episodes works them out once."""
        return [(name, value) for name, value in self.given().items() if name != "status"]


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One rejected value and where it came from."""

    field: str
    value: object
    wants: str
    origin: str

    def __str__(self) -> str:
        """The problem line a reader lists on the catalog row."""
        return f"{self.origin}: {self.field} {shown(self.value)} is not {self.wants} — ignored"

    @property
    def message(self) -> str:
        """The wording of a strict caller's error (the SDK's ValidationError)."""
        kind = type(self.value).__name__
        return f"{self.field} must be {self.wants}, got {shown(self.value)} ({kind})"


def shown(value: object) -> str:
    """``repr`` cut short: a value may be a 64 KB string."""
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


# ---------------------------------------------------------------- rules


def _plain(value: object) -> object:
    """numpy scalars as Python values (HDF5 attributes, parquet cells)."""
    item = getattr(value, "item", None)
    if item is not None and getattr(value, "shape", None) == ():
        return item()
    return value


def _text(limit: int) -> Callable[[object], str]:
    wants = f"a string of at most {limit} characters"

    def rule(value: object) -> str:
        if isinstance(value, bool) or not isinstance(value, str | numbers.Real):
            raise FieldValueError(wants)
        if isinstance(value, numbers.Real) and not math.isfinite(value):
            raise FieldValueError(wants)
        text = value.strip() if isinstance(value, str) else str(value)
        if len(text) > limit:
            raise FieldValueError(wants)
        return text

    return rule


def _seed(value: object) -> int:
    if isinstance(value, bool):
        raise FieldValueError("an integer")
    if isinstance(value, str) and _INTEGER_TEXT.match(value.strip()):
        value = int(value.strip())
    if not isinstance(value, numbers.Integral):
        raise FieldValueError("an integer")
    number = int(value)
    if not _INT64[0] <= number <= _INT64[1]:
        raise FieldValueError("an integer that fits in 64 bits")
    return number


def _git_sha(value: object) -> str:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = str(value)  # YAML reads an all-digit abbreviation as a number
    text = value.strip().lower() if isinstance(value, str) else None
    if text is None or not _HEX.match(text):
        raise FieldValueError("a git commit id (4 to 64 hexadecimal digits)")
    return text


def _one_of(choices: tuple[str, ...]) -> Callable[[object], str]:
    wants = f"one of {', '.join(choices)}"

    def rule(value: object) -> str:
        text = value.strip().lower() if isinstance(value, str) else None
        if text not in choices:
            raise FieldValueError(wants)
        return text

    return rule


def _outcome(value: object) -> Outcome:
    if isinstance(value, bool):
        return Outcome.from_success(value)
    if isinstance(value, numbers.Integral) and int(value) in (0, 1):
        return Outcome.from_success(bool(value))
    text = value.strip().lower() if isinstance(value, str) else None
    if text in _TRUE:
        return Outcome.SUCCESS
    if text in _FALSE:
        return Outcome.FAILURE
    if text == "unknown":
        return Outcome.UNKNOWN
    raise FieldValueError("success or failure (true/false)")


RULES: dict[str, Callable[[object], Any]] = {
    "source": _one_of(SOURCES),
    "robot": _text(MAX_NAME_CHARS),
    "task": _text(MAX_TASK_CHARS),
    "policy_version": _text(MAX_NAME_CHARS),
    "env_version": _text(MAX_NAME_CHARS),
    "git_sha": _git_sha,
    "seed": _seed,
    "success": _outcome,
    "outcome": _outcome,
    "status": _one_of(STATUSES),
}


def absent(value: object) -> bool:
    """Not stated: None, or a string with nothing but whitespace."""
    return value is None or (isinstance(value, str) and not value.strip())


def parse_value(name: str, value: object) -> Any:
    """One field's accepted value (None when absent); raises FieldValueError saying what the
    field wants."""
    value = _plain(value)
    return None if absent(value) else RULES[name](value)


# ---------------------------------------------------------------- parsers


def parse_fields(
    raw: Mapping[str, object], *, origin: str, keys: tuple[str, ...] = RECORDING_KEYS
) -> tuple[Fields, list[FieldProblem]]:
    """The accepted values of ``keys`` in ``raw`` and a problem for each rejected one.

    ``origin`` says where ``raw`` was read ("custom_data in …/metadata.yaml"); it leads every
    problem line. Other keys of ``raw`` are not looked at. ``outcome`` wins over ``success``
    when both are stated."""
    values: dict[str, Any] = {}
    problems: list[FieldProblem] = []
    for name in keys:
        value = raw.get(name)
        try:
            parsed = parse_value(name, value)
        except FieldValueError as exc:
            problems.append(FieldProblem(name, _plain(value), str(exc), origin))
            continue
        if parsed is not None:
            values[name] = parsed
    outcome = values.pop("outcome", None)
    success = values.pop("success", None)
    return Fields(**values, outcome=outcome if outcome is not None else success), problems


def problem_lines(problems: list[FieldProblem]) -> list[str]:
    return [str(p) for p in problems]


def require_fields(
    raw: Mapping[str, object],
    *,
    error: type[Exception],
    keys: tuple[str, ...] = RECORDING_KEYS,
) -> Fields:
    """``parse_fields`` for callers that must not go on with a bad value: the SDK (error
    ValidationError) and bundle writers (ManifestError). The first problem is raised."""
    parsed, problems = parse_fields(raw, origin="", keys=keys)
    if problems:
        raise error(problems[0].message)
    return parsed
