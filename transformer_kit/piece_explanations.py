"""Explanations of a classifier with a pretrained backbone: attributions per tokenizer piece.

A KerasHub backbone reads the preset tokenizer's pieces (WordPiece's
`film`, `##s`; SentencePiece's `▁film`), so its explanation is one
attribution per piece, shown over the piece's characters in the text:

- each backbone member: integrated gradients over the backbone's token
  embedding output (`backbone.token_embedding`), from a baseline that zeros
  every *piece's* token embedding but keeps the start and end tokens
  (`[CLS]`, `[SEP]`, `<s>`) and every position and segment embedding, which
  the backbone adds after the token embedding. So the special tokens get no
  attribution (they are the same at the baseline) and the pieces'
  attributions sum to the member's probability minus its baseline's, up to
  the integration error, as for the scratch transformers;
- the n-gram regression (the default preset's blend): its exact per-word
  contributions (`TextExplainer`'s), each word's moved onto the pieces whose
  characters overlap its characters, split in proportion to the characters
  overlapped. A word no piece overlaps (a piece not found in the text, see
  `piece_spans`) keeps its share on no piece, and the completeness gap shows it.

The graph (`TextExplainer.function`, the SavedModel's `explain` signature)
gives the backbone part per piece (`tokens`, `attributions`) and the n-gram
part per word (`words`, `word_attributions`, blend weight applied); the
character alignment of the two is done in Python (`combine`), where
`TextClassifier.explain` and `ExportedPredictor.explain` both run it.
"""

import contextlib

import numpy as np
import tensorflow as tf

from transformer_kit.layers.probability_blend import as_class_probabilities

# Markers a piece's string carries that are not characters of the text.
_WORDPIECE_CONTINUATION = "##"
_SENTENCEPIECE_SPACE = "\u2581"


def is_backbone_preprocessor(preprocessor):
    """Whether `preprocessor` is a `BackbonePreprocessor` (without importing keras_hub)."""
    return preprocessor is not None and hasattr(preprocessor, "tokenizer") and hasattr(preprocessor, "load_requires")


class BackboneMemberView:
    """A backbone member run with its token embedding output given (every other layer as it is).

    The backbone's `token_embedding` layer is made, for one call, to return
    given vectors instead of looking up the ids; the rest of the member (the
    position and segment embeddings, the encoder, pooling, head) runs
    unchanged, so `probabilities(ids, token_embedding(ids))` equals the
    member's output (a test proves it).
    """

    def __init__(self, member, pad_id=0):
        self.member = member
        self.member_pad_id = int(pad_id)  # the tokenizer's padding id, swapped with 0 in toolkit ids
        self.token_embedding = _backbone_of(member).token_embedding

    def probabilities(self, token_ids, vectors):
        """Class probabilities of `token_ids` (toolkit ids) with `vectors` as the token embedding output."""
        with _substituted(self.token_embedding, vectors):
            return as_class_probabilities(self.member(token_ids, training=False))


def _backbone_of(member):
    for layer in member.layers:
        if hasattr(layer, "layers"):
            for inner in layer.layers:
                if hasattr(inner, "token_embedding"):
                    return inner
    raise ValueError(f"{member.name} has no KerasHub backbone (a layer with a `token_embedding`).")


@contextlib.contextmanager
def _substituted(layer, vectors):
    """`layer(...)` returns `vectors` inside the block (an instance attribute shadows the class's `call`)."""
    layer.call = lambda *args, **kwargs: vectors
    try:
        yield
    finally:
        del layer.call


def piece_surface(piece):
    """The characters of the text a piece stands for: `##s` -> `s`, `▁film` -> `film`.

    Example:

    >>> [piece_surface(p) for p in ["##s", "\u2581film", "film", "[UNK]"]]
    ['s', 'film', 'film', '[UNK]']
    """
    if piece.startswith(_WORDPIECE_CONTINUATION) and len(piece) > 2:
        piece = piece[2:]
    return piece.replace(_SENTENCEPIECE_SPACE, " ").strip()


def piece_spans(text, pieces, unknown=("[UNK]", "<unk>")):
    """Character spans of tokenizer pieces in `text`, by a greedy left-to-right search.

    KerasHub's tokenizers give no character offsets, so each piece's surface
    (`piece_surface`) is searched for, case-insensitively, after the previous
    piece. A piece not found (an unknown piece, accents a lowercasing
    tokenizer stripped) does not move the search on; alone between found
    pieces, it gets the non-space characters between them (`[UNK]` for
    `été`), else `None`.

    Args:
        text: str.
        pieces: list of str, the pieces in order.
        unknown: piece strings that stand for no characters.

    Returns:
        list of `(start, end)` or `None`, one per piece.

    Example:

    >>> piece_spans("Great films!", ["great", "film", "##s", "!"])
    [(0, 5), (6, 10), (10, 11), (11, 12)]
    >>> piece_spans("an été film", ["an", "[UNK]", "film"])
    [(0, 2), (3, 6), (7, 11)]
    """
    searchable = text.lower()
    if len(searchable) != len(text):  # a rare lowercase that changes length
        searchable = "".join(char.lower()[:1] or char for char in text)
    spans, cursor = [], 0
    for piece in pieces:
        surface = piece_surface(piece).lower()
        start = searchable.find(surface, cursor) if surface and piece not in unknown else -1
        if start < 0:
            spans.append(None)
            continue
        spans.append((start, start + len(surface)))
        cursor = start + len(surface)
    return _fill_single_gaps(text, spans)


def _fill_single_gaps(text, spans):
    """A lone unfound piece (e.g. `[UNK]`) between found ones gets the non-space characters between them."""
    filled = list(spans)
    for index, span in enumerate(spans):
        lone = span is None and (index == 0 or spans[index - 1] is not None) and (
            index == len(spans) - 1 or spans[index + 1] is not None)
        if not lone:
            continue
        left = spans[index - 1][1] if index else 0
        right = spans[index + 1][0] if index < len(spans) - 1 else len(text)
        gap = text[left:right]
        if gap.strip():
            start = left + len(gap) - len(gap.lstrip())
            filled[index] = (start, left + len(gap.rstrip()))
    return filled


def words_onto_pieces(word_spans, word_attributions, spans):
    """Each word's attribution split over the pieces overlapping its characters, by overlap.

    Args:
        word_spans: list of `(start, end)` or `None`, one per word.
        word_attributions: float array, one per word.
        spans: list of `(start, end)` or `None`, one per piece.

    Returns:
        float array, one per piece (a word no piece overlaps adds nothing).

    Example:

    >>> words_onto_pieces([(0, 5)], np.array([0.6]), [(0, 3), (3, 5)]).round(2).tolist()
    [0.36, 0.24]
    """
    result = np.zeros(len(spans))
    for word_span, value in zip(word_spans, word_attributions):
        if word_span is None or not value:
            continue
        overlaps = np.array(
            [max(0, min(word_span[1], span[1]) - max(word_span[0], span[0])) if span else 0 for span in spans],
            dtype=np.float64,
        )
        if overlaps.sum() > 0:
            result += value * overlaps / overlaps.sum()
    return result


def special_ids(preprocessor):
    """The toolkit ids (padding swapped to 0) of the start and end tokens; `None` where absent."""
    from transformer_kit.backbones import _special_ids

    start, end, pad = _special_ids(preprocessor.tokenizer)
    swapped = {0: pad, pad: 0}  # as swap_ids, in Python
    return tuple(None if i is None else swapped.get(int(i), int(i)) for i in (start, end))


def member_attributions(view, token_ids, target, steps, integration_points, target_column, keep_ids,
                        points_per_pass=8):
    """Integrated gradients of one backbone member over its pieces' token embeddings.

    Args:
        view: a `BackboneMemberView`.
        token_ids: int32 `[batch, length]` toolkit ids (start, pieces, end, padding).
        target: int32 `[batch]`, the class explained.
        steps: int, Gauss-Legendre points.
        integration_points: `explanations._integration_points`.
        target_column: `explanations._target_column`.
        keep_ids: toolkit ids kept at the baseline (padding, start, end).
        points_per_pass: points batched in one gradient pass.

    Returns:
        `(attributions [batch, length], baseline_probability [batch])`.
    """
    from transformer_kit.backbones import swap_ids

    pad = view.member_pad_id
    vectors = view.token_embedding(swap_ids(token_ids, pad))
    kept = tf.zeros_like(token_ids, dtype=tf.bool)
    for kept_id in keep_ids:
        kept |= tf.equal(token_ids, kept_id)
    start = vectors * tf.cast(kept, vectors.dtype)[..., None]
    difference = vectors - start

    alphas, point_weights = integration_points(steps)
    gradient_sum = tf.zeros_like(vectors)
    for first in range(0, steps, points_per_pass):
        points = alphas[first : first + points_per_pass]
        count = min(points_per_pass, steps - first)
        path = start[None] + points[:, None, None, None] * difference[None]
        path = tf.reshape(path, tf.concat([[-1], tf.shape(vectors)[1:]], axis=0))
        with tf.GradientTape() as tape:
            tape.watch(path)
            outputs = target_column(view.probabilities(tf.tile(token_ids, [count, 1]), path),
                                    tf.tile(target, [count]))
        gradients = tf.reshape(tape.gradient(outputs, path), tf.concat([[count], tf.shape(vectors)], axis=0))
        weights = point_weights[first : first + points_per_pass]
        gradient_sum += tf.reduce_sum(gradients * weights[:, None, None, None], axis=0)
    attributions = tf.reduce_sum(gradient_sum * difference, axis=-1)
    baseline_probability = target_column(view.probabilities(token_ids, start), target)
    return attributions, baseline_probability


def combine(text, row):
    """One text's explained pieces: `(pieces, spans, attributions)`, the n-gram part moved onto the pieces.

    Args:
        text: str, the original text.
        row: one row of the explain function's outputs (numpy), with
            `tokens`, `attributions` and, for a blend, `words` and `word_attributions`.
    """
    from transformer_kit.explanation_results import token_spans

    pieces = [piece.decode("utf-8") for piece in row["tokens"] if piece]
    spans = piece_spans(text, pieces)
    attributions = row["attributions"][: len(pieces)].astype(np.float64)
    if "words" in row:
        words = [word.decode("utf-8") for word in row["words"] if word]
        word_attributions = row["word_attributions"][: len(words)].astype(np.float64)
        attributions = attributions + words_onto_pieces(token_spans(text, words), word_attributions, spans)
    return pieces, spans, attributions
