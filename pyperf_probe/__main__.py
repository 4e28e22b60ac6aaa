"""`python -m pyperf_probe` is the `pyperf` command."""
import sys

from pyperf_probe.cli import main

sys.exit(main())
