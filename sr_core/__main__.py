"""Entry point of ``python -m sr_core``."""

import sys

from sr_core.cli import main

if __name__ == "__main__":
    sys.exit(main())
