"""Loading a candidate policy from ``module:attr`` / ``path/file.py:attr``: every accepted form,
and every failure as a ConfigurationError naming the spec or file and the reason."""

from __future__ import annotations

import os
import py_compile
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from robotrace_desktop.errors import ConfigurationError
from robotrace_desktop.verify.policy import cached_policy, clear_policy_cache, load_policy

OBS = {"observation.state": [1.0, 2.0], "t_ns": 0, "step": 0}


@pytest.fixture(autouse=True)
def _clean_imports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Each test imports its own little modules; forget them (and restore sys.path) after."""
    path = list(sys.path)
    clear_policy_cache()
    yield
    sys.path[:] = path
    base = str(tmp_path_factory.getbasetemp())
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(base):
            del sys.modules[name]
    clear_policy_cache()


def write(path: Path, code: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(code))
    return path


POLICIES = """
    import numpy as np

    def double(obs):
        return 2 * np.asarray(obs["observation.state"])

    def noisy(obs, scale=0.0):
        return np.asarray(obs["observation.state"]) + scale

    class Counter:
        name = "counter-v2"

        def __init__(self):
            self.steps = 0
            self.resets = 0

        def reset(self):
            self.steps = 0
            self.resets += 1

        def act(self, obs):
            self.steps += 1
            return [self.steps, obs["step"]]

    class Callable:
        def __call__(self, obs):
            return [obs["step"], 0.0]

    def make():
        return Counter()

    def make_function():
        return lambda obs: [7.0, 7.0]

    instance = Callable()
    not_callable = 3

    def two_args(obs, state):
        return obs

    class Broken:
        def __init__(self):
            raise RuntimeError("weights file missing")

    class NoAct:
        pass
"""


def test_file_spec_function(tmp_path: Path) -> None:
    file = write(tmp_path / "my_policies.py", POLICIES)
    policy = load_policy(f"{file}:double")
    assert policy.name == "double" and policy.spec == f"{file}:double"
    assert policy.act(OBS).tolist() == [2.0, 4.0]
    policy.start_episode()  # a plain function has nothing to reset


def test_relative_file_spec_and_optional_parameter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "policies" / "mine.py", POLICIES)
    monkeypatch.chdir(tmp_path)
    # one required parameter plus an optional one: still the policy function, not a factory
    policy = load_policy("policies/mine.py:noisy")
    assert policy.act(OBS).tolist() == [1.0, 2.0]


def test_module_spec_from_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "rt_pkg_test" / "__init__.py", "")
    write(tmp_path / "rt_pkg_test" / "agents.py", POLICIES)
    monkeypatch.chdir(tmp_path)
    policy = load_policy("rt_pkg_test.agents:Counter")
    assert policy.name == "counter-v2"  # the instance's name attribute wins over "Counter"
    assert policy.act(OBS) == [1, 0]
    # cwd was searched first for the import, then moved to the end of sys.path
    assert sys.path[-1] == str(tmp_path) and sys.path[0] != str(tmp_path)


def test_class_is_reset_per_episode(tmp_path: Path) -> None:
    file = write(tmp_path / "p.py", POLICIES)
    policy = load_policy(f"{file}:Counter")
    policy.start_episode()
    assert [policy.act(OBS)[0] for _ in range(3)] == [1, 2, 3]
    policy.start_episode()
    assert policy.act(OBS)[0] == 1  # counts from the start again
    assert policy.instance.resets == 2


def test_factory_and_instance_forms(tmp_path: Path) -> None:
    file = write(tmp_path / "p.py", POLICIES)
    made = load_policy(f"{file}:make")  # zero parameters: a factory
    assert made.name == "counter-v2" and made.act(OBS) == [1, 0]
    made.start_episode()
    assert made.act(OBS) == [1, 0]
    assert load_policy(f"{file}:make_function").act(OBS) == [7.0, 7.0]
    instance = load_policy(f"{file}:instance")  # an object with __call__
    assert instance.name == "instance" and instance.act({**OBS, "step": 4}) == [4, 0.0]
    # a bound method reached through dots is the policy function
    assert load_policy(f"{file}:instance.__call__").act({**OBS, "step": 2}) == [2, 0.0]


def test_each_load_builds_a_new_instance(tmp_path: Path) -> None:
    file = write(tmp_path / "p.py", POLICIES)
    first, second = load_policy(f"{file}:Counter"), load_policy(f"{file}:Counter")
    first.act(OBS)
    assert second.act(OBS) == [1, 0]


def test_cached_policy_reused_until_the_file_changes(tmp_path: Path) -> None:
    """An edit within the same second that keeps the file's size is picked up too: Python's
    bytecode cache would match such a file (whole-second mtime and size) and run the old
    code, so policy files are compiled from their source every time."""
    file = write(tmp_path / "p.py", POLICIES)
    second = file.stat().st_mtime_ns // 1_000_000_000 * 1_000_000_000
    os.utime(file, ns=(second, second + 1_000_000))
    py_compile.compile(str(file), doraise=True)  # a __pycache__ entry, as any import leaves
    spec = f"{file}:Counter"
    policy = cached_policy(spec)
    assert cached_policy(spec) is policy
    file.write_text(file.read_text().replace("counter-v2", "counter-v3"))
    os.utime(file, ns=(second, second + 2_000_000))  # same second, same size
    reloaded = cached_policy(spec)
    assert reloaded is not policy and reloaded.name == "counter-v3"


def test_file_can_import_its_siblings(tmp_path: Path) -> None:
    write(tmp_path / "helpers_rt_test.py", "OFFSET = 5.0\n")
    file = write(
        tmp_path / "uses_helper.py",
        """
        from helpers_rt_test import OFFSET

        def act(obs):
            return [OFFSET, OFFSET]
        """,
    )
    assert load_policy(f"{file}:act").act(OBS) == [5.0, 5.0]


@pytest.mark.parametrize(
    ("attr", "expected"),
    [
        ("missing", "has no attribute 'missing'"),
        (
            "not_callable",
            "is not a function, class or object with act(obs) / __call__(obs) (it is the int 3)",
        ),
        ("two_args", "takes 2 required arguments"),
        ("Broken", "RuntimeError: weights file missing"),
        ("NoAct", "neither act(obs) nor __call__(obs)"),
    ],
)
def test_bad_attr(tmp_path: Path, attr: str, expected: str) -> None:
    file = write(tmp_path / "p.py", POLICIES)
    with pytest.raises(ConfigurationError) as info:
        load_policy(f"{file}:{attr}")
    message = str(info.value)
    assert expected in message
    assert str(file) in message  # names the file


def test_missing_colon_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no ':' found"):
        load_policy("policies.py")
    with pytest.raises(ConfigurationError) as info:
        load_policy(f"{tmp_path}/nope.py:act")
    assert f"file {tmp_path}/nope.py not found" in str(info.value)


def test_exception_inside_the_users_module(tmp_path: Path) -> None:
    file = write(tmp_path / "bad.py", "import numpy\nraise ValueError('no GPU here')\n")
    with pytest.raises(ConfigurationError) as info:
        load_policy(f"{file}:act")
    assert f"importing {file} failed: ValueError: no GPU here" in str(info.value)
    syntax = write(tmp_path / "syntax.py", "def act(obs:\n")
    with pytest.raises(ConfigurationError, match=r"syntax\.py failed: SyntaxError"):
        load_policy(f"{syntax}:act")


def test_module_not_found_and_broken_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match="no module named 'rt_nope_policy'"):
        load_policy("rt_nope_policy:act")
    write(tmp_path / "rt_imports_missing.py", "import rt_not_installed_dep\n")
    with pytest.raises(ConfigurationError) as info:
        load_policy("rt_imports_missing:act")
    text = str(info.value)
    assert "importing module 'rt_imports_missing' failed" in text
    assert "No module named 'rt_not_installed_dep'" in text
