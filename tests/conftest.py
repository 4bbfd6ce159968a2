import os
import sys
from pathlib import Path

# Quiet TensorFlow's start-up chatter in test output; must be set before TF is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Let tests import the shared helpers module next to them.
sys.path.insert(0, str(Path(__file__).parent))
