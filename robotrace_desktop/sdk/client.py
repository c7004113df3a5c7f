"""``Client``: logs episodes into one library and one catalog, and exports them to sinks.

Several clients can live in one process, each with its own library, catalog and sinks
(``rt.Client(library=..., catalog=...)``); the module-level ``rt.log_episode`` uses a default
client (``rt.init``). A logged episode goes through four steps:

1. every argument and input file is checked — nothing is written before that passes;
2. the bundle is written into the library (``store``, with ``bundle.BundleWriter``: temp
   folder, then one rename);
3. it is indexed with the bundle reader and upserted into the catalog, marked scanned (so a
   later scan of the library sees it as unchanged) — if the catalog refuses, the bundle is
   removed again: no half-logged episode;
4. Explain runs on it (findings stored), then the sinks get it. These two only warn: a
   broken analyzer or sink never loses an episode (``Episode.warnings``, and the log).

Finally the deep link is printed when stdout is a terminal and ``ROBOTRACE_QUIET`` is not "1".
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from robotrace_desktop import paths
from robotrace_desktop.errors import RecordingError, RobotraceError, StorageError, ValidationError
from robotrace_desktop.sdk.episode import Episode
from robotrace_desktop.sdk.fields import (
    GENERATOR,
    EpisodeFields,
    Outcome,
    check_fields,
    check_outcome,
    missing_warning,
    reproducibility,
    seconds,
)
from robotrace_desktop.sdk.ids import new_episode_id

if TYPE_CHECKING:
    from robotrace_desktop.catalog.store import Catalog
    from robotrace_desktop.core.episode import EpisodeInfo, LogEvent
    from robotrace_desktop.core.finding import Finding
    from robotrace_desktop.sdk.inputs import Inputs
    from robotrace_desktop.sdk.recorder import Recorder
    from robotrace_desktop.sinks.base import Sink

log = logging.getLogger("robotrace_desktop.sdk")

QUIET_ENV = "ROBOTRACE_QUIET"


def trace_context() -> dict[str, str] | None:
    """The OpenTelemetry block for the active span, or None (never raises)."""
    try:
        from robotrace_desktop.core.otel import trace_context as otel_context
    except ImportError:
        return None
    try:
        return otel_context()
    except Exception:  # the helper promises not to raise; a broken install must not either
        log.debug("otel trace_context failed", exc_info=True)
        return None


class Client:
    """Logs episodes into ``library`` (default: ``paths.library_dir()``, i.e.
    ``$ROBOTRACE_HOME/library``) and indexes them into ``catalog`` (default: the app's catalog,
    so the desktop app shows them). ``sinks``: sink names ("wandb", "mlflow", "otel") or
    ``Sink`` objects; ``sink_options`` maps a sink name to its constructor options. ``None``
    for library/catalog means "the default at the time of each call" (ROBOTRACE_HOME read then).
    """

    def __init__(
        self,
        library: str | os.PathLike[str] | None = None,
        *,
        catalog: str | os.PathLike[str] | None = None,
        sinks: Sequence[str | Sink] = (),
        sink_options: Mapping[str, Mapping[str, Any]] | None = None,
        explain: bool = True,
    ) -> None:
        self._library = None if library is None else Path(library).expanduser().absolute()
        self._catalog = None if catalog is None else Path(catalog).expanduser().absolute()
        if isinstance(sinks, (str, bytes)) or not isinstance(sinks, Sequence):
            raise ValidationError("sinks must be a list of sink names or Sink objects")
        self._sink_specs = list(sinks)
        self._sink_options = {k: dict(v) for k, v in (sink_options or {}).items()}
        self._sinks: list[Sink] | None = None
        self._sink_warnings: list[str] = []
        self._lock = threading.Lock()
        self.explain = explain

    # ------------------------------------------------------------------ where

    @property
    def library(self) -> Path:
        return self._library if self._library is not None else paths.library_dir()

    @property
    def catalog(self) -> Path:
        return self._catalog if self._catalog is not None else paths.catalog_path()

    def __repr__(self) -> str:
        return f"Client(library={str(self.library)!r}, catalog={str(self.catalog)!r})"

    # ------------------------------------------------------------------ the API

    def log_episode(
        self,
        *,
        name: str | None = None,
        source: str | None = None,
        robot: str | None = None,
        policy_version: str | None = None,
        env_version: str | None = None,
        git_sha: str | None = None,
        seed: int | None = None,
        task: str | None = None,
        success: bool | None = None,
        video: Any = None,
        sensors: Any = None,
        actions: Any = None,
        duration_s: float | None = None,
        fps: float | None = None,
        metadata: Mapping[str, Any] | None = None,
        status: str = "ready",
        failure_time_s: float | None = None,
        start_time_ns: int | None = None,
        copy: bool = True,
    ) -> Episode:
        """Write one episode into the library, index it, explain it and export it.

        ``video``: a path, a list of paths (camera = file stem) or ``{camera: path}``.
        ``sensors`` / ``actions``: a path or list of paths to npz, parquet, feather or HDF5
        files with a time column, ``{stream: path}``, or ``{stream: {"t_ns": array, field:
        array}}``. ``copy=False`` references the files in place (symlinks) instead of copying
        or hard-linking them. ``status="failed"`` marks a crashed/aborted run
        (``metadata["failure_reason"]`` says why, ``failure_time_s`` when).

        Raises ConfigurationError (missing/unreadable inputs), ValidationError (bad values),
        StorageError (the library or catalog cannot be written); nothing is left on error.
        """
        fields = check_fields(
            name=name,
            source=source,
            robot=robot,
            policy_version=policy_version,
            env_version=env_version,
            git_sha=git_sha,
            seed=seed,
            task=task,
            success=success,
            start_time_ns=start_time_ns,
            metadata=metadata,
        )
        outcome = check_outcome(status, failure_time_s, duration_s)
        inputs = collect_inputs(video, sensors, actions, fps=check_fps(fps))
        return self.commit(fields, outcome, inputs, copy=check_copy(copy))

    def start_episode(
        self,
        *,
        name: str | None = None,
        source: str | None = None,
        robot: str | None = None,
        policy_version: str | None = None,
        env_version: str | None = None,
        git_sha: str | None = None,
        seed: int | None = None,
        task: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        fps: float | None = None,
        copy: bool = True,
        flush_rows: int = 10_000,
    ) -> Recorder:
        """A recorder for an episode in progress; see ``Recorder``. Use it as a context
        manager: a clean exit finalizes it as ready, an exception as failed."""
        from robotrace_desktop.sdk.recorder import Recorder

        fields = check_fields(
            name=name,
            source=source,
            robot=robot,
            policy_version=policy_version,
            env_version=env_version,
            git_sha=git_sha,
            seed=seed,
            task=task,
            metadata=metadata,
        )
        if fields.start_time_ns is None:
            fields.start_time_ns = time.time_ns()
        return Recorder(
            self, fields, fps=check_fps(fps), copy=check_copy(copy), flush_rows=flush_rows
        )

    # ------------------------------------------------------------------ writing

    def commit(
        self,
        fields: EpisodeFields,
        outcome: Outcome,
        inputs: Inputs,
        *,
        copy: bool = True,
        events: Sequence[LogEvent] = (),
        episode_id: str | None = None,
    ) -> Episode:
        """Write validated fields + inputs as a bundle and publish it (index, Explain, sinks,
        link). Used by ``log_episode`` and ``Recorder.finalize``."""
        from robotrace_desktop.bundle.libraries import register_library
        from robotrace_desktop.bundle.manifest import BundleManifest
        from robotrace_desktop.bundle.writer import storage_error
        from robotrace_desktop.sdk.git import infer_git_sha
        from robotrace_desktop.sdk.store import clean_stale_temp, write_bundle

        warnings = list(inputs.warnings)
        inferred: list[str] = []
        if fields.git_sha is None:
            sha = infer_git_sha()
            if sha is not None:
                fields = replace(fields, git_sha=sha)
                inferred.append("git_sha")
        metadata = dict(fields.metadata)
        metadata["generator"] = GENERATOR
        if outcome.failure_time_ns is not None:
            metadata["failure_time_ns"] = outcome.failure_time_ns
        repro = reproducibility(fields, inferred)
        if repro is not None:
            metadata["reproducibility"] = repro
            if repro["missing"]:
                warnings.append(missing_warning(repro["missing"]))
        otel = trace_context()
        if otel:
            metadata["otel"] = otel
        start = fields.start_time_ns or inputs.start_time_ns or time.time_ns()
        manifest = BundleManifest(
            name=fields.name or default_name(fields.source, start),
            id=episode_id or new_episode_id(),
            source=fields.source,
            robot=fields.robot,
            policy_version=fields.policy_version,
            env_version=fields.env_version,
            git_sha=fields.git_sha,
            seed=fields.seed,
            task=fields.task,
            success=fields.success,
            status=outcome.status,
            start_time_ns=start,
            duration_ns=outcome.duration_ns,
            metadata=metadata,
        )
        library = self.library
        try:
            if not copy:  # the reader follows references only inside a registered library
                register_library(library)
        except OSError as exc:
            raise storage_error(exc, paths.home(), "cannot register the library") from exc
        clean_stale_temp(library)
        folder = write_bundle(library, manifest, inputs, copy=copy, events=events)
        return self._publish(folder, warnings)

    def _publish(self, folder: Path, warnings: list[str]) -> Episode:
        from robotrace_desktop.core.links import EpisodeLink

        info = self._index(folder)
        warnings += [f"problem: {p}" for p in info.problems]
        for text in warnings:  # expected, per-episode notes: not worth a line on stderr each
            log.info("episode %s: %s", info.id, text)
        findings = self._explain(info, warnings)
        self._export(info, findings, warnings)  # sinks log their own failures
        url = EpisodeLink(info.id).url()
        print_link(info.name, url)
        return Episode(
            id=info.id,
            url=url,
            path=Path(info.path),
            name=info.name,
            status=info.status.value,
            info=info,
            findings=findings,
            warnings=warnings,
        )

    def _index(self, folder: Path) -> EpisodeInfo:
        """Index the bundle as a scan would (``index_recording``, with its fingerprint); if it
        cannot be read back or stored, the bundle is removed (all or nothing)."""
        from robotrace_desktop.bundle.writer import remove_bundle, storage_error
        from robotrace_desktop.catalog.storage_errors import CatalogSQLiteError
        from robotrace_desktop.catalog.store import Catalog
        from robotrace_desktop.library.indexing import Recording, index_recording
        from robotrace_desktop.readers.bundle.reader import BundleReader

        folder = folder.resolve()
        catalog_path = self.catalog
        try:
            with Catalog(catalog_path) as catalog:
                recording = Recording(folder, BundleReader())
                info = index_recording(catalog, recording, force=True, strict=True).episodes[0]
                _remember(catalog, folder)
        except RecordingError as exc:
            remove_bundle(folder)
            raise StorageError(f"{folder}: the written episode cannot be read back: {exc}") from exc
        except StorageError:
            remove_bundle(folder)
            raise
        except CatalogSQLiteError as exc:
            remove_bundle(folder)
            raise StorageError(f"{catalog_path}: cannot record the episode ({exc})") from exc
        except OSError as exc:
            remove_bundle(folder)
            raise storage_error(exc, catalog_path, "cannot record the episode") from exc
        return info

    def _explain(self, info: EpisodeInfo, warnings: list[str]) -> list[Finding]:
        if not self.explain:
            return []
        try:
            from robotrace_desktop.library.explain_runner import explain_many

            run = explain_many(self.catalog, [info.id], workers=1)
        except Exception as exc:  # the episode is stored; Explain failing must not undo it
            log.warning("explain failed on episode %s", info.id, exc_info=True)
            warnings.append(f"explain: {type(exc).__name__}: {exc}")
            return []
        if info.id in run.errors:  # explain_many logged it
            warnings.append(f"explain: {run.errors[info.id]}")
        return list(run.explained.get(info.id, []))

    # ------------------------------------------------------------------ sinks

    def sinks(self) -> tuple[list[Sink], list[str]]:
        """The sinks (made on first use) and warnings for the ones that could not be made."""
        with self._lock:
            if self._sinks is None:
                from robotrace_desktop.sinks.base import Sink, make_sinks_safely

                names = [s for s in self._sink_specs if isinstance(s, str)]
                made, self._sink_warnings = make_sinks_safely(names, **self._sink_options)
                objects = [s for s in self._sink_specs if isinstance(s, Sink)]
                bad = [s for s in self._sink_specs if not isinstance(s, (str, Sink))]
                self._sink_warnings += [
                    f"{type(s).__name__}: not a Sink or a sink name; ignored" for s in bad
                ]
                self._sinks = [*made, *objects]
            return list(self._sinks), list(self._sink_warnings)

    def _export(self, info: EpisodeInfo, findings: list[Finding], warnings: list[str]) -> None:
        from robotrace_desktop.sinks.base import call_safely

        try:
            sinks, unavailable = self.sinks()
        except Exception as exc:  # fail-soft, whatever the sink plumbing does
            warnings.append(f"sinks: {type(exc).__name__}: {exc}")
            return
        warnings += [f"sink not exported: {w}" for w in unavailable]
        warnings += [
            f"sink failed: {w}"
            for w in call_safely(sinks, lambda sink: sink.export_episode(info, findings))
        ]

    def close(self) -> list[str]:
        """Flush and release the sinks; returns their warnings (never raises)."""
        from robotrace_desktop.sinks.base import call_safely

        with self._lock:
            sinks, self._sinks = self._sinks or [], None
        return call_safely(sinks, lambda sink: sink.close())

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- helpers


def collect_inputs(video: Any, sensors: Any, actions: Any, *, fps: float | None) -> Inputs:
    """Every data argument checked and described (nothing written)."""
    from robotrace_desktop.sdk.inputs import (
        Inputs,
        apply_epoch_shift,
        check_unique_names,
        signal_inputs,
    )
    from robotrace_desktop.sdk.video_input import video_inputs

    videos, warnings = video_inputs(video, fps)
    signals = signal_inputs(sensors, "sensor", "sensors") + signal_inputs(
        actions, "action", "actions"
    )
    inputs = Inputs(videos=videos, signals=signals, warnings=warnings)
    check_unique_names(inputs)
    apply_epoch_shift(inputs)
    return inputs


def check_fps(fps: object) -> float | None:
    return seconds(fps, "fps", positive=True)


def check_copy(copy: object) -> bool:
    if not isinstance(copy, bool):
        raise ValidationError(f"copy must be True or False, got {copy!r}")
    return copy


def default_name(source: str | None, start_time_ns: int) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(start_time_ns / 1e9))
    return f"{source} episode {stamp}" if source else f"episode {stamp}"


def print_link(name: str, url: str) -> None:
    """The deep link on stdout, for a person at a terminal only."""
    if os.environ.get(QUIET_ENV) == "1":
        return
    stream = sys.stdout
    try:
        interactive = stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed stdout
        interactive = False
    if interactive:
        print(f"RoboTrace: {name} → {url}", file=stream, flush=True)


def _remember(catalog: Catalog, folder: Path) -> None:
    """Note the bundle in the catalog's journal so `catalog rebuild` finds it again; the
    episode is already saved, so a failure here is only logged."""
    from robotrace_desktop.catalog.user_data import note_recordings

    try:
        note_recordings(catalog, [str(folder)])
    except RobotraceError as exc:
        logging.getLogger(__name__).warning("could not journal %s: %s", folder, exc)
