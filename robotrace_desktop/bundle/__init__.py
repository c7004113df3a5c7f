"""The native episode bundle: its format and the one way RoboTrace writes it.

A bundle is a folder with ``robotrace_episode.json`` (see ``docs/bundle-format.md``). Every
writer (the logging SDK, ``import``, verify's replays, the demo) and the bundle reader share
the modules here, so the rules live in one place:

- ``manifest``: the manifest model, its JSON form, validation, reading and writing;
- ``confine`` and ``libraries``: path safety — manifest paths stay inside the bundle, except
  symlinks in a RoboTrace library a logging client registered (trusted libraries);
- ``tables`` and ``events``: the signal tables (parquet / feather / npz) and JSON-lines events;
- ``writer``: ``BundleWriter``, the single atomic folder (build in a temporary folder, swap it
  in whole); ``stale``: temporary folders a killed writer left behind.

Nothing heavy is imported here: the registry's sniffing needs only ``manifest``'s constants.
"""
