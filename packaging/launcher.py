"""Entry script of the PyInstaller build: the same ``main`` as the ``robotrace-desktop``
console script (pyproject [project.scripts]).

``freeze_support`` first: ``scan`` and ``explain --all`` run Explain in spawned worker
processes, and in a frozen app a worker is this same executable started with
multiprocessing's own arguments, which must not reach the CLI parser.
"""

from __future__ import annotations

import multiprocessing
import sys

from robotrace_desktop.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
