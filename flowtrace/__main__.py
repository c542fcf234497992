"""``python -m flowtrace``: the same as the ``flowtrace`` command."""

import sys

from flowtrace.cli import main

if __name__ == "__main__":
    sys.exit(main())
