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
from transformer_kit.preprocessor import TextPreprocessor
from transformer_kit.vectors import load_word_vectors


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

    @property
    def warmup_fraction(self):
        """float: share of the training steps with a linear learning-rate warm-up."""
        return 0.1

    def describe(self, preprocessor):
        """A JSON-serializable dict for the data report (e.g. vector coverage), or `None`."""
        return None

    def make_preprocessor(self, texts, training_config, num_texts=None):
        """The run's preprocessor, learned from training texts: a `TextPreprocessor` by default.

        An encoder with its own tokenizer (a pretrained backbone) returns
        that instead.

        Args:
            texts: list of str, the training texts (or a sample of them).
            training_config: the `TrainingConfig` (split, max_tokens, sequence_length).
            num_texts: int or `None`: the number of training texts when `texts` is a sample.

        Returns:
            `(preprocessor, lengths)`: the preprocessor and each text's untruncated token count.
        """
        cfg = training_config
        return TextPreprocessor.adapt(texts, split=cfg.split, max_tokens=cfg.max_tokens,
                                      sequence_length=cfg.sequence_length, num_texts=num_texts)


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


class WordVectorTransformer(ScratchTransformer):
    """A transformer whose token embeddings start from word vectors, then are fine-tuned.

    Every member starts from the same vectors (their other weights differ by
    seed). Fine-tuning measured better than freezing them (issue 13). The
    vectors become the model's weights: nothing is read at serving time.

    Args:
        model_config: a `ModelConfig`.
        word_vectors: a `transformer_kit.vectors.WordVectors`.
        seed: int, for the vectors of tokens the file does not cover.

    Example:

    >>> from transformer_kit.preprocessor import TextPreprocessor
    >>> from transformer_kit.vectors import WordVectors
    >>> preprocessor, _ = TextPreprocessor.adapt(["a good film", "a bad film"])
    >>> vectors = WordVectors(["good", "bad"], np.eye(2, 16, dtype="float32"), "toy.vec", "-")
    >>> encoder = WordVectorTransformer(ModelConfig(embed_dim=16, num_heads=2), vectors)
    >>> model = encoder.build(preprocessor, name="encoder")
    >>> token = preprocessor.get_vocabulary().index("good")
    >>> model.get_layer("embedding").token_embedding.embeddings.numpy()[token, :2].tolist()
    [1.0, 0.0]
    >>> encoder.describe(preprocessor)["words_covered"]
    2
    """

    def __init__(self, model_config, word_vectors, seed=0):
        super().__init__(model_config)
        self.word_vectors = word_vectors
        self.seed = seed
        self._initial = None  # (vocabulary, matrix, coverage) of the last preprocessor

    def initial_embeddings(self, preprocessor):
        """`(matrix, coverage)` for `preprocessor`'s vocabulary (computed once)."""
        vocabulary = preprocessor.get_vocabulary()
        if self._initial is None or self._initial[0] != vocabulary:
            matrix, coverage = self.word_vectors.embedding_matrix(vocabulary, self.model_config.embed_dim, self.seed)
            self._initial = (vocabulary, matrix, coverage)
        return self._initial[1], self._initial[2]

    def build(self, preprocessor, name):
        model = super().build(preprocessor, name)
        matrix, _ = self.initial_embeddings(preprocessor)
        model.get_layer("embedding").token_embedding.embeddings.assign(matrix)
        return model

    def get_config(self):
        vectors = {"source": self.word_vectors.source, "sha256": self.word_vectors.sha256}
        return {**super().get_config(), "kind": "word_vector_transformer", "word_vectors": vectors}

    def describe(self, preprocessor):
        return self.initial_embeddings(preprocessor)[1]


def make_encoder(model_config, training_config):
    """The encoder a configuration asks for: a pretrained backbone if `backbone` is set, from word
    vectors if `word_vectors` is, else from scratch."""
    if training_config.backbone:
        from transformer_kit.backbones import PretrainedBackbone  # keras_hub only when asked for

        return PretrainedBackbone(training_config.backbone, dropout=model_config.dropout)
    if training_config.word_vectors:
        vectors = load_word_vectors(training_config.word_vectors)
        return WordVectorTransformer(model_config, vectors, training_config.seed)
    return ScratchTransformer(model_config)


def build_member(encoder, preprocessor, num_classes, name, multi_label=False):
    """One ensemble member: `encoder`'s model plus a classification head.

    Args:
        encoder: an `Encoder`.
        preprocessor: the fitted `TextPreprocessor`.
        num_classes: int >= 2.
        name: model name, e.g. `"transformer_0"`.
        multi_label: bool, one sigmoid per label.

    Returns:
        An uncompiled `keras.Model` from token ids to probabilities
        (`(batch, 1)` binary sigmoid, `(batch, num_classes)` softmax, or
        `(batch, num_classes)` sigmoids when `multi_label`).
    """
    features = encoder.build(preprocessor, name=f"{name}_encoder")
    return add_classification_head(features, num_classes, dropout=encoder.head_dropout, name=name,
                                   multi_label=multi_label)
