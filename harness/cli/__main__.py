"""`python -m harness.cli`: the same command line as `symbl-harness`."""

import sys

from harness.cli import main

sys.exit(main())
