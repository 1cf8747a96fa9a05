"""`python -m egcfg_plugin.cli ...` (and `accelerate launch -m egcfg_plugin.cli compare ...`): the `egcfg` command."""
import sys

from egcfg_plugin.cli import main

sys.exit(main())
