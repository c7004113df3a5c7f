"""HDF5 episodes (ALOHA/ACT, robomimic): ``reader`` (the registry entry), ``source`` (indexing and
opening), ``streams`` and ``video`` (datasets as signals and cameras)."""
