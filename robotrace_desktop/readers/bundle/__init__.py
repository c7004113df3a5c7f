"""RoboTrace's native episode bundle: ``reader`` (the registry entry, no heavy imports), ``source``
(indexing and opening a bundle)."""
