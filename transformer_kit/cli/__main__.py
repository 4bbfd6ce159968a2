"""`python -m transformer_kit.cli` is the same as the `transformer-kit` command."""

import sys

from transformer_kit.cli import main

if __name__ == "__main__":
    sys.exit(main())
