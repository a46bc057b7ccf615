"""`python -m monitor` runs the `liqmon` command line."""

import sys

from monitor.cli import main

sys.exit(main())
