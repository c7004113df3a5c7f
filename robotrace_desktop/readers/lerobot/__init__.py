"""LeRobot datasets (v2.0, v2.1, v3.0): ``reader`` (the registry entry and the episode source),
``meta``/``meta_v3``/``claims``/``stats`` (metadata), ``features``, ``data`` (parquet rows),
``images`` and ``video``."""
