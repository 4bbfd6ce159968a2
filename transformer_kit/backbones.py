"""Pretrained KerasHub backbones as encoders: a preset's tokenizer and weights, fine-tuned.

A KerasHub preset (a name that `keras_hub` downloads and caches, or a local
directory written by `save_to_preset`) brings a tokenizer and a backbone.
Here they enter the toolkit the way a scratch transformer does:

    text -> BackbonePreprocessor (the preset's tokenizer, start/end tokens,
            padding id swapped to 0) -> member: PretrainedBackbone's model
            (ids -> token_ids, segment_ids, padding_mask -> backbone ->
            masked mean of the sequence output) -> classification head

Ids inside the toolkit keep the toolkit's one convention, "0 = padding": the
preprocessor swaps the tokenizer's padding id with 0 (a no-op for BERT and
ALBERT, whose padding id is 0; XLM-RoBERTa pads with 1) and the member swaps
them back before the backbone. So batching, dynamic padding, the
`serving_token_ids` signature and resuming need nothing new.

`keras_hub` is imported only here, and only when a backbone is used: it is the
optional `hub` extra (`pip install "transformer_kit[hub]"`).
"""

import importlib
import json
from pathlib import Path

import keras
import tensorflow as tf

from transformer_kit.config import BACKBONE_WARMUP_FRACTION
from transformer_kit.data.report import choose_sequence_length
from transformer_kit.data.text_vectorization import detect_split_mode
from transformer_kit.encoders import Encoder
from transformer_kit.errors import TransformerKitError
from transformer_kit.layers import MaskedPooling

HUB_EXTRA = 'pip install "transformer_kit[hub]"'
# The files `Backbone.save_to_preset` and `Tokenizer.save_to_preset` write
# (KerasHub's preset layout); weights may instead be sharded (model.weights.json).
PRESET_FILES = ("config.json", "tokenizer.json")
WEIGHT_FILES = ("model.weights.h5", "model.weights.json")
# Tokenizer ops that live in tensorflow-text (WordPiece, SentencePiece, BPE's
# regex split): a SavedModel with the tokenizer in its graph needs that package
# imported before `tf.saved_model.load`.
LOAD_REQUIRES = ("tensorflow_text",)


class BackboneError(TransformerKitError, ValueError):
    """A backbone preset that cannot be used: keras-hub missing, a name not fetched, a directory incomplete."""


def require_keras_hub():
    """`keras_hub`, imported; a one-line `BackboneError` naming the `hub` extra when it is not installed."""
    try:
        return importlib.import_module("keras_hub")
    except ImportError as error:
        raise BackboneError(
            f"--backbone / backbone= needs KerasHub, which is not installed ({error}); install the extra: {HUB_EXTRA}"
        ) from None


def check_preset(preset):
    """Fail early, in one line, on a preset that cannot be loaded from where it is named.

    A directory must hold KerasHub's preset files; a string that looks like a
    path (has a `/` but no `scheme://`) must be a directory. Anything else is
    a preset name, for KerasHub to download (or find in its cache).

    Args:
        preset: str, a preset name or directory.

    Returns:
        str: `preset`, unchanged.

    Example:

    >>> check_preset("/no/such/preset")
    Traceback (most recent call last):
    ...
    transformer_kit.backbones.BackboneError: Backbone preset directory /no/such/preset does not exist. ...
    """
    path = Path(preset).expanduser()
    if path.is_dir():
        missing = [name for name in PRESET_FILES if not (path / name).is_file()]
        if not any((path / name).is_file() for name in WEIGHT_FILES):
            missing.append(" or ".join(WEIGHT_FILES))
        if missing:
            raise BackboneError(
                f"{path} is not a KerasHub preset directory: {', '.join(missing)} missing. A preset directory is "
                "what `backbone.save_to_preset(DIR)` and `tokenizer.save_to_preset(DIR)` write."
            )
        return str(preset)
    if "://" not in str(preset) and ("/" in str(preset) or str(preset).startswith(".")):
        raise BackboneError(
            f"Backbone preset directory {preset} does not exist. Pass a directory written by `save_to_preset` "
            "or a KerasHub preset name."
        )
    return str(preset)


def _from_preset(loader, preset, **kwargs):
    """`loader.from_preset(preset)`, with a name that cannot be fetched turned into a one-line error."""
    try:
        return loader.from_preset(preset, **kwargs)
    except Exception as error:  # network, unknown name, kagglehub: all mean "not available here"
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        if Path(preset).expanduser().is_dir():
            raise BackboneError(f"Could not load the KerasHub preset in {preset}: {reason}") from error
        raise BackboneError(
            f"Could not fetch the KerasHub preset {preset!r} ({reason}). Offline, pass a local preset "
            "directory instead: one written by `save_to_preset` on a machine that could download it."
        ) from error


def load_tokenizer(preset):
    """The preset's KerasHub tokenizer."""
    check_preset(preset)
    return _from_preset(require_keras_hub().tokenizers.Tokenizer, preset)


def load_backbone(preset, load_weights=True):
    """The preset's KerasHub backbone (pretrained weights unless `load_weights=False`)."""
    check_preset(preset)
    return _from_preset(require_keras_hub().models.Backbone, preset, load_weights=load_weights)


def _special_ids(tokenizer):
    """`(start, end, pad)` token ids of a KerasHub tokenizer (BERT's [CLS]/[SEP], RoBERTa's <s>/</s>)."""
    start = getattr(tokenizer, "start_token_id", None)
    start = getattr(tokenizer, "cls_token_id", None) if start is None else start
    end = getattr(tokenizer, "end_token_id", None)
    end = getattr(tokenizer, "sep_token_id", None) if end is None else end
    pad = getattr(tokenizer, "pad_token_id", None)
    return start, end, 0 if pad is None else int(pad)


@keras.saving.register_keras_serializable(package="transformer_kit")
class BackbonePreprocessor(keras.layers.Layer):
    """Strings `[batch]` -> int32 ids `[batch, length]` with a KerasHub preset's tokenizer.

    The counterpart of `TextPreprocessor` for a pretrained backbone: each
    text becomes `start + pieces + end` (at most `sequence_length` ids; the
    pieces are cut, the end token kept), each call padded to its own longest
    text. The tokenizer's padding id and 0 are swapped, so 0 is padding as
    everywhere in the toolkit; `PretrainedBackbone`'s members swap back.

    Args:
        tokenizer: a KerasHub tokenizer (e.g. `keras_hub.models.BertTokenizer`).
        sequence_length: int, at least 3.
        split_mode: `"word"` or `"character"`: how the n-gram branch and
            explanations split this classifier's texts.
        **kwargs: standard `keras.layers.Layer` arguments.
    """

    # Python modules a SavedModel with this tokenizer in its graph needs imported before loading.
    load_requires = LOAD_REQUIRES

    def __init__(self, tokenizer, sequence_length=128, split_mode="word", **kwargs):
        super().__init__(**{"name": "preprocessor", **kwargs})
        if isinstance(tokenizer, dict):  # from get_config
            require_keras_hub()
            tokenizer = keras.saving.deserialize_keras_object(tokenizer)
        self.tokenizer = tokenizer
        self.sequence_length = int(sequence_length)
        self.split_mode = split_mode
        if self.sequence_length < 3:
            raise ValueError(f"`sequence_length` must be at least 3 (start, one token, end); got {sequence_length}.")

    @classmethod
    def adapt(cls, tokenizer, texts, max_sequence_length, split="auto", sequence_length=None, num_texts=None):
        """Choose the sequence length (and split mode) from training texts.

        Args:
            tokenizer: the preset's KerasHub tokenizer.
            texts: list of str (or a sample of the training texts).
            max_sequence_length: int, the backbone's position limit: the cap.
            split: `"auto"`, `"word"` or `"character"` (for the n-gram branch).
            sequence_length: int or `None` (chosen from the texts, as for
                `TextPreprocessor`, then capped at `max_sequence_length`).
            num_texts: int or `None`: the number of training texts when
                `texts` is a sample.

        Returns:
            `(preprocessor, lengths)`: each text's untruncated id count,
            start and end tokens included.
        """
        split_mode = detect_split_mode(texts) if split == "auto" else split
        lengths = []
        for first in range(0, len(texts), 1024):
            pieces = tokenizer(tf.constant([str(t) for t in texts[first : first + 1024]], tf.string))
            # KerasHub tokenizers return Python lists when called eagerly.
            lengths.extend(len(row) + 2 for row in (pieces if isinstance(pieces, list) else pieces.to_list()))
        chosen = sequence_length or choose_sequence_length(lengths, num_texts=num_texts)
        return cls(tokenizer, min(int(chosen), int(max_sequence_length)), split_mode), lengths

    @property
    def vocabulary_size(self):
        """int: the tokenizer's number of ids."""
        return int(self.tokenizer.vocabulary_size())

    def get_vocabulary(self):
        """list of str: the token of each toolkit id (the tokenizer's, padding and id 0 swapped)."""
        vocabulary = [str(token) for token in self.tokenizer.get_vocabulary()]
        pad = _special_ids(self.tokenizer)[2]
        vocabulary[0], vocabulary[pad] = vocabulary[pad], vocabulary[0]
        return vocabulary

    @property
    def vectorizer(self):
        """Strings -> ragged int ids, as `make_token_dataset` and streaming expect of a vectorizer.

        A tokenizer that holds a TensorFlow resource (SentencePiece's model)
        runs eagerly inside `tf.py_function`: Keras' `fit` rewrites the
        dataset's graph, and the copy cannot find the resource ("Resource
        ..._SentencepieceOp does not exist"). WordPiece and BPE stay in the graph.
        """
        if not _holds_resource(self.tokenizer):
            return self._ragged_ids

        def tokenize_now(text):
            self.renew_resources()  # a seed may have been set since the last batch
            return self._ragged_ids(text)

        def eager_ids(text):
            return tf.py_function(tokenize_now, [text], Tout=tf.RaggedTensorSpec([None, None], tf.int32, ragged_rank=1))

        return eager_ids

    def renew_resources(self):
        """Give a SentencePiece tokenizer a new model resource (a no-op for other tokenizers).

        tensorflow-text's SentencePiece model is a kernel-owned resource, and
        `keras.utils.set_random_seed` (which training calls for each member)
        clears TensorFlow's kernel cache, deleting it; what runs after the
        seed must use a new one. A live resource is kept.
        """
        if not _holds_resource(self.tokenizer):
            return
        try:  # alive: keep it (an export tracks this very resource)
            self.tokenizer._sentence_piece.vocab_size()
        except tf.errors.NotFoundError:
            self.tokenizer.set_proto(self.tokenizer.proto)

    def tracked_resources(self):
        """The tokenizer's TensorFlow resources an export must save (SentencePiece's model), as a list."""
        if not _holds_resource(self.tokenizer):
            return []
        return [self.tokenizer._sentence_piece._model_resource]

    def token_ids(self, texts, truncate=True):
        """Ids of each text, start and end included, without padding, as Python lists."""
        return self._ragged_ids(tf.constant([str(text) for text in texts], tf.string), truncate).to_list()

    def pieces(self, text):
        """Ragged int32 toolkit ids `[batch, None]` of each text's pieces: no start/end token, not truncated."""
        if not tf.executing_eagerly():  # as in call: capture a resource that exists now
            with tf.init_scope():
                self.renew_resources()
        pad = _special_ids(self.tokenizer)[2]
        pieces = self._tokenizer_ids(text)
        return pieces.with_flat_values(swap_ids(pieces.flat_values, pad))

    def _tokenizer_ids(self, text):
        pad = _special_ids(self.tokenizer)[2]
        pieces = self.tokenizer(text)
        if isinstance(pieces, list):  # KerasHub tokenizers return Python lists when called eagerly
            pieces = tf.RaggedTensor.from_row_lengths(
                tf.constant([i for row in pieces for i in row], tf.int32, shape=[sum(map(len, pieces))]),
                tf.constant([len(row) for row in pieces], tf.int64, shape=[len(pieces)]))
        elif not isinstance(pieces, tf.RaggedTensor):
            pieces = tf.RaggedTensor.from_tensor(pieces, padding=pad)
        return tf.cast(pieces, "int32")

    def _ragged_ids(self, text, truncate=True):
        start, end, pad = _special_ids(self.tokenizer)
        pieces = self._tokenizer_ids(text)
        if truncate:
            pieces = pieces[:, : self.sequence_length - 2]
        rows = tf.shape(text)[0]
        parts = [pieces]
        if start is not None:
            parts.insert(0, tf.RaggedTensor.from_tensor(tf.fill([rows, 1], int(start))))
        if end is not None:
            parts.append(tf.RaggedTensor.from_tensor(tf.fill([rows, 1], int(end))))
        ids = tf.concat(parts, axis=1)
        return ids.with_flat_values(swap_ids(ids.flat_values, pad))

    def build(self, input_shape=None):
        self.built = True

    def call(self, text):
        if not tf.executing_eagerly():  # traced into a graph: capture a resource that exists now
            with tf.init_scope():
                self.renew_resources()
        ids = self._ragged_ids(text).to_tensor(default_value=0)
        ids = tf.pad(ids, [[0, 0], [0, tf.maximum(1 - tf.shape(ids)[1], 0)]])
        return tf.cast(ids, "int32")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None)

    def get_config(self):
        config = super().get_config()
        config.update(tokenizer=keras.saving.serialize_keras_object(self.tokenizer),
                      sequence_length=self.sequence_length, split_mode=self.split_mode)
        return config


def _holds_resource(tokenizer):
    """Whether a KerasHub tokenizer runs on a TensorFlow resource (SentencePiece's model)."""
    return any(base.__name__ == "SentencePieceTokenizer" for base in type(tokenizer).__mro__)


def swap_ids(ids, pad):
    """`ids` with `pad` and 0 exchanged (its own inverse; identity when `pad` is 0)."""
    if not pad:
        return ids
    pad = tf.constant(pad, ids.dtype)
    return tf.where(ids == 0, pad, tf.where(ids == pad, tf.zeros_like(ids), ids))


@keras.saving.register_keras_serializable(package="transformer_kit")
class BackboneInputs(keras.layers.Layer):
    """Toolkit ids (0 = padding) -> the backbone's `token_ids`, `segment_ids` and `padding_mask`.

    Args:
        pad_token_id: int, the tokenizer's padding id.
        **kwargs: standard `keras.layers.Layer` arguments.
    """

    def __init__(self, pad_token_id=0, **kwargs):
        super().__init__(**kwargs)
        self.pad_token_id = int(pad_token_id)

    def call(self, ids):
        ids = keras.ops.cast(ids, "int32")
        padding_mask = keras.ops.cast(keras.ops.not_equal(ids, 0), "int32")
        return swap_ids(ids, self.pad_token_id), keras.ops.zeros_like(ids), padding_mask

    def compute_output_shape(self, input_shape):
        return (input_shape, input_shape, input_shape)

    def get_config(self):
        return {**super().get_config(), "pad_token_id": self.pad_token_id}


class PretrainedBackbone(Encoder):
    """A KerasHub backbone with its pretrained weights, fine-tuned with a classification head.

    Each member starts from the preset's weights (their heads and dropout
    differ by seed). Features are the masked mean of the backbone's sequence
    output, which every family has (BERT's start-token pooler is not
    universal, and from random weights it learned nothing in 3 epochs of the
    keyword task where the mean learned it).

    Args:
        preset: str, a KerasHub preset name or a directory written by
            `save_to_preset` (see `check_preset`).
        dropout: float, dropout on the features before the head.

    Example (a preset directory written with `save_to_preset`):

        encoder = PretrainedBackbone("presets/bert_tiny")
        tokenizer = encoder.tokenizer()
    """

    def __init__(self, preset, dropout=0.1):
        self.preset = check_preset(preset)
        require_keras_hub()
        self.dropout = dropout
        self._tokenizer = None
        self._max_length = None

    def tokenizer(self):
        """The preset's tokenizer (loaded once)."""
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.preset)
        return self._tokenizer

    def max_sequence_length(self):
        """int: the backbone's position limit (512 when its config does not say)."""
        if self._max_length is None:
            config = load_backbone(self.preset, load_weights=False).get_config()
            self._max_length = int(config.get("max_sequence_length") or 512)
        return self._max_length

    def make_preprocessor(self, texts, training_config, num_texts=None):
        cfg = training_config
        return BackbonePreprocessor.adapt(self.tokenizer(), texts, self.max_sequence_length(), split=cfg.split,
                                          sequence_length=cfg.sequence_length, num_texts=num_texts)

    def build(self, preprocessor, name):
        backbone = load_backbone(self.preset)
        ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        token_ids, segment_ids, padding_mask = BackboneInputs(_special_ids(self.tokenizer())[2],
                                                              name="backbone_inputs")(ids)
        available = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
        names = backbone.input.keys() if isinstance(backbone.input, dict) else ("token_ids", "padding_mask")
        outputs = backbone({key: available[key] for key in names})
        sequence = outputs["sequence_output"] if isinstance(outputs, dict) else outputs
        features = MaskedPooling("mean", name="pooling")(sequence, padding_mask=padding_mask)
        for layer in backbone.layers:
            if layer.name.startswith("pooled"):  # BERT's and ALBERT's pooler, unused: no gradients to apply
                layer.trainable = False
        return keras.Model(ids, features, name=name)

    def get_config(self):
        record = {"kind": "pretrained_backbone", "preset": self.preset, "dropout": self.dropout}
        path = Path(self.preset).expanduser()
        if path.is_dir():  # a directory's identity is its configuration, not its path
            record["config"] = json.loads((path / "config.json").read_text())
        return record

    @property
    def head_dropout(self):
        return self.dropout

    @property
    def warmup_fraction(self):
        return BACKBONE_WARMUP_FRACTION

    def describe(self, preprocessor):
        return None
