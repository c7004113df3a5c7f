"""Episode-level facts a bag carries besides its topics: rosbag2 ``custom_data`` (the
reproducibility fields and the outcome) and the URDF on ``/robot_description`` (robot name,
joint limits)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from robotrace_desktop.core.episode import SOURCES, Outcome

_TRUE = {"true", "1", "yes", "success", "succeeded", "ok"}
_FALSE = {"false", "0", "no", "failure", "failed", "fail"}


@dataclass
class CustomFields:
    values: dict[str, Any] = field(default_factory=dict)
    outcome: Outcome = Outcome.UNKNOWN
    problems: list[str] = field(default_factory=list)


def parse_custom_data(custom: Mapping[str, Any], origin: str) -> CustomFields:
    """policy_version, env_version, git_sha, seed (int), robot, task, source, success/outcome."""
    out = CustomFields()
    for key in ("policy_version", "env_version", "git_sha", "robot", "task"):
        value = custom.get(key)
        if value not in (None, ""):
            out.values[key] = str(value)
    if (seed := custom.get("seed")) not in (None, ""):
        try:
            out.values["seed"] = int(str(seed).strip())
        except ValueError:
            out.problems.append(f"{origin}: custom_data seed {seed!r} is not an integer")
    if (source := custom.get("source")) not in (None, ""):
        if str(source).lower() in SOURCES:
            out.values["source"] = str(source).lower()
        else:
            out.problems.append(
                f"{origin}: custom_data source {source!r} is not one of {', '.join(SOURCES)}"
            )
    for key in ("outcome", "success"):
        raw = custom.get(key)
        if raw in (None, ""):
            continue
        text = str(raw).strip().lower()
        if text in _TRUE:
            out.outcome = Outcome.SUCCESS
        elif text in _FALSE:
            out.outcome = Outcome.FAILURE
        elif text != "unknown":
            out.problems.append(f"{origin}: custom_data {key} {raw!r} is not success/failure")
        break
    return out


@dataclass
class Urdf:
    robot: str | None
    joint_limits: dict[str, dict[str, float]]
    joint_types: dict[str, str] = field(default_factory=dict)  # revolute, prismatic…


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def parse_urdf(text: str) -> Urdf:
    """Robot name and per-joint <limit> attributes. Raises ValueError on malformed XML."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError(f"robot_description is not valid XML: {exc}") from exc
    limits: dict[str, dict[str, float]] = {}
    types: dict[str, str] = {}
    for joint in root.iter("joint"):
        name = joint.get("name")
        if name and joint.get("type"):
            types[name] = str(joint.get("type"))
        limit = joint.find("limit")
        if not name or limit is None:
            continue
        values = {
            key: parsed
            for key in ("lower", "upper", "effort", "velocity")
            if (parsed := _float(limit.get(key))) is not None
        }
        if values:
            limits[name] = values
    return Urdf(root.get("name") if root.tag == "robot" else None, limits, types)
