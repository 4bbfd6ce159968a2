"""Encoders: what turns a text's token ids into one vector, and how ensemble members are built.

An ensemble member is an encoder plus a classification head. The encoder is
the part that can come from elsewhere: today's `ScratchTransformer` learns
everything from the labels; an encoder that starts from word vectors or
pretrained weights is another `Encoder` whose `build` returns a model with
those weights, and nothing else in the toolkit changes.
"""

import abc
import dataclasses

from transformer_kit.config import ModelConfig
from transformer_kit.models import add_classification_head, build_transformer_encoder


class Encoder(abc.ABC):
    """Builds the token ids -> features part of each ensemble member.

    Subclasses implement `build` and `get_config`; `get_config` is recorded
    with the run so that resuming refuses a backup made by another encoder.
    """

    @abc.abstractmethod
    def build(self, preprocessor, name):
        """A new, untrained encoder model for `preprocessor`'s token ids.

        Args:
            preprocessor: the fitted `TextPreprocessor` (vocabulary size and
                sequence length).
            name: model name.

        Returns:
            A `keras.Model` from int32 ids `(batch, length)` (0 = padding) to
            float features `(batch, dim)`.
        """

    @abc.abstractmethod
    def get_config(self):
        """A JSON-serializable dict that identifies this encoder's settings."""

    @property
    def head_dropout(self):
        """float: dropout on the features, before the classification head."""
        return 0.0


class ScratchTransformer(Encoder):
    """A transformer encoder initialized at random and trained from the labels alone.

    Args:
        model_config: a `ModelConfig` (embedding width, heads, layers, ...).

    Example:

    >>> from transformer_kit.preprocessor import TextPreprocessor
    >>> preprocessor, _ = TextPreprocessor.adapt(["a good film", "a bad film"])
    >>> encoder = ScratchTransformer(ModelConfig(embed_dim=16, num_heads=2))
    >>> encoder.build(preprocessor, name="encoder").output_shape
    (None, 16)
    """

    def __init__(self, model_config=None):
        self.model_config = model_config or ModelConfig()

    def build(self, preprocessor, name):
        return build_transformer_encoder(
            preprocessor.vocabulary_size,
            preprocessor.sequence_length,
            name=name,
            **dataclasses.asdict(self.model_config),
        )

    def get_config(self):
        return {"kind": "scratch_transformer", **dataclasses.asdict(self.model_config)}

    @property
    def head_dropout(self):
        return self.model_config.dropout


def build_member(encoder, preprocessor, num_classes, name):
    """One ensemble member: `encoder`'s model plus a classification head.

    Args:
        encoder: an `Encoder`.
        preprocessor: the fitted `TextPreprocessor`.
        num_classes: int >= 2.
        name: model name, e.g. `"transformer_0"`.

    Returns:
        An uncompiled `keras.Model` from token ids to probabilities
        (`(batch, 1)` binary sigmoid, or `(batch, num_classes)` softmax).
    """
    features = encoder.build(preprocessor, name=f"{name}_encoder")
    return add_classification_head(features, num_classes, dropout=encoder.head_dropout, name=name)
