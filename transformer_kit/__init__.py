"""transformer_kit: CSV of labelled texts -> trained transformer classifier -> SavedModel.

The public API is deliberately small:

- `TextClassifier`: fit on a CSV or DataFrame, predict, evaluate, save, load, export.
- `build_text_classifier`, `compile_text_classifier`, `build_article_classifier`:
  Keras models from token ids to probabilities.
- `load_csv_dataset`: the validated CSV loader the classifier uses.
- `transformer_kit.layers`: `TokenAndPositionEmbedding`, `TransformerEncoder`,
  `MaskedPooling` and the blending layers.

Importing the package is cheap: each name above is imported from its module
(and TensorFlow with it) on first use (PEP 562), so the command line answers
`--help` and can quiet TensorFlow's logs before TensorFlow starts.
"""

import importlib

from transformer_kit.logs import install_default_handler

__version__ = "0.2.0"

# Public name -> module that defines it.
_LAZY_EXPORTS = {
    "TextClassifier": "transformer_kit.classifier",
    "build_article_classifier": "transformer_kit.models",
    "build_text_classifier": "transformer_kit.models",
    "compile_text_classifier": "transformer_kit.models",
    "load_csv_dataset": "transformer_kit.data",
}

__all__ = [
    "TextClassifier",
    "build_article_classifier",
    "build_text_classifier",
    "compile_text_classifier",
    "load_csv_dataset",
    "__version__",
]


# INFO messages visible in notebooks and scripts that never configure logging;
# see `transformer_kit.logs`.
install_default_handler()


def __getattr__(name):
    module = _LAZY_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'transformer_kit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY_EXPORTS))
