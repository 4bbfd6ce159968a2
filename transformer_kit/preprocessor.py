"""`TextPreprocessor`: raw strings -> token ids, the one tokenizer of a classifier.

In the spirit of KerasHub's `TextClassifierPreprocessor`: one object owns the
split mode (words or CJK characters), the vocabulary and the sequence length,
builds the one `TextVectorization`, and travels inside the saved and exported
model. Training batches (`transformer_kit.data.make_token_dataset`) and
inference use its `vectorizer`, so they cannot tokenize differently.
"""

import keras
import tensorflow as tf

from transformer_kit.data.report import choose_sequence_length
from transformer_kit.data.text_vectorization import detect_split_mode, make_text_vectorizer, vectorize_texts


@keras.saving.register_keras_serializable(package="transformer_kit")
class TextPreprocessor(keras.layers.Layer):
    """Strings `[batch]` -> int32 token ids `[batch, length]`, dynamically padded.

    Each call pads to its own longest text (at most `sequence_length`
    tokens, at least one column), not to `sequence_length`: padding is
    masked by the encoders, so results do not depend on it, and short texts
    cost little. Id 0 is padding, id 1 `"[UNK]"`.

    Build one with `TextPreprocessor.adapt` from training texts; the
    constructor alone gives an empty vocabulary (what `keras.saving` fills in
    when it loads a saved model).

    Args:
        split_mode: `"word"` or `"character"` (each CJK character a token).
        sequence_length: int. Longest input kept, in tokens; longer texts
            are truncated.
        max_tokens: int. Vocabulary size, padding and `[UNK]` included.
        vocabulary: list of str or `None`.
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:

    >>> preprocessor, lengths = TextPreprocessor.adapt(["a good film", "a good song", "good"])
    >>> preprocessor.split_mode, lengths, preprocessor.get_vocabulary()[:4]
    ('word', [3, 3, 1], ['', '[UNK]', 'good', 'a'])
    >>> preprocessor(tf.constant(["good a unseen", ""])).numpy().tolist()
    [[2, 3, 1], [0, 0, 0]]
    """

    def __init__(self, split_mode="word", sequence_length=128, max_tokens=20000, vocabulary=None, **kwargs):
        super().__init__(**{"name": "preprocessor", **kwargs})
        self.split_mode = split_mode
        self.sequence_length = int(sequence_length)
        self.max_tokens = int(max_tokens)
        self.vectorizer = make_text_vectorizer(
            max_tokens=self.max_tokens, split=split_mode, vocabulary=vocabulary, name="text_vectorizer"
        )

    @classmethod
    def adapt(cls, texts, split="auto", max_tokens=20000, sequence_length=None, num_texts=None):
        """Learn the split mode, vocabulary and sequence length from training texts.

        Args:
            texts: list of str, the training texts (or a sample of them).
            split: `"auto"`, `"word"` or `"character"`.
            max_tokens: int. Vocabulary size cap.
            sequence_length: int or `None` to choose it from the texts'
                lengths (see `transformer_kit.data.choose_sequence_length`).
            num_texts: int or `None`: the number of training texts when
                `texts` is a sample.

        Returns:
            `(preprocessor, lengths)`: the adapted preprocessor and each
            text's untruncated token count (for the data report).
        """
        split_mode = detect_split_mode(texts) if split == "auto" else split
        vectorizer = make_text_vectorizer(texts, max_tokens=max_tokens, split=split_mode)
        lengths = [len(ids) for ids in vectorize_texts(vectorizer, texts)]
        sequence_length = sequence_length or choose_sequence_length(lengths, num_texts=num_texts)
        preprocessor = cls(
            split_mode=split_mode,
            sequence_length=sequence_length,
            # The learned size, which is smaller than the cap on small data.
            max_tokens=vectorizer.vocabulary_size(),
            vocabulary=vectorizer.get_vocabulary(),
        )
        return preprocessor, lengths

    @property
    def vocabulary_size(self):
        """int: number of token ids, padding and `[UNK]` included."""
        return int(self.vectorizer.vocabulary_size())

    def get_vocabulary(self):
        """list of str: the token of each id."""
        return [str(token) for token in self.vectorizer.get_vocabulary()]

    def token_ids(self, texts, truncate=True):
        """Token ids of each text, without padding, as Python lists.

        Args:
            texts: sequence of str.
            truncate: bool, default `True`: keep at most `sequence_length`.

        Returns:
            list of lists of int.
        """
        return vectorize_texts(self.vectorizer, texts, self.sequence_length if truncate else None)

    def build(self, input_shape=None):
        # The vocabulary is the vectorizer's state, set by `adapt` or loading.
        self.built = True

    def call(self, text):
        ragged_ids = self.vectorizer(text)[:, : self.sequence_length]
        token_ids = ragged_ids.to_tensor(default_value=0)
        # At least one column: a batch of empty texts becomes one all-padding
        # column, which masked pooling maps to a valid input, not a 0-width one.
        token_ids = tf.pad(token_ids, [[0, 0], [0, tf.maximum(1 - tf.shape(token_ids)[1], 0)]])
        return tf.cast(token_ids, "int32")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None)

    def get_config(self):
        config = super().get_config()
        config.update(split_mode=self.split_mode, sequence_length=self.sequence_length, max_tokens=self.max_tokens)
        return config
