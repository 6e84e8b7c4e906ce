"""`python -m modelmemo`: the same as the `modelmemo` command."""

import sys

from modelmemo.cli.main import main

sys.exit(main())
