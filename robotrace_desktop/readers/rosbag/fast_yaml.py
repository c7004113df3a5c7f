"""rosbag2's YAML (``metadata.yaml`` and every topic's QoS profile text) parsed with libyaml.

rosbags parses that YAML with ruamel.yaml's pure-Python loader: ~1.5 s for the 33-topic
underwater bag's ``metadata.yaml`` plus its 33 MCAP QoS strings, twice per command (index and
open) — most of a cold ``explain``. PyYAML's C loader reads the same text in milliseconds.

Same results, not just similar ones: ruamel loads YAML 1.2, PyYAML 1.1 (``yes``, ``on``,
``0o17``, ``1_000``, ``12:30`` mean different things). Our loader resolves plain scalars with
YAML 1.2's core schema (``true``/``false``, decimal ints and floats, ``null``) and hands any
document holding something the two could read differently — underscores, leading zeros, other
bases, sexagesimals, timestamps, merge keys, duplicate keys — back to ruamel, as it does any
text libyaml refuses (so rosbags' error messages for broken files are ruamel's, unchanged).
Without libyaml (no PyYAML C extension) nothing is replaced.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import ruamel.yaml

try:
    import yaml
    from yaml import CSafeLoader
except ImportError:  # PyYAML or its C extension absent: rosbags keeps ruamel
    yaml = None
    CSafeLoader = None

_AMBIGUOUS = "tag:robotrace,2024:ambiguous"


class _AmbiguousError(Exception):
    """A scalar or mapping the two loaders might read differently: ask ruamel."""


if CSafeLoader is not None:

    class _Yaml12Loader(CSafeLoader):  # type: ignore[misc]  # PyYAML ships no types: Any base
        """libyaml's parser with YAML 1.2 core-schema resolution of plain scalars."""

        yaml_implicit_resolvers: ClassVar[dict[Any, Any]] = {}

        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            keys = [self.construct_object(k, deep=True) for k, _ in node.value]
            hashable = [k for k in keys if isinstance(k, str | int | float | bool) or k is None]
            if len(hashable) != len(keys) or len(set(hashable)) != len(hashable) or "<<" in keys:
                raise _AmbiguousError("duplicate, complex or merge keys")
            mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
            return mapping

    def _ambiguous(loader: Any, node: Any) -> Any:
        raise _AmbiguousError(node.value)

    _Yaml12Loader.add_constructor(_AMBIGUOUS, _ambiguous)
    _Yaml12Loader.add_constructor("tag:yaml.org,2002:timestamp", _ambiguous)
    for tag, pattern, first in (
        # numbers spelled in a way 1.1 and 1.2 (or ruamel and PyYAML) may read differently
        (
            _AMBIGUOUS,
            r"^(?:[-+]?[0-9][0-9_]*:[0-9:._]*|[-+]?0[0-9_]+(?:\.[0-9_]*)?|[-+]?0[xXoObB][0-9a-fA-F_]*"
            r"|[-+]?[0-9._]*_[0-9._eE+-]*|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*|<<|=)$",
            list("-+0123456789<="),
        ),
        ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
        ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
        ("tag:yaml.org,2002:int", r"^[-+]?(?:0|[1-9][0-9]*)$", list("-+0123456789")),
        (
            "tag:yaml.org,2002:float",
            r"^(?:[-+]?(?:[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+"
            r"|\.[0-9]+(?:[eE][-+][0-9]+)?)|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
            list("-+0123456789."),
        ),
    ):
        _Yaml12Loader.add_implicit_resolver(tag, re.compile(pattern), first)


class FastYAML:
    """Stands in for ``ruamel.yaml.YAML`` where rosbags builds one: ``load`` of a safe loader
    goes through libyaml when the result is certain to be ruamel's; everything else (dumping,
    other loaders, doubtful text) is ruamel's own."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args, self._kwargs = args, kwargs
        self._ruamel: ruamel.yaml.YAML | None = None

    def _real(self) -> ruamel.yaml.YAML:
        if self._ruamel is None:
            self._ruamel = ruamel.yaml.YAML(*self._args, **self._kwargs)
        return self._ruamel

    def load(self, stream: Any) -> Any:
        if CSafeLoader is None or self._kwargs.get("typ") != "safe" or self._args:
            return self._real().load(stream)
        text = stream if isinstance(stream, str | bytes) else stream.read()
        marks = ("%YAML", "!!") if isinstance(text, str) else (b"%YAML", b"!!")
        if any(m in text for m in marks):  # a version directive or explicit tags: ruamel's
            return self._real().load(text)
        try:
            return yaml.load(text, Loader=_Yaml12Loader)  # a safe loader
        except (_AmbiguousError, yaml.YAMLError, RecursionError):
            return self._real().load(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)


def install() -> None:
    """Make rosbags' rosbag2 modules build ``FastYAML`` instead of ruamel's ``YAML``."""
    if CSafeLoader is None:
        return
    from rosbags.rosbag2 import metadata, reader

    # replacing rosbags' class with a look-alike of ours: not the type its modules declare
    metadata.YAML = FastYAML  # type: ignore[misc,assignment]
    reader.YAML = FastYAML  # type: ignore[misc,assignment]
