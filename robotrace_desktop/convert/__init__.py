"""Converting any episode RoboTrace reads into a self-contained native bundle.

``to_bundle`` orchestrates one episode (naming, ids, the atomic folder write, the manifest),
``streams`` writes signal tables and event logs, ``video_copy`` carries cameras over (a
byte-for-byte copy when the source camera is a whole container file, a lossless re-encode with
per-frame timestamps otherwise). Used by ``robotrace-desktop import``.
"""
