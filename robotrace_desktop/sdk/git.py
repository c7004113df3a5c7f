"""The git commit the code that logs an episode runs from (``git_sha`` when none is given).

``git rev-parse HEAD`` in the current working directory, with a short timeout; when git is not
installed, refuses the repository (``safe.directory``), hangs or fails oddly, the checkout's
``.git`` files are read directly (HEAD, loose refs, ``packed-refs``; ``.git`` files of
worktrees and submodules are followed). Outside a checkout, or on anything unexpected, the
answer is None — never an exception: a missing sha only earns a reproducibility warning.
"""

from __future__ import annotations

import logging
import re
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

GIT_TIMEOUT_S = 3.0
_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")  # sha1 or sha256 repositories


def infer_git_sha(cwd: Path | None = None) -> str | None:
    """HEAD of the git checkout containing ``cwd`` (default: the working directory), or None."""
    where = Path.cwd() if cwd is None else Path(cwd)
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", "HEAD"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:  # no git binary, timeout, bad cwd
        log.debug("git rev-parse failed in %s: %s", where, exc)
        return sha_from_files(where)
    sha = done.stdout.strip().lower()
    if done.returncode == 0 and _SHA.match(sha):
        return sha
    if "not a git repository" in done.stderr:
        return None
    return sha_from_files(where)  # e.g. "dubious ownership": the files still say it


def sha_from_files(start: Path) -> str | None:
    """HEAD's commit read from the ``.git`` folder above ``start``, without running git."""
    try:
        git_dir = _find_git_dir(start.resolve())
        if git_dir is None:
            return None
        return _resolve_head(git_dir)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        log.debug("cannot read the git checkout above %s: %s", start, exc)
        return None


def _find_git_dir(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        dot_git = folder / ".git"
        if dot_git.is_dir():
            return dot_git
        if dot_git.is_file():  # worktree / submodule: "gitdir: <path>"
            text = dot_git.read_text(encoding="utf-8").strip()
            if text.startswith("gitdir:"):
                target = Path(text.partition(":")[2].strip())
                return target if target.is_absolute() else (folder / target).resolve()
            return None
    return None


def _common_dir(git_dir: Path) -> Path:
    """Where refs live: a worktree's ``commondir`` points at the main repository."""
    common = git_dir / "commondir"
    if common.is_file():
        target = Path(common.read_text(encoding="utf-8").strip())
        return target if target.is_absolute() else (git_dir / target).resolve()
    return git_dir


def _resolve_head(git_dir: Path) -> str | None:
    head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    for _ in range(5):  # symbolic refs may chain; never loop forever
        if _SHA.match(head.lower()):
            return head.lower()
        if not head.startswith("ref:"):
            return None
        ref = head.partition(":")[2].strip()
        head_next = _read_ref(git_dir, ref)
        if head_next is None:
            return None  # an unborn branch (no commit yet)
        head = head_next
    return None


def _read_ref(git_dir: Path, ref: str) -> str | None:
    if ".." in Path(ref).parts:
        return None
    for base in (git_dir, _common_dir(git_dir)):
        loose = base / ref
        if loose.is_file():
            return loose.read_text(encoding="utf-8").strip()
    packed = _common_dir(git_dir) / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="utf-8").splitlines():
            if line.startswith(("#", "^")):
                continue
            sha, _, name = line.partition(" ")
            if name.strip() == ref:
                return sha.strip()
    return None
