"""Text -> token ids: standardization, word vs. character splitting, vocabulary.

The standardization functions use only `tf.strings` ops, so the exact same
preprocessing runs during training (inside `tf.data`) and inside the exported
SavedModel that serves raw strings; there is no Python-side preprocessing to
forget at serving time.
"""

import re

import keras
import numpy as np
import tensorflow as tf

SPLIT_MODES = ("auto", "word", "character")

# RE2 (used by tf.strings.regex_replace) understands Unicode classes, so one
# pattern covers every script: letters, combining marks and digits form words.
_WORD_CHAR = r"\p{L}\p{M}\p{N}"
_CJK_CHAR = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}"
# Python's `re` has no \p{...}; these ranges mirror _CJK_CHAR for detection.
_CJK_PYTHON = re.compile(
    "[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f]"
)


def _standardize(text, split_cjk):
    text = tf.strings.lower(text, encoding="utf-8")
    # Tags only (a letter after "<"), so "a < b > c" keeps its symbols.
    text = tf.strings.regex_replace(text, r"<\s*/?\s*[a-z][^<>]*>", " ")
    text = tf.strings.regex_replace(text, "[\u2018\u2019`]", "'")
    # An apostrophe inside a word stays ("don't", "o'brien"); one that opens
    # or closes a quotation becomes its own token.
    text = tf.strings.regex_replace(text, rf"(^|[^{_WORD_CHAR}])'", r"\1 ' ")
    text = tf.strings.regex_replace(text, rf"'([^{_WORD_CHAR}]|$)", r" ' \1")
    if split_cjk:
        # CJK scripts do not put spaces between words, so each character is
        # a token; Latin words and numbers inside the text stay whole.
        text = tf.strings.regex_replace(text, rf"([{_CJK_CHAR}])", r" \1 ")
    # Every other punctuation mark or symbol is a token of its own, so "many?"
    # and "many" share the token "many" and "?" still carries meaning.
    text = tf.strings.regex_replace(text, rf"([^{_WORD_CHAR}\s\p{{Z}}'])", r" \1 ")
    text = tf.strings.regex_replace(text, r"[\s\p{Z}]+", " ")
    return tf.strings.strip(text)


@keras.saving.register_keras_serializable(package="transformer_kit")
def standardize_words(text):
    """Lowercase, drop HTML tags, split punctuation off words.

    Args:
        text: string `tf.Tensor` of any shape.

    Returns:
        String tensor of the same shape, tokens separated by single spaces.

    Example:

    >>> standardize_words(tf.constant(["How many?<br />I don't KNOW."])).numpy()
    array([b"how many ? i don't know ."], dtype=object)
    """
    return _standardize(text, split_cjk=False)


@keras.saving.register_keras_serializable(package="transformer_kit")
def standardize_cjk_characters(text):
    """Like `standardize_words`, plus every CJK character becomes a token.

    Han, Hiragana, Katakana and Hangul characters are split apart; runs of
    other letters and digits (e.g. "DVD", "15") stay whole words.

    Args:
        text: string `tf.Tensor` of any shape.

    Returns:
        String tensor of the same shape, tokens separated by single spaces.

    Example:

    >>> standardize_cjk_characters(tf.constant(["看DVD很好！"])).numpy()[0].decode()
    '看 dvd 很 好 ！'
    """
    return _standardize(text, split_cjk=True)


# Split mode -> standardization; the vectorizer, the n-gram model and a
# reloaded classifier all look it up here so they cannot disagree.
STANDARDIZERS = {"word": standardize_words, "character": standardize_cjk_characters}


def detect_split_mode(texts, threshold=0.3):
    """Guess whether texts need word or per-character tokens.

    Args:
        texts: sequence of str.
        threshold: float, default 0.3. Fraction of CJK characters (among
            non-space characters) above which `"character"` is chosen.

    Returns:
        `"character"` for mostly-CJK text, else `"word"`.

    Example:

    >>> detect_split_mode(["这个宾馆比较陈旧了"]), detect_split_mode(["Hi there"])
    ('character', 'word')
    """
    texts = list(texts)
    # An evenly spaced sample: fast on big files, and unlike the first N rows
    # not fooled by a file sorted by language or label.
    if len(texts) > 2000:
        texts = [texts[i] for i in np.linspace(0, len(texts) - 1, 2000).astype(int)]
    characters = cjk = 0
    for text in texts:
        text = "".join(str(text).split())
        characters += len(text)
        cjk += len(_CJK_PYTHON.findall(text))
    if characters == 0:
        return "word"
    return "character" if cjk / characters > threshold else "word"


def make_text_vectorizer(texts=None, max_tokens=20000, split="auto", sequence_length=None, vocabulary=None,
                         ngrams=None, output_mode="int", sparse=False, name="text_vectorizer"):
    """Build a `TextVectorization` layer with the toolkit's tokenization.

    The one place where the toolkit creates a `TextVectorization`: the
    transformers' token ids and the n-gram model's counts share the
    standardization of `split`, so they cannot disagree.

    With token ids (`output_mode="int"`), id 0 is padding and id 1 is the
    out-of-vocabulary token `"[UNK]"`; the rest of the vocabulary is ordered
    by frequency.

    Args:
        texts: sequence of str or `None`. The *training* texts only, so
            validation and test words the model never saw map to `[UNK]` as
            in production; `None` leaves the layer to be given `vocabulary`
            (or loaded from a saved model).
        max_tokens: int or `None`, default 20000. Vocabulary size including
            padding and `[UNK]`.
        split: `"auto"` (default), `"word"` or `"character"`. `"character"`
            makes each CJK character a token (`standardize_cjk_characters`);
            `"auto"` picks with `detect_split_mode` (needs `texts`).
        sequence_length: int or `None` (default). `None` gives a ragged
            output (dynamic padding happens later); an int pads/truncates
            every output to that length. Only for `output_mode="int"`.
        vocabulary: list of str or `None`. A vocabulary to use instead of
            learning one from `texts`.
        ngrams: `None` or int, passed to `TextVectorization`.
        output_mode: `"int"` (default) or `"count"`.
        sparse: bool, with `output_mode="count"`: return a `SparseTensor`.
        name: layer name.

    Returns:
        A `keras.layers.TextVectorization`, adapted to `texts` if given.

    Example:

    >>> vectorizer = make_text_vectorizer(["the cat sat", "the dog"])
    >>> [str(token) for token in vectorizer.get_vocabulary()[:3]]
    ['', '[UNK]', 'the']
    >>> vectorizer(tf.constant(["the dog sat"])).to_list()
    [[2, 4, 3]]
    """
    texts, split = _checked_texts_and_split(texts, split)
    as_ids = output_mode == "int"
    vectorizer = keras.layers.TextVectorization(
        max_tokens=max_tokens, standardize=STANDARDIZERS[split], split="whitespace", ngrams=ngrams,
        output_mode=output_mode, output_sequence_length=sequence_length if as_ids else None,
        ragged=as_ids and sequence_length is None, sparse=sparse, name=name,
    )
    if vocabulary is not None:
        # Not the constructor's `vocabulary`: Keras then keeps the vocabulary
        # in the layer's config instead of its saved assets, and a layer
        # nested in ours (rebuilt from our config) would load without it.
        vectorizer.set_vocabulary(vocabulary)
    elif texts is not None:
        # Batched adapt runs the tf.strings ops on 1024 texts at a time instead
        # of one by one, which is what makes adapting on 25k reviews take seconds.
        vectorizer.adapt(tf.data.Dataset.from_tensor_slices(tf.constant(texts)).batch(1024))
    return vectorizer


def _checked_texts_and_split(texts, split):
    """`texts` as a list of str (or `None`) and the split mode, `"auto"` resolved."""
    if split not in SPLIT_MODES:
        raise ValueError(f"`split` must be one of {SPLIT_MODES}; got split={split!r}.")
    if texts is not None:
        texts = [str(text) for text in texts]
        if not texts:
            raise ValueError("`texts` is empty; the vocabulary needs training texts.")
    if split == "auto":
        if texts is None:
            raise ValueError('`split="auto"` needs `texts` to detect the script; pass "word" or "character".')
        split = detect_split_mode(texts)
    return texts, split


def vectorize_texts(vectorizer, texts, sequence_length=None):
    """Token ids of each text, without padding.

    Args:
        vectorizer: an adapted `TextVectorization` (ragged or fixed-length).
        texts: sequence of str.
        sequence_length: int or `None` (default, no truncation). Keep at most
            this many ids per text.

    Returns:
        list of lists of int, one per text; `len()` of each is its token
        count (after truncation).

    Example:

    >>> vectorizer = make_text_vectorizer(["the cat sat", "the dog"])
    >>> vectorize_texts(vectorizer, ["the cat", "", "the the the"], sequence_length=2)
    [[2, 5], [], [2, 2]]
    """
    texts = [str(text) for text in texts]
    result = []
    for start in range(0, len(texts), 1024):
        ids = vectorizer(tf.constant(texts[start : start + 1024]))
        if isinstance(ids, tf.RaggedTensor):
            rows = ids.to_list()
        else:
            # A fixed-length vectorizer pads with 0, and 0 is never a token.
            rows = [row[: np.count_nonzero(row)].tolist() for row in np.asarray(ids)]
        result.extend(row[:sequence_length] if sequence_length else row for row in rows)
    return result
