"""`python -m modelmemo.cli`: the same as the `modelmemo` command."""

import sys

from .main import main

sys.exit(main())
