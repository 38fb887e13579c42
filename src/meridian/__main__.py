"""`python -m meridian` is the `meridian` console script."""

import sys

from meridian.cli import main

sys.exit(main())
