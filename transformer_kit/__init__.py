"""transformer_kit: CSV of labelled texts -> trained transformer classifier -> SavedModel.

The public API is deliberately small:

- `TextClassifier`: fit on a CSV or DataFrame, predict, evaluate, save, load, export.
- `build_text_classifier`, `compile_text_classifier`, `build_article_classifier`:
  Keras models from token ids to probabilities.
- `load_csv_dataset`: the validated CSV loader the classifier uses.
- `transformer_kit.layers`: `TokenAndPositionEmbedding`, `TransformerEncoder`,
  `MaskedPooling` and the blending layers.
"""

__version__ = "0.1.0"

from transformer_kit.classifier import TextClassifier  # noqa: E402
from transformer_kit.data import load_csv_dataset  # noqa: E402
from transformer_kit.models import (  # noqa: E402
    build_article_classifier,
    build_text_classifier,
    compile_text_classifier,
)

__all__ = [
    "TextClassifier",
    "build_article_classifier",
    "build_text_classifier",
    "compile_text_classifier",
    "load_csv_dataset",
    "__version__",
]
