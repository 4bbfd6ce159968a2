"""Word vectors: read the usual formats and turn them into a classifier's first token embeddings.

Formats read by `load_word_vectors`:

- text, one word per line followed by its numbers: GloVe `.txt` (no header),
  word2vec and fastText `.vec` (a first line `"<count> <dim>"`), each
  optionally gzipped (`.gz`);
- fastText `.bin` models (with gensim installed): words and subword vectors;
- a directory holding one such file, named `vectors.vec` or `vectors.txt`
  (optionally `.gz`), as `transformer-kit vectors` writes; when it also
  holds `fasttext.bin` and gensim is installed, tokens without a vector get
  fastText's subword (character n-gram) vectors.

Words are matched to the classifier's tokens as the tokenizer writes them
(lowercased, punctuation split off): first exactly, then lowercased. Tokens
without a vector get random vectors with the same per-dimension spread as
the known ones, so that they start on the same scale.
"""

import dataclasses
import gzip
import hashlib
import logging
import struct
from pathlib import Path

import numpy as np

from transformer_kit.errors import DataError

log = logging.getLogger(__name__)

DIRECTORY_FILES = ("vectors.vec", "vectors.vec.gz", "vectors.txt", "vectors.txt.gz")


@dataclasses.dataclass
class WordVectors:
    """Vectors for words, as read from a file.

    Attributes:
        words: list of str.
        vectors: float32 array `(len(words), dim)`.
        source: str, the file read.
        sha256: str, the file's SHA-256, recorded with the run.
    """

    words: list
    vectors: np.ndarray
    source: str
    sha256: str
    subword_vectors: object = None  # callable: list of words -> array, for words without a vector

    @property
    def dim(self):
        """int: the vectors' dimension."""
        return int(self.vectors.shape[1])

    def embedding_matrix(self, vocabulary, embed_dim, seed=0):
        """Initial token embeddings for `vocabulary`, and how much of it the vectors cover.

        Row 0 (padding) is zero. Tokens without a vector, `"[UNK]"` included,
        get random vectors with the known vectors' per-dimension standard
        deviation. Vectors of another dimension than `embed_dim` are
        projected onto their `embed_dim` principal directions (PCA over the
        vocabulary's known vectors), or, when shorter, completed with random
        columns of the same spread.

        Args:
            vocabulary: list of str, the classifier's tokens by id.
            embed_dim: int, the model's embedding width.
            seed: int, for the random rows and columns.

        Returns:
            `(matrix, coverage)`: float32 `(len(vocabulary), embed_dim)` and a
            dict with `words_covered`, `vocabulary_size`, `share_of_vocabulary`.

        Example:

        >>> vectors = WordVectors(["good", "bad"], np.array([[1, 0], [0, 1]], "float32"), "toy", "-")
        >>> matrix, coverage = vectors.embedding_matrix(["", "[UNK]", "good", "Bad", "film"], embed_dim=2)
        >>> matrix[2].tolist(), matrix[3].tolist(), coverage["words_covered"]
        ([1.0, 0.0], [0.0, 1.0], 2)
        """
        index = {word: row for row, word in enumerate(self.words)}
        rows = [index.get(token, index.get(token.lower())) for token in vocabulary]
        exact = [i for i, row in enumerate(rows) if row is not None and i > 1]
        found = self.vectors[[rows[i] for i in exact]] if exact else self.vectors[:0]
        by_subwords = []
        if self.subword_vectors is not None:
            by_subwords = [i for i, row in enumerate(rows) if row is None and i > 1]
            if by_subwords:
                found = np.vstack([found, self.subword_vectors([vocabulary[i] for i in by_subwords])])
        known = exact + by_subwords
        rng = np.random.default_rng(seed)
        source = found if len(found) > 1 else self.vectors
        projected = _to_dimension(found, source, embed_dim, rng)
        spread = projected.std(axis=0) if len(projected) > 1 else np.full(embed_dim, 0.05)
        matrix = rng.normal(0.0, spread, size=(len(vocabulary), embed_dim)).astype("float32")
        matrix[known] = projected
        matrix[0] = 0.0
        coverage = {
            "words_covered": len(exact),
            "words_from_subwords": len(by_subwords),
            "vocabulary_size": max(len(vocabulary) - 2, 0),
            "share_of_vocabulary": round(len(exact) / max(len(vocabulary) - 2, 1), 4),
            "source": self.source,
            "sha256": self.sha256,
            "dim": self.dim,
        }
        return matrix, coverage


def load_word_vectors(path, max_words=None):
    """Read word vectors from a file or a vectors directory (see the module docstring).

    Args:
        path: str or Path.
        max_words: int or `None`: read only the first (most frequent, in
            the usual files) `max_words` words.

    Returns:
        A `WordVectors`.

    Raises:
        DataError: the path is missing, or a line is not a word and numbers.

    Example:

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "toy.vec"
    >>> _ = path.write_text("2 3\\ngood 1 0 0\\nbad 0 1 0\\n")
    >>> vectors = load_word_vectors(path)
    >>> vectors.words, vectors.dim
    (['good', 'bad'], 3)
    """
    subwords = _subword_model(Path(path))
    path = _vector_file(Path(path))
    if path.suffix == ".bin":
        return _read_fasttext_binary(path)
    opener = gzip.open if path.suffix == ".gz" else open
    words, rows, dim = [], [], None
    with opener(path, "rt", encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            parts = line.rstrip("\n").rstrip(" ").split(" ")
            if number == 1 and len(parts) == 2 and all(part.isdigit() for part in parts):
                continue  # the word2vec / fastText header: "<count> <dim>"
            if len(parts) < 2:
                continue
            dim = dim or _trailing_numbers(parts)
            # Some GloVe words contain spaces: the last `dim` fields are the numbers.
            word, numbers = " ".join(parts[:-dim]), parts[-dim:]
            try:
                rows.append(np.asarray(numbers, dtype="float32"))
            except ValueError:
                raise DataError(
                    f"{path}, line {number}: expected a word and {dim} numbers, got {line[:80]!r}. Word "
                    "vectors are read from GloVe .txt or word2vec/fastText .vec text files (optionally .gz)."
                ) from None
            if not word:
                raise DataError(f"{path}, line {number}: {dim} numbers but no word before them.")
            words.append(word)
            if max_words and len(words) >= max_words:
                break
    if not words:
        raise DataError(f"{path} holds no word vectors.")
    return WordVectors(words, np.stack(rows), str(path), _sha256(path), subwords)


def _read_fasttext_binary(path):
    """A fastText `.bin` model: its words and, for unseen words, its subword vectors (needs gensim)."""
    vectors = _load_facebook_vectors(path)
    return WordVectors(list(vectors.index_to_key), np.asarray(vectors.vectors, "float32"), str(path), _sha256(path),
                       _subword_vectors(vectors))


def _load_facebook_vectors(path):
    try:
        from gensim.models.fasttext import load_facebook_vectors
    except ImportError:
        raise DataError(
            f"{path} is a fastText binary model, which needs gensim to read: pip install "
            '"transformer_kit[vectors]", or pass the .vec text file fastText ships beside it.'
        ) from None
    try:
        return load_facebook_vectors(str(path))
    except (ValueError, NotImplementedError, OSError, AssertionError, EOFError, struct.error) as error:
        raise DataError(f"{path} is not a fastText binary model ({error}). Word2vec .bin files: save them as text.") \
            from None


def _subword_model(path):
    """fastText's subword vectors from `path/fasttext.bin`, if there is one and gensim is installed."""
    model_file = path / "fasttext.bin" if path.is_dir() else None
    if model_file is None or not model_file.is_file():
        return None
    try:
        vectors = _load_facebook_vectors(model_file)
    except DataError as error:  # gensim missing, or the file unreadable: the message says which
        log.warning("%s Its subword vectors are not used: unseen words start at random.", error)
        return None
    return _subword_vectors(vectors)


def _subword_vectors(vectors):
    """Words -> float32 rows from gensim fastText vectors (built from character n-grams when unseen)."""
    return lambda words: np.stack([vectors[word] for word in words]).astype("float32")


def _trailing_numbers(parts):
    """How many fields at the end of a line are numbers (leaving at least one for the word)."""
    count = 0
    for part in reversed(parts[1:]):
        try:
            float(part)
        except ValueError:
            break
        count += 1
    return max(count, 1)


def _vector_file(path):
    if path.is_dir():
        for name in DIRECTORY_FILES:
            if (path / name).is_file():
                return path / name
        raise DataError(f"{path} is a directory without word vectors: expected one of {', '.join(DIRECTORY_FILES)}.")
    if not path.is_file():
        raise DataError(
            f"Word vectors {path} not found. Pass a GloVe .txt, a word2vec/fastText .vec (optionally .gz) "
            "or a directory written by `transformer-kit vectors`."
        )
    return path


def _to_dimension(found, source, embed_dim, rng):
    """`found` vectors as `embed_dim` columns: PCA of `source` when longer, random columns when shorter."""
    dim = source.shape[1]
    if dim == embed_dim:
        return found.astype("float32")
    if dim > embed_dim:
        centered = source - source.mean(axis=0)
        # The top principal directions keep most of the vectors' geometry.
        _, _, directions = np.linalg.svd(centered, full_matrices=False)
        log.info("Projecting %d-dimensional word vectors onto %d principal directions (embed_dim).", dim, embed_dim)
        return ((found - source.mean(axis=0)) @ directions[:embed_dim].T).astype("float32")
    extra = rng.normal(0.0, source.std(axis=0).mean(), size=(len(found), embed_dim - dim))
    return np.hstack([found, extra]).astype("float32")


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
