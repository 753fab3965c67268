"""``python -m gate``: the same as the ``booking-gate`` command."""

import sys

from gate.cli.main import main

sys.exit(main())
