import os

# Quiet TensorFlow's start-up chatter in test output; must be set before TF is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
