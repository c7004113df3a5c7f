"""``BundleWriter``: the one way RoboTrace writes a bundle folder — all of it, or nothing.

Every writer (``log_episode`` and recorders, ``import``, verify's replays, the demo) builds its
bundle inside a ``BundleWriter``::

    with BundleWriter(folder, what="replay", replace=True) as bundle:
        write_npz(bundle.path("replay.npz"), streams)
        bundle.write_manifest(manifest)

The bundle is assembled in a hidden temporary folder (``stale.temp_name``) beside ``folder`` —
or in ``staging``, a folder on the same file system the scanner never descends into — and,
once the block ends cleanly with a manifest written, renamed into place; so nobody ever reads
half a bundle. With ``replace=True`` an earlier bundle at ``folder`` is moved aside first and
put back if the new one cannot take its place; a folder that is not a bundle is never replaced.
On any failure — an OSError, a ValidationError, a KeyboardInterrupt — the temporary folder is
removed; OSErrors become a ``StorageError`` naming the file and a plain reason (disk full,
permission denied…). A ``kill -9`` leaves at most the temporary folder, which the next writer
in that folder removes (``stale.clean_stale_leftovers``).
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
from pathlib import Path
from types import TracebackType

from robotrace_desktop.bundle.confine import check_relative_path
from robotrace_desktop.bundle.manifest import MANIFEST_NAME, BundleManifest, write_manifest
from robotrace_desktop.bundle.stale import clean_stale_leftovers, temp_name
from robotrace_desktop.errors import ConfigurationError, StorageError

#: how a file gets into a bundle: "copy" (a hard link when the file system allows, else a
#: copy), "reference" (a symlink to the file, in place) or "move" (a file the writer owns)
PLACE_MODES = ("copy", "reference", "move")
#: os.link failures that mean "cannot link here" (another file system, links not allowed)
_NO_LINK = {
    errno.EXDEV,
    errno.EPERM,
    errno.EACCES,
    errno.EMLINK,
    errno.ENOTSUP,
    errno.EOPNOTSUPP,
    errno.ENOSYS,
}
_STORAGE_REASONS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
}


def storage_error(
    exc: OSError, where: Path, what: str = "cannot write the episode"
) -> StorageError:
    """An OSError as a StorageError naming the file (or ``where``) and a plain reason:
    ``"<file>: cannot write the bundle: disk full (No space left on device)"``."""
    detail = exc.strerror or str(exc)
    reason = _STORAGE_REASONS.get(exc.errno or 0, detail)
    if reason != detail and reason != detail.lower():
        reason = f"{reason} ({detail})"
    return StorageError(f"{exc.filename or where}: {what}: {reason}")


def check_replaceable(folder: Path) -> None:
    """Refuse (ConfigurationError) a ``folder`` that exists and is not a bundle: a writer
    replaces earlier bundles, never a user's folder that happens to have the name."""
    if not os.path.lexists(folder) or (folder / MANIFEST_NAME).is_file():
        return
    if not folder.is_dir() or folder.is_symlink() or any(folder.iterdir()):
        raise ConfigurationError(f"{folder}: exists and is not an episode bundle; not replacing")


def remove_bundle(folder: Path) -> None:
    """Undo a written bundle (the catalog refused it): remove the folder, never the files its
    symlinks point to."""
    shutil.rmtree(folder, ignore_errors=True)


def place(src: Path, dst: Path, mode: str) -> str:
    """Put the file ``src`` at ``dst`` by ``mode`` (one of ``PLACE_MODES``). Returns what was
    done: "hardlink", "copy", "symlink" or "move". The source is never modified."""
    if mode not in PLACE_MODES:
        raise ValueError(f"mode must be one of {PLACE_MODES}, got {mode!r}")
    dst.parent.mkdir(parents=True, exist_ok=True)
    if mode == "move":
        os.replace(src, dst)
        return "move"
    if mode == "reference":
        os.symlink(src.resolve(), dst)
        return "symlink"
    try:
        os.link(src, dst)
        return "hardlink"
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
    shutil.copy2(src, dst)
    return "copy"


class BundleWriter:
    """A bundle under construction; see the module docstring. ``what`` names the bundle in
    error messages ("cannot write the <what>"); ``replace`` allows replacing an earlier bundle
    at ``folder`` (otherwise an existing ``folder`` is a StorageError); ``staging`` is where
    the temporary folder goes (default: beside ``folder``; must be on its file system)."""

    def __init__(
        self,
        folder: Path,
        *,
        what: str = "bundle",
        replace: bool = False,
        staging: Path | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.what = what
        self.replace = replace
        self.staging = Path(staging) if staging is not None else self.folder.parent
        thread = threading.get_ident()
        self.root = self.staging / temp_name(self.folder.name, "tmp", thread)
        self._old = self.folder.parent / temp_name(self.folder.name, "old", thread)
        self._manifest: BundleManifest | None = None

    # ------------------------------------------------------------------ building

    def __enter__(self) -> BundleWriter:
        if self.replace:
            check_replaceable(self.folder)
        try:
            for parent in dict.fromkeys((self.staging, self.folder.parent)):
                parent.mkdir(parents=True, exist_ok=True)
                clean_stale_leftovers(parent)  # left by a killed writer
            self._refuse_existing()
            shutil.rmtree(self.root, ignore_errors=True)  # this thread's own, from a crash
            if os.path.lexists(self.folder):
                _remove(self._old)
            self.root.mkdir()
        except OSError as exc:
            shutil.rmtree(self.root, ignore_errors=True)
            raise self._storage_error(exc) from exc
        return self

    def path(self, rel: str) -> Path:
        """The temporary location of the bundle file ``rel`` (a manifest path: relative,
        '/', no '..'), its folder created."""
        target = self.root / check_relative_path(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def add_file(self, src: Path, rel: str, mode: str = "copy") -> str:
        """Put the user's file ``src`` into the bundle as ``rel`` (see ``place``)."""
        return place(src, self.path(rel), mode)

    def write_manifest(self, manifest: BundleManifest) -> None:
        """Validate and write the manifest (ManifestError when it breaks the schema). The
        bundle is complete once this is done; it is moved into place when the block ends."""
        write_manifest(self.root, manifest)
        self._manifest = manifest

    # ------------------------------------------------------------------ finishing

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc is None:
                self._commit()
        except OSError as error:
            raise self._storage_error(error) from error
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
        if isinstance(exc, OSError):
            raise self._storage_error(exc) from exc

    def _commit(self) -> None:
        if self._manifest is None:
            raise RuntimeError(f"{self.folder}: the {self.what} was finished without a manifest")
        self._refuse_existing()
        moved = False
        try:
            if os.path.lexists(self.folder):
                os.replace(self.folder, self._old)
                moved = True
            os.replace(self.root, self.folder)
        except OSError:
            if moved and not os.path.lexists(self.folder):
                os.replace(self._old, self.folder)  # put the earlier bundle back
            raise
        if moved:
            _remove(self._old)

    def _refuse_existing(self) -> None:
        if not self.replace and os.path.lexists(self.folder):
            raise FileExistsError(errno.EEXIST, "already exists", str(self.folder))

    def _storage_error(self, exc: OSError) -> StorageError:
        return storage_error(exc, self.folder, f"cannot write the {self.what}")


def _remove(path: Path) -> None:
    """Remove a moved-aside bundle: a folder, or a symlink to one (never what it points to)."""
    if path.is_symlink():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)
