"""``python -m examples.demo``: see :mod:`examples.demo`."""

import sys

from examples.demo.runner import main

sys.exit(main())
