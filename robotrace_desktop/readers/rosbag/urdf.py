"""Episode-level facts a bag carries besides its topics: the URDF on ``/robot_description``
(robot name, joint limits). rosbag2 ``custom_data`` (the reproducibility fields and the
outcome) is parsed by ``core/fields.py``, like every other recording's fields."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field


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
