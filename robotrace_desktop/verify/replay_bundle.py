"""Saving a re-roll as an episode: a native bundle in the catalog's library, never next to the
user's recording.

The replay keeps the recorded episode's stream names and channel names: the candidate's actions
under the recorded action stream's name (role ``action``), the observations the policy saw
under theirs (role ``sensor``), plus ``reroll/error`` (channels ``l2`` and ``error_z``, one
sample per step). Opened side by side with its baseline, the recorded and candidate actions
overlay channel by channel on one timeline. Its manifest links it to the baseline
(``metadata.replay_of``) and carries the re-roll summary.

All streams go into one npz (see ``_entries``; a replay is as long as its episode, small enough
that npz's whole-file reads cost nothing); the manifest is written last, inside a
``bundle.BundleWriter``, so a reader never sees half a replay and an earlier replay of the same
pair is replaced whole.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np

from robotrace_desktop.bundle.manifest import BundleManifest, SignalEntry
from robotrace_desktop.bundle.tables import SignalData, write_npz
from robotrace_desktop.bundle.writer import BundleWriter, check_replaceable
from robotrace_desktop.core.episode import EpisodeInfo
from robotrace_desktop.core.jsonsafe import to_jsonable
from robotrace_desktop.verify.reroll import Reroll, StreamValues

ERROR_STREAM = "reroll/error"
ERROR_CHANNELS = ("l2", "error_z")
_VALUES_COLUMN = "values"
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
_MAX_NAME = 80


def safe_folder_name(text: str) -> str:
    """A folder name for ``text`` (a candidate name): letters, digits and ``._+-`` only, no
    leading dot (so never ``.``/``..`` or hidden), at most ~90 characters. When anything had to
    change, a short hash of the original keeps different names apart ("a/b" vs "a_b")."""
    cleaned = _UNSAFE.sub("_", text.strip()).strip("._") or "policy"
    cleaned = cleaned[:_MAX_NAME]
    if cleaned != text:
        digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:8]
        cleaned = f"{cleaned}-{digest}"
    return cleaned


def replay_id(baseline_id: str, candidate_name: str) -> str:
    """The replay's stable episode id: the same baseline re-rolled by the same candidate is the
    same catalog episode (a re-run replaces it)."""
    key = f"replay\0{baseline_id}\0{candidate_name}"
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _entries(reroll: Reroll, bundle: BundleWriter) -> list[SignalEntry]:
    """Every stream into one npz at the bundle's root (a stored zip of .npy arrays: the
    cheapest file to write and, from its headers, to index; no sub-folder, since every folder
    costs an rmdir when the replay is replaced); channel names go in the manifest. Streams
    whose npz member prefix would clash ("/a" and "a" are both stored as "a/…") go to a second
    file."""
    t_ns = np.asarray(reroll.t_ns, dtype=np.int64)
    streams: list[tuple[StreamValues, str | None]] = [
        (s, "action") for s in reroll.actions.values()
    ]
    streams += [(s, "sensor") for s in reroll.observations.values()]
    series = np.column_stack([reroll.l2, reroll.error_z])
    streams.append((StreamValues(ERROR_STREAM, ERROR_CHANNELS, series), None))
    files: list[dict[str, SignalData]] = []
    entries: list[SignalEntry] = []
    for stream, role in streams:
        member = stream.name.lstrip("/")
        number = next((i for i, f in enumerate(files) if member not in f), len(files))
        if number == len(files):
            files.append({})
        values = np.asarray(stream.values, dtype=np.float64).reshape(len(t_ns), -1)
        files[number][member] = SignalData(t_ns, {_VALUES_COLUMN: values})
        rel = "replay.npz" if number == 0 else f"replay_{number}.npz"
        entries.append(SignalEntry(stream.name, rel, "npz", role=role, channels=stream.channels))
    for number, content in enumerate(files):
        rel = "replay.npz" if number == 0 else f"replay_{number}.npz"
        write_npz(bundle.path(rel), content)
    return entries


def write_replay(
    reroll: Reroll,
    baseline: EpisodeInfo,
    folder: Path,
    *,
    candidate_name: str,
    policy_spec: str,
    git_sha: str | None = None,
) -> EpisodeInfo:
    """Write the re-roll as a bundle into ``folder`` (replacing an earlier replay there), index
    it and return its EpisodeInfo (with streams). Raises StorageError when it cannot be
    written, ConfigurationError when ``folder`` holds something that is not a bundle."""
    folder = Path(folder)
    check_replaceable(folder)
    result = reroll.result
    t_ns = np.asarray(reroll.t_ns, dtype=np.int64)
    last = int(t_ns[-1]) if len(t_ns) else 0
    metadata = {
        "replay_of": baseline.id,
        "baseline_name": baseline.name,
        "baseline_path": baseline.path,
        "baseline_episode_index": baseline.episode_index,
        "policy": policy_spec,
        # the summary names the candidate as the replay's policy_version does
        "reroll": to_jsonable({**result.to_dict(), "policy": candidate_name}),
    }
    if reroll.problems:
        metadata["reroll_problems"] = list(reroll.problems)
    with BundleWriter(folder, what="replay", replace=True) as bundle:
        manifest = BundleManifest(
            name=f"{baseline.name} ↺ {candidate_name}",
            id=replay_id(baseline.id, candidate_name),
            source="replay",
            robot=baseline.robot,
            policy_version=candidate_name,
            env_version=baseline.env_version,
            git_sha=git_sha,
            seed=baseline.seed,
            task=baseline.task,
            success=None,
            status="ready",
            start_time_ns=baseline.start_time_ns,
            duration_ns=max(int(baseline.duration_ns), last),
            metadata=metadata,
            signals=_entries(reroll, bundle),
        )
        bundle.write_manifest(manifest)
    from robotrace_desktop.readers.bundle.source import index_bundle

    return next(index_bundle(folder))
