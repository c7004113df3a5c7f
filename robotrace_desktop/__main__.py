import sys

from robotrace_desktop.cli import main

sys.exit(main())
