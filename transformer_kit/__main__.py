"""`python -m transformer_kit` is the same as the `transformer-kit` command."""

import sys

from transformer_kit.cli import main

sys.exit(main())
