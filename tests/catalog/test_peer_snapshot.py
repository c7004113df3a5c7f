"""A run over many episodes answers "which are this episode's peers / its nearest successful
run?" from one snapshot (catalog.peers.PeerSnapshot): the answers must be the catalog's own."""

from __future__ import annotations

from pathlib import Path

from robotrace_desktop.catalog.peers import PeerSnapshot, nearest_successful, peer_episodes
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.library.scanner import scan
from tests.demo_cache import demo_copy


def _ids(infos) -> list[str]:
    return [i.id for i in infos]


def test_snapshot_answers_as_the_catalog_does(tmp_path: Path) -> None:
    for seed in (1, 2, 3, 4):
        demo_copy(tmp_path / "lib" / f"seed{seed}", seed=seed)
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        scan(catalog, [tmp_path / "lib"])
        episodes = {Path(e.path).name: e for e in catalog.list_episodes()}
        catalog.set_overrides([episodes["seed2"].id, episodes["seed4"].id], {"outcome": "success"})
        infos = [catalog.get(e.id) for e in episodes.values()]
        snapshot = PeerSnapshot(catalog)
        for info in infos:
            for limit in (1, 2, 50):
                direct = peer_episodes(catalog, info, limit)
                assert _ids(peer_episodes(catalog, info, limit, snapshot)) == _ids(direct)
                assert info.id not in _ids(direct) and len(direct) == min(limit, 3)
            want = nearest_successful(catalog, info)
            got = nearest_successful(catalog, info, snapshot)
            assert (got and got.id) == (want and want.id)
        # seed2's nearest successful run is the other successful one, never itself
        me = catalog.get(episodes["seed2"].id)
        assert nearest_successful(catalog, me, snapshot).id == episodes["seed4"].id

        # a new run takes a new snapshot and sees what changed since
        catalog.set_overrides([episodes["seed4"].id], {"outcome": "failure"})
        assert nearest_successful(catalog, me, PeerSnapshot(catalog)) is None
        assert nearest_successful(catalog, me) is None
