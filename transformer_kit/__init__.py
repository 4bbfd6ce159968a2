"""transformer_kit: CSV of labelled texts -> trained transformer classifier -> SavedModel.

The public API is deliberately small:

- `TextClassifier`: fit on a CSV or DataFrame, predict, evaluate, save, load, export.
- `build_text_classifier`, `compile_text_classifier`, `build_article_classifier`:
  Keras models from token ids to probabilities.
- `load_csv_dataset`: the validated CSV loader the classifier uses.
- `transformer_kit.layers`: `TokenAndPositionEmbedding`, `TransformerEncoder`,
  `MaskedPooling` and the blending layers.

Importing the package is cheap: each name above, and each subpackage or
module (`transformer_kit.layers`, `transformer_kit.models`, ...), is imported
(and TensorFlow with it) on first use (PEP 562), so the command line answers
`--help` and can quiet TensorFlow's logs before TensorFlow starts.

Example:

>>> import transformer_kit as tk
>>> tk.layers.TransformerEncoder.__name__, tk.models.build_text_classifier.__name__
('TransformerEncoder', 'build_text_classifier')
"""

import importlib
import pkgutil

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


def _submodules():
    # Read from the package directory: nothing is imported to list them.
    return {module.name for module in pkgutil.iter_modules(__path__) if not module.name.startswith("_")}


def __getattr__(name):
    module = _LAZY_EXPORTS.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif name in _submodules():
        # `tk.layers` without `import transformer_kit.layers`: importing the
        # submodule also sets it as this attribute.
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module 'transformer_kit' has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY_EXPORTS) | _submodules())
