"""`python -m conformance.cli ARGS...`: the `nndl` command without its console script."""

import sys

from conformance.cli import main

sys.exit(main())
