"""Checking the descriptive fields of a logged episode before anything is written.

Every bad value is a ValidationError whose message names the field (``seed``, ``source``,
``failure_time_s``...), so a user sees at once which argument to fix. The reproducibility
fields follow the rules every reader applies (``core/fields.py``): the SDK is its strict
caller, turning the first problem into the error instead of a catalog-row problem. The
reproducibility block (what is missing, what was inferred) and the failure time are put into
the metadata here, in one place, for ``log_episode`` and ``start_episode`` alike.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from robotrace_desktop.core.episode import REPRODUCIBILITY_FIELDS
from robotrace_desktop.core.fields import STATUSES, require_fields
from robotrace_desktop.core.jsonsafe import to_jsonable
from robotrace_desktop.core.timebase import NS_PER_S as NS
from robotrace_desktop.errors import ValidationError

_INT64_MAX = 2**63 - 1
#: metadata keys the SDK writes itself (a user value under the same key is replaced)
RESERVED_KEYS = ("reproducibility", "failure_time_ns", "generator")
GENERATOR = "robotrace_desktop.sdk"


@dataclass(slots=True)
class EpisodeFields:
    """The validated descriptive fields (everything but the data and the outcome)."""

    name: str | None = None
    source: str | None = None
    robot: str | None = None
    policy_version: str | None = None
    env_version: str | None = None
    git_sha: str | None = None
    seed: int | None = None
    task: str | None = None
    success: bool | None = None
    start_time_ns: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def text(value: object, name: str) -> str | None:
    """A string field; "" counts as not given."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, got {value!r} ({type(value).__name__})")
    return value.strip() or None


def integer(value: object, name: str, *, minimum: int | None = None) -> int | None:
    """An int (numpy integers too) — never a bool, a float or a numeric string."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValidationError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    number = int(value)
    if not -_INT64_MAX - 1 <= number <= _INT64_MAX:
        raise ValidationError(f"{name} {number} does not fit in 64 bits")
    if minimum is not None and number < minimum:
        raise ValidationError(f"{name} must be >= {minimum}, got {number}")
    return number


def seconds(value: object, name: str, *, positive: bool = False) -> float | None:
    """A finite, non-negative (or positive) number of seconds / a rate."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    number = float(value)
    if not math.isfinite(number):
        raise ValidationError(f"{name} must be finite, got {number}")
    if positive and number <= 0:
        raise ValidationError(f"{name} must be positive, got {number:g}")
    if number < 0:
        raise ValidationError(f"{name} must not be negative, got {number:g}")
    return number


def metadata_dict(value: object, name: str = "metadata") -> dict[str, Any]:
    """A JSON-able copy of the user's metadata (numpy values become plain numbers)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(f"{name} must be a dict, got {type(value).__name__}")
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise ValidationError(f"{name} keys must be strings, got {bad[0]!r}")
    return to_jsonable(dict(value))


def check_fields(
    *,
    name: object = None,
    source: object = None,
    robot: object = None,
    policy_version: object = None,
    env_version: object = None,
    git_sha: object = None,
    seed: object = None,
    task: object = None,
    success: object = None,
    start_time_ns: object = None,
    metadata: object = None,
) -> EpisodeFields:
    given = {
        "source": source,
        "robot": robot,
        "policy_version": policy_version,
        "env_version": env_version,
        "git_sha": git_sha,
        "seed": seed,
        "task": task,
        "success": success,
    }
    parsed = require_fields(given, error=ValidationError)
    return EpisodeFields(
        name=text(name, "name"),
        source=parsed.source,
        robot=parsed.robot,
        policy_version=parsed.policy_version,
        env_version=parsed.env_version,
        git_sha=parsed.git_sha,
        seed=parsed.seed,
        task=parsed.task,
        success=parsed.success,
        start_time_ns=integer(start_time_ns, "start_time_ns", minimum=0),
        metadata=metadata_dict(metadata),
    )


def check_success(success: object) -> bool | None:
    """``success`` of ``Recorder.finalize``, by the same rule as ``log_episode``'s."""
    return require_fields({"success": success}, error=ValidationError, keys=("success",)).success


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    failure_time_ns: int | None
    duration_ns: int | None


def check_outcome(status: object, failure_time_s: object, duration_s: object) -> Outcome:
    checked = require_fields({"status": status}, error=ValidationError, keys=("status",)).status
    if checked is None:  # a status is required; absent is not "ready"
        raise ValidationError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    status = checked
    failure = seconds(failure_time_s, "failure_time_s")
    duration = seconds(duration_s, "duration_s")
    if failure is not None and status != "failed":
        raise ValidationError(
            f'failure_time_s={failure:g} needs status="failed" (status is {status!r})'
        )
    if failure is not None and duration is not None and failure > duration:
        raise ValidationError(
            f"failure_time_s={failure:g} is after the end of the episode (duration_s={duration:g})"
        )
    return Outcome(
        str(status),
        None if failure is None else round(failure * NS),
        None if duration is None else round(duration * NS),
    )


def reproducibility(fields: EpisodeFields, inferred: list[str]) -> dict[str, list[str]] | None:
    """``{"missing": [...], "inferred": [...]}`` or None when every field was given."""
    missing = [f for f in REPRODUCIBILITY_FIELDS if getattr(fields, f) in (None, "")]
    if not missing and not inferred:
        return None
    return {"missing": missing, "inferred": list(inferred)}


def missing_warning(missing: list[str]) -> str:
    return f"not reproducible: missing {', '.join(missing)}"
