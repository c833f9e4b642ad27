"""`python -m spikeport` runs the command-line interface."""

from spikeport.cli import main

raise SystemExit(main())
