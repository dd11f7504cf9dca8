"""`python -m api.cli`: the `fogbank` command."""

import sys

from api.cli import main

sys.exit(main())
