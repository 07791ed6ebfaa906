"""Entry point for ``python -m imdsguard``."""

import sys

from imdsguard.cli import main

sys.exit(main())
