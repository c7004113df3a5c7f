"""Loading the candidate policy a verify run re-rolls: ``module:attr`` or ``path/file.py:attr``.

Code is loaded only from the spec the user gave (``--policy``), never discovered: a module
imported by name (with the current directory on ``sys.path``, as ``python -m`` and uvicorn do), or
one file loaded under a private module name (with its folder on ``sys.path`` so it can import its
siblings, as ``python file.py`` would). While the module is imported that folder is searched
first; afterwards it is moved to the end of ``sys.path``, so the user's lazy imports still work
but a stray ``json.py`` there can never shadow an installed module imported later.

What ``attr`` may be (after following dots: ``pkg.mod:Agent.make`` works too):

- a class: instantiated once with no arguments;
- a function taking NO positional parameter: a factory, called once with no arguments;
- a function that can take ONE positional parameter (``def act(obs)``, also ``def act(obs,
  noise=0.1)``): the policy itself, called once per step;
- any other object (an instance already built, a ``functools.partial``): used as the instance.

So the number of positional parameters tells a policy function (one: the observation) from a
factory (none). An instance must have ``act(obs)`` or ``__call__(obs)`` (``act`` wins); its
optional ``reset()`` runs before every episode. Every failure is a ConfigurationError naming the
spec (and the file) and the reason, including an exception raised inside the user's module.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import inspect
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from robotrace_desktop.errors import ConfigurationError

_cache: dict[tuple[str, int | None], Policy] = {}
_cache_lock = threading.Lock()
_import_lock = threading.Lock()


class Policy:
    """A loaded candidate policy: ``start_episode()`` before each episode, ``act(obs)`` per step."""

    def __init__(
        self,
        spec: str,
        name: str,
        act: Callable[[Any], Any],
        reset: Callable[[], Any] | None = None,
        instance: Any = None,
    ) -> None:
        self.spec = spec
        self.name = name
        self.instance = instance  # the object built from a class/factory (None for a function)
        self._reset = reset
        # the per-step call, bound once: reroll calls it hundreds of thousands of times
        self.act: Callable[[Any], Any] = act

    def start_episode(self) -> None:
        """Call the instance's ``reset()`` (if it has one) so every episode starts fresh."""
        if self._reset is not None:
            self._reset()

    def __repr__(self) -> str:
        return f"Policy({self.spec!r}, name={self.name!r})"


def load_policy(spec: str) -> Policy:
    """A new Policy from ``module:attr`` or ``path/to/file.py:attr`` (see the module doc)."""
    if not isinstance(spec, str) or ":" not in spec.strip():
        raise ConfigurationError(
            f"policy {spec!r}: expected 'module:attr' or 'path/to/file.py:attr' (no ':' found)"
        )
    text = spec.strip()
    location, _, attr_path = text.rpartition(":")
    location, attr_path = location.strip(), attr_path.strip()
    if not location or not attr_path:
        raise ConfigurationError(
            f"policy {spec!r}: expected 'module:attr' or 'path/to/file.py:attr'"
        )
    if _is_file_spec(location):
        module, where = _load_file(spec, location)
    else:
        module, where = _load_module(spec, location)
    target: Any = module
    for part in attr_path.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigurationError(
                f"policy {spec!r}: {where} has no attribute {attr_path!r}"
            ) from None
    return _build(spec, where, attr_path, target)


def cached_policy(spec: str) -> Policy:
    """One Policy per spec per process: a worker reuses it across the episodes of a run (the
    model is loaded once; ``start_episode`` resets it between episodes). A file spec is loaded
    again when the file changed since (the desktop app runs many verifies in one process)."""
    key = (spec, _file_stamp(spec))
    with _cache_lock:
        policy = _cache.get(key)
        if policy is None:
            for old in [k for k in _cache if k[0] == spec]:
                del _cache[old]
            policy = _cache[key] = load_policy(spec)
        return policy


def clear_policy_cache() -> None:
    with _cache_lock:
        _cache.clear()


# ---------------------------------------------------------------- loading


def _file_stamp(spec: str) -> int | None:
    location = spec.strip().rpartition(":")[0].strip()
    if not location or not _is_file_spec(location):
        return None
    try:
        return Path(location).expanduser().stat().st_mtime_ns
    except OSError:
        return None


def _is_file_spec(location: str) -> bool:
    return location.endswith(".py") or "/" in location or os.sep in location


def _load_file(spec: str, location: str) -> tuple[Any, str]:
    path = Path(location).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    path = path.resolve()
    if not path.is_file():
        raise ConfigurationError(f"policy {spec!r}: file {path} not found")
    digest = hashlib.sha256(str(path).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    name = f"_robotrace_policy_{digest}"
    with _import_lock:  # executed afresh every time: an edited file is picked up
        import_spec = importlib.util.spec_from_file_location(
            name, path, loader=_FreshSourceLoader(name, str(path))
        )
        if import_spec is None or import_spec.loader is None:
            raise ConfigurationError(f"policy {spec!r}: {path} cannot be loaded as Python")
        module = importlib.util.module_from_spec(import_spec)
        sys.modules[name] = module  # dataclasses and pickling look the module up by name
        try:
            with _SearchFirst(path.parent):
                import_spec.loader.exec_module(module)
        except (Exception, SystemExit) as exc:
            sys.modules.pop(name, None)
            raise ConfigurationError(
                f"policy {spec!r}: importing {path} failed: {_describe(exc)}"
            ) from exc
    return module, str(path)


class _FreshSourceLoader(importlib.machinery.SourceFileLoader):
    """Compiles the file's source every time, never through ``__pycache__``: a cached
    bytecode file is trusted when the source's mtime (in whole seconds) and size match, so an
    edit that keeps the size within the same second ("v2" -> "v3") ran the old policy."""

    def get_code(self, fullname: str) -> Any:
        return self.source_to_code(self.get_data(self.path), self.path)


def _load_module(spec: str, location: str) -> tuple[Any, str]:
    with _import_lock:
        try:
            with _SearchFirst(Path.cwd()):
                module = importlib.import_module(location)
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            if missing and (location == missing or location.startswith(missing + ".")):
                raise ConfigurationError(
                    f"policy {spec!r}: no module named {location!r} (looked in {Path.cwd()} "
                    "and the installed packages; for a file give path/to/file.py:attr)"
                ) from exc
            raise ConfigurationError(
                f"policy {spec!r}: importing module {location!r} failed: {_describe(exc)}"
            ) from exc
        except (Exception, SystemExit) as exc:
            raise ConfigurationError(
                f"policy {spec!r}: importing module {location!r} failed: {_describe(exc)}"
            ) from exc
    where = f"module {location!r}"
    file = getattr(module, "__file__", None)
    return module, f"{where} ({file})" if file else where


class _SearchFirst:
    """Put ``folder`` first on sys.path for an import, then move it to the end (see module
    doc); a folder already on sys.path stays where it was."""

    def __init__(self, folder: Path) -> None:
        self.folder = str(folder)
        self.added = False

    def __enter__(self) -> None:
        if self.folder not in sys.path:
            sys.path.insert(0, self.folder)
            self.added = True
        importlib.invalidate_caches()

    def __exit__(self, *exc: object) -> None:
        if self.added and self.folder in sys.path:
            sys.path.remove(self.folder)
            sys.path.append(self.folder)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ---------------------------------------------------------------- shapes of attr


def _positional(fn: Callable[..., Any]) -> tuple[int, int, bool] | None:
    """(positional parameters, required ones, takes *args), or None without a signature."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    params = [p for p in signature.parameters.values() if p.kind in kinds]
    required = [p for p in params if p.default is inspect.Parameter.empty]
    var = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in signature.parameters.values())
    return len(params), len(required), var


def _build(spec: str, where: str, attr_path: str, target: Any) -> Policy:
    attr_name = attr_path.rsplit(".", 1)[-1]
    if inspect.isclass(target):
        instance = _construct(spec, where, attr_path, target, "constructing")
        return _from_instance(spec, where, attr_path, attr_name, instance)
    if inspect.isfunction(target) or inspect.ismethod(target) or inspect.isbuiltin(target):
        shape = _positional(target)
        if shape is None:  # a builtin without a signature: take it as the policy function
            return Policy(spec, attr_name, target)
        count, required, var = shape
        if count == 0 and not var:
            instance = _construct(spec, where, attr_path, target, "calling the factory")
            return _from_instance(spec, where, attr_path, attr_name, instance)
        if required <= 1:
            return Policy(spec, attr_name, target)
        raise ConfigurationError(
            f"policy {spec!r}: {attr_path} in {where} takes {required} required arguments; a "
            "policy function takes one (obs) and a factory none"
        )
    if callable(target) or callable(getattr(target, "act", None)):
        return _from_instance(spec, where, attr_path, attr_name, target)
    raise ConfigurationError(
        f"policy {spec!r}: {attr_path} in {where} is not a function, class or object with "
        f"act(obs) / __call__(obs) (it is the {type(target).__name__} {_short(target)})"
    )


def _construct(spec: str, where: str, attr_path: str, factory: Any, doing: str) -> Any:
    try:
        return factory()
    except (Exception, SystemExit) as exc:
        raise ConfigurationError(
            f"policy {spec!r}: {doing} {attr_path} from {where} failed: {_describe(exc)}"
        ) from exc


def _from_instance(spec: str, where: str, attr_path: str, attr_name: str, instance: Any) -> Policy:
    act = getattr(instance, "act", None)
    if not callable(act):
        act = instance if callable(instance) else None
    if act is None:
        raise ConfigurationError(
            f"policy {spec!r}: the {type(instance).__name__} made by {attr_path} in {where} has "
            "neither act(obs) nor __call__(obs)"
        )
    reset = getattr(instance, "reset", None)
    name = attr_name
    for key in ("name", "policy_version"):
        value = getattr(instance, key, None)
        if isinstance(value, str) and value.strip():
            name = value.strip()
            break
    return Policy(spec, name, act, reset if callable(reset) else None, instance)
