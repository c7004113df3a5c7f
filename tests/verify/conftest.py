"""The generated policy sets, built and explained once per session (~80 s of setup that two
modules used to repeat); each module works on its own copy of the catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.verify.verify_fixtures import EFFECTS, SHARED_EPISODES, copy_catalog, write_shared_sets


@pytest.fixture(scope="session")
def shared_policy_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The catalog of the five shared sets: read it only through ``policy_catalog``."""
    path, summary = write_shared_sets(tmp_path_factory.mktemp("verify_sets"))
    total = SHARED_EPISODES * len(EFFECTS)
    assert summary.new == total and not summary.explain_errors, summary.to_dict()
    assert summary.explained == total
    return path


@pytest.fixture(scope="module")
def policy_catalog(shared_policy_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This module's own copy of the shared catalog (the sets themselves are only read)."""
    return copy_catalog(shared_policy_catalog, tmp_path_factory.mktemp("verify_home"))
