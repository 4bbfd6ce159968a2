"""`python -m transformer_kit.serving EXPORT ...` is `transformer-kit serve EXPORT ...`."""

import sys

from transformer_kit.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
