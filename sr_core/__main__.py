"""Entry point of ``python -m sr_core``."""

import sys

from studio.cli import main

if __name__ == "__main__":
    sys.exit(main())
