"""`python -m command.cli ...` runs `yiwang ...`."""

import sys

from command.cli import main

sys.exit(main())
