"""Which channels to show first, and which commanded/measured channels belong together.

Decided from names and message types only (never from the data, which may be gigabytes away):
what a robotics engineer looks at first is joint positions, efforts/torques and the policy's
actions; velocities and transforms are one click away in the stream tree. Commanded and
measured channels are matched by joint name (LeRobot ``action/kLeftElbow`` ↔
``observation.state/kLeftElbow``; ``/action joint_position/joint_3`` ↔ ``/joint_states
position/joint_3``; JointTrajectory ``position/<joint>`` ↔ JointState ``position/<joint>``) or,
for index-only commands (``std_msgs/Float64MultiArray`` ``data[i]``), by the joint order of the
JointState stream whose field the command topic names (``/effort_controller/commands`` →
``effort``) when the counts agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from robotrace_desktop.core.episode import EpisodeInfo, StreamInfo, StreamKind

ChannelRef = tuple[str, str]  # (stream name, channel name)

MAX_PER_GROUP = 14  # channels per (stream, field) group: a bimanual 7-DOF robot
MAX_CHANNELS = 48
MIN_SAMPLES = 10  # fewer messages than this: an event, not a signal worth a default plot
_TIME_WORDS = frozenset({"time", "timestamp", "stamp", "sec", "nanosec", "secs", "nsecs"})

_COMMAND_WORDS = frozenset(
    {
        "action",
        "actions",
        "command",
        "commands",
        "cmd",
        "target",
        "targets",
        "setpoint",
        "setpoints",
        "goal",
        "desired",
        "reference",
        "ref",
    }
)
_STATE_WORDS = frozenset(
    {
        "state",
        "states",
        "qpos",
        "qvel",
        "qeff",
        "measured",
        "feedback",
        "observation",
        "observations",
        "pose",
        "odom",
        "odometry",
        "effort",
        "efforts",
        "torque",
        "torques",
        "position",
        "positions",
    }
)
_NOISE_WORDS = frozenset(
    {
        "tf",
        "tf_static",
        "parameter_events",
        "rosout",
        "transition_event",
        "clock",
        "diagnostics",
        "write_split",
        "robot_description",
    }
)
_FIELD_WORDS = {
    "position": ("position", "positions", "pos", "qpos"),
    "effort": ("effort", "efforts", "torque", "torques", "tau", "qeff", "force"),
    "velocity": ("velocity", "velocities", "vel", "qvel"),
}
_INDEXED = re.compile(r"^(?P<field>[A-Za-z_]\w*)\[(?P<index>\d+)\]$")


def split_channel(channel: str) -> tuple[str | None, str]:
    """("position", "joint_3") for "position/joint_3"; (None, "kLeftElbow") without a family."""
    if "/" in channel:
        family, joint = channel.split("/", 1)
        return family, joint
    return None, channel


def _tokens(text: str) -> set[str]:
    return {t for t in re.split(r"[^A-Za-z0-9]+", text.lower()) if t}


def _field_of(text: str | None) -> str | None:
    """ "position" / "effort" / "velocity" named by a family or stream name, or None."""
    if not text:
        return None
    tokens = _tokens(text)
    for field, words in _FIELD_WORDS.items():
        if tokens & set(words):
            return field
    return None


def plot_group(ref: ChannelRef) -> str:
    """The plot a channel goes to: its stream plus its field family ("/joint_states effort")."""
    stream, channel = ref
    family, _ = split_channel(channel)
    return f"{stream} {family}" if family else stream


def stream_role(stream: StreamInfo) -> str:
    """ "command", "state", "noise" or "other" — from the name, type and declared role."""
    role = str(stream.details.get("role", "")).lower()
    if role in ("action", "command"):
        return "command"
    if role in ("sensor", "state"):
        return "state"
    msgtype = stream.message_type or ""
    tokens = _tokens(stream.name)
    segments = {seg for seg in stream.name.lower().strip("/").split("/") if seg}
    if segments & _NOISE_WORDS:
        return "noise"
    if msgtype.endswith("JointTrajectory") or tokens & _COMMAND_WORDS:
        return "command"
    if msgtype.endswith("JointState") or tokens & _STATE_WORDS:
        return "state"
    return "other"


def _signal_streams(info: EpisodeInfo) -> list[StreamInfo]:
    return [s for s in info.streams_of(StreamKind.SIGNAL) if s.count > 0 and s.channels]


def _groups(stream: StreamInfo) -> dict[str | None, list[str]]:
    groups: dict[str | None, list[str]] = {}
    for channel in stream.channels:
        groups.setdefault(split_channel(channel)[0], []).append(channel)
    return groups


def _priority(stream: StreamInfo, role: str, family: str | None) -> int | None:
    """Lower shows first; None: not shown by default."""
    field = _field_of(family) or (None if family else _field_of(stream.name.split("/")[-1]))
    if role == "command":
        return 2
    if role == "state":
        if field == "velocity":
            return None
        if family is not None and field is None:
            return None  # e.g. JointState-like extras; pick them in the tree
        return {"position": 0, "effort": 1}.get(field or "", 0)
    return 3 if role == "other" else None


def _is_timestamp(channel: str) -> bool:
    """An epoch time field ("time", "header.stamp.sec"): plotted, it flattens every other
    channel of its plot to a line at zero."""
    last = [t for t in re.split(r"[^A-Za-z0-9_]+", channel.lower()) if t]
    return bool(last) and last[-1] in _TIME_WORDS


def default_selection(info: EpisodeInfo) -> list[ChannelRef]:
    """Joint positions, efforts/torques, actions and battery voltage/current first; other
    signals only when none exist. Streams of a handful of messages (a one-off odometry
    reset) and timestamp fields are left to the stream tree."""
    candidates: list[tuple[int, int, list[ChannelRef]]] = []
    order = 0
    streams = _signal_streams(info)
    if any(s.count >= MIN_SAMPLES for s in streams):
        streams = [s for s in streams if s.count >= MIN_SAMPLES]
    for stream in streams:
        role = stream_role(stream)
        if (stream.message_type or "").replace("/msg/", "/") == "sensor_msgs/BatteryState":
            power = [(stream.name, c) for c in stream.channels if c in ("voltage", "current")]
            candidates.append((2, order, power))
            order += 1
            continue
        for family, channels in _groups(stream).items():
            priority = _priority(stream, role, family)
            if priority is None:
                continue
            kept = [c for c in channels if not _is_timestamp(c)]
            if not kept:
                continue
            refs = [(stream.name, c) for c in kept[:MAX_PER_GROUP]]
            candidates.append((priority, order, refs))
            order += 1
    if any(p < 3 for p, _, _ in candidates):
        candidates = [c for c in candidates if c[0] < 3]
    else:
        candidates = candidates[:4]  # nothing joint-like: the first few other signals
    selection: list[ChannelRef] = []
    for _, _, refs in sorted(candidates, key=lambda c: (c[0], c[1])):
        room = MAX_CHANNELS - len(selection)
        if room <= 0:
            break
        selection.extend(refs[:room])
    return selection


def overlay_pairs(info: EpisodeInfo) -> list[tuple[ChannelRef, ChannelRef]]:
    """(commanded, measured) channel pairs, matched by joint name (see module doc)."""
    streams = _signal_streams(info)
    states = [s for s in streams if stream_role(s) == "state"]
    commands = [s for s in streams if stream_role(s) == "command"]
    pairs: list[tuple[ChannelRef, ChannelRef]] = []
    taken: set[ChannelRef] = set()
    for command in commands:
        for channel in command.channels:
            measured = _measured_for(command, channel, states)
            if measured is not None and measured not in taken:
                taken.add(measured)
                pairs.append(((command.name, channel), measured))
    return pairs


def _measured_for(
    command: StreamInfo, channel: str, states: Iterable[StreamInfo]
) -> ChannelRef | None:
    family, joint = split_channel(channel)
    indexed = _INDEXED.match(channel) if family is None else None
    if indexed:  # Float64MultiArray data[i]: joint order of the JointState field the topic names
        command_field = _field_of(command.name) or "position"
        index = int(indexed.group("index"))
        width = len(command.channels)
        for state in states:
            joints = [c for c in state.channels if split_channel(c)[0] == command_field]
            if len(joints) == width and _INDEXED.match(joints[0]) is None:
                return state.name, joints[index]
        return None
    if family is not None:
        field = _field_of(family)
        if field is None:
            return None
        for state in states:
            wanted = f"{field}/{joint}"
            if wanted in state.channels:
                return state.name, wanted
        return None
    # No family (LeRobot, HDF5): the same name in a state stream, positions first.
    ranked = sorted(states, key=lambda s: _rank_unprefixed(s.name))
    for state in ranked:
        if channel in state.channels:
            return state.name, channel
    return None


def _rank_unprefixed(stream_name: str) -> int:
    field = _field_of(stream_name.split("/")[-1])
    return {"position": 0, "effort": 2, "velocity": 3}.get(field or "", 1)
