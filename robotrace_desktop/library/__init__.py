"""The use cases: what the commands, the viewer, the SDK and verify do with a library of
recordings — index a recording, scan folders, explain episodes and store what Explain found.

Why a layer of its own: ``analysis`` (episode data in, findings out), ``catalog`` (the SQLite
store) and ``episodes`` (naming an episode) are independent of each other. Everything that
needs two of them at once — a scan that explains what it indexed, Explain's history drawn
from the catalog, reusing stored findings, a run over many episodes on the process pool —
lives here, above them. Nothing is imported at package level: the reuse check of stored
findings must not load numpy or the readers.
"""
