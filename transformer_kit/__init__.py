"""transformer_kit: CSV of labelled texts -> trained transformer classifier -> SavedModel.

The public API is deliberately small:

- ``transformer_kit.layers``: ``TokenAndPositionEmbedding``, ``TransformerEncoder``,
  ``MaskedPooling``.
- ``build_text_classifier``, ``compile_text_classifier``, ``build_article_classifier``.
"""

__version__ = "0.1.0"
