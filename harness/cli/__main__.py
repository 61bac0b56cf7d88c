"""`python -m harness.cli` is `dbarena`."""

import sys

from harness.cli import main

sys.exit(main())
