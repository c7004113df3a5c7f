"""The README's test command works without the optional extras: their tests skip with the
``pip install`` that enables them, the rest still run, and ROBOTRACE_REQUIRE_EXTRAS=1 (CI)
turns those skips into failures. The extras are hidden from a child pytest by modules that
refuse to import, as an uninstalled package would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import conftest

REPO = Path(__file__).resolve().parent.parent
SINK_TESTS = ["tests/sinks/test_wandb_sink.py", "tests/sinks/test_mlflow_sink.py"]


def _pytest_without(
    hidden: list[str], tmp_path: Path, *args: str, require: bool = False
) -> subprocess.CompletedProcess[str]:
    blockers = tmp_path / "blockers"
    for name in hidden:
        (blockers / name).mkdir(parents=True, exist_ok=True)
        (blockers / name / "__init__.py").write_text(f"raise ImportError('{name} hidden')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(blockers), str(REPO)]))
    env.pop("ROBOTRACE_REQUIRE_EXTRAS", None)
    if require:
        env["ROBOTRACE_REQUIRE_EXTRAS"] = "1"
    return subprocess.run(  # -n 0: two sink files need no worker processes of their own
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-n", "0", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_sink_tests_skip_with_the_install_command_when_the_extras_are_absent(
    tmp_path: Path,
) -> None:
    done = _pytest_without(["wandb", "mlflow"], tmp_path, *SINK_TESTS)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "error" not in out.lower()
    assert "2 passed" in out  # the "missing extra names the extra" tests need no extra
    assert 'needs the [wandb] extra, not installed: pip install ".[wandb]"' in out
    assert 'needs the [mlflow] extra, not installed: pip install ".[mlflow]"' in out


class _MarkedItem:
    """The part of a pytest item the extras hook reads: its ``extra`` markers."""

    def __init__(self, *extras: str) -> None:
        self.marks = [pytest.mark.extra(*extras).mark]

    def iter_markers(self, name: str) -> list[pytest.Mark]:
        return [m for m in self.marks if m.name == name]


def test_required_extras_turn_the_skips_into_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "is_installed", lambda extra: extra != "ray")
    conftest.pytest_runtest_setup(_MarkedItem("wandb"))  # installed: runs
    monkeypatch.delenv("ROBOTRACE_REQUIRE_EXTRAS", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r'pip install "\.\[ray\]"'):
        conftest.pytest_runtest_setup(_MarkedItem("wandb", "ray"))
    monkeypatch.setenv("ROBOTRACE_REQUIRE_EXTRAS", "1")
    with pytest.raises(pytest.fail.Exception, match=r"needs the \[ray\] extra"):
        conftest.pytest_runtest_setup(_MarkedItem("ray"))


@pytest.mark.parametrize("extra", ["wandb", "mlflow", "ray", "otel-export"])
def test_every_extra_of_pyproject_is_known(extra: str) -> None:
    text = (REPO / "pyproject.toml").read_text()
    assert f"\n{extra} = [" in text  # the name users pass to pip install ".[NAME]"
