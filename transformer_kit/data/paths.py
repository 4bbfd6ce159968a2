"""Which inputs name files: the one place where data paths are normalised.

Users pass a path, a `pathlib.Path`, a glob (`"data/part-*.csv"`), a folder,
or a list of these; or texts held in memory. `data_file_paths` tells the two
apart and turns the first kind into a list of `pathlib.Path`; everything that
reads files (`TextSource`, the streaming decision, the memory check) asks it.
`refuse_non_paths` says, in one line, what was passed instead of a path.
"""

import difflib
import glob
import os
from pathlib import Path

import numpy as np
import pandas as pd

from transformer_kit.data.formats import folder_bytes
from transformer_kit.errors import DataError

# Names that are data files (in a list of sources, a string with one of these
# endings is a path even when the file does not exist yet: it gets the
# missing-file message, not the list-of-texts one).
TABLE_ENDINGS = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".gz", ".txt", ".jsonl", ".ndjson", ".json", ".parquet", ".pq")
_GLOB_CHARACTERS = ("*", "?", "[")


def data_file_paths(source):
    """The files `source` names, or `None` when it is not a path or list of paths.

    A string counts as a path unless no file could have that name (several
    lines, or longer than the OS allows); in a list, every string must end
    in `.csv`, `.tsv`, `.gz` or `.txt` or name an existing file, so that a
    list of texts is not mistaken for a list of missing files. A string with
    `*`, `?` or `[` that matches files is a glob: it stands for those files,
    in sorted order.

    Args:
        source: anything passed as data.

    Returns:
        list of `pathlib.Path`, or `None`.

    Example:

    >>> [str(path) for path in data_file_paths(["data/trec_train.csv", "data/trec_test.csv"])]
    ['data/trec_train.csv', 'data/trec_test.csv']
    >>> [str(path) for path in data_file_paths("data/trec_t*.csv")]
    ['data/trec_test.csv', 'data/trec_train.csv']
    >>> data_file_paths(["a good film", "a bad film"]) is None
    True
    """
    if isinstance(source, (str, os.PathLike)):
        return None if isinstance(source, str) and not _could_be_path(source) else as_path_list(source)
    if isinstance(source, (list, tuple)) and source and all(
        isinstance(item, os.PathLike) or (isinstance(item, str) and _names_file(item)) for item in source
    ):
        return as_path_list(source)
    return None


def as_path_list(source):
    """A path, glob, or list of them, as a list of `pathlib.Path` (globs expanded), whatever they look like.

    `data_file_paths` first decides whether data is paths at all; a corpus
    (`transformer_kit.data.corpus`) is paths by definition.

    Example:

    >>> as_path_list("corpus.txt"), len(as_path_list(["data/trec_t*.csv", "more.txt"]))
    ([PosixPath('corpus.txt')], 3)
    """
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    return [path for item in items for path in _expand(item)]


def _expand(item):
    """`item` as paths: the files a matching glob names, else the one path."""
    text = str(item)
    if any(character in text for character in _GLOB_CHARACTERS) and not _exists(Path(text)):
        matches = sorted(glob.glob(text))
        if matches:
            return [Path(match) for match in matches]
    return [Path(item)]


def total_bytes(paths):
    """Bytes in `paths` (a folder: its `.txt` files; a missing file: 0), for the streaming decision.

    Example:

    >>> total_bytes([Path("data/trec_test.csv")]) > 0
    True
    """
    return sum(folder_bytes(path) if path.is_dir() else path.stat().st_size if path.is_file() else 0
               for path in paths)


def refuse_non_paths(source, text_column="text", label_column="label"):
    """A `DataError` saying what `source` is instead of a path, list of paths or DataFrame.

    Args:
        source: what was passed as data.
        text_column, label_column: named in the fix the message suggests.

    Raises:
        DataError: always.

    Example:

    >>> refuse_non_paths(["a good film", "a bad film"])
    Traceback (most recent call last):
    ...
    transformer_kit.errors.DataError: Expected a path, ... but got a list of 2 strings that look like texts, ...
    """
    fix = (
        "To use texts held in memory, pass them with their labels: fit(texts, labels) or "
        f"(texts, labels), or a DataFrame with columns {text_column!r} and {label_column!r}."
    )
    expected = "Expected a path, a list of paths or a DataFrame as data, but got"
    if isinstance(source, str):
        raise DataError(f"{expected} a string that looks like a text, not a file path ({_shorten(source)}). {fix}")
    if isinstance(source, (list, tuple, np.ndarray, pd.Series, pd.Index)):
        items = list(np.ravel(source)) if isinstance(source, np.ndarray) else list(source)
        if not items:
            raise DataError("No data files were given. Pass at least one CSV file.")
        raise DataError(f"{expected} {_describe_values(source, items)}. {fix}")
    raise DataError(
        f"{expected} an object of type {type(source).__name__}: {_shorten(repr(source), quote=False)}. {fix}"
    )


def missing_file_message(path):
    """The message for a path that does not exist: the working directory, close names, and the fix.

    Example:

    >>> missing_file_message(Path("data/trec_tran.csv"))
    'data/trec_tran.csv: no such file (relative paths are read from ...). Did you mean: data/trec_train.csv...'
    """
    message = f"{path}: no such file (relative paths are read from {os.getcwd()})."
    folder = path.parent if str(path.parent) else Path(".")
    if folder.is_dir():
        siblings = [p.name for p in folder.iterdir() if _is_table_file(p)]
        close = difflib.get_close_matches(path.name, siblings, n=3, cutoff=0.6)
        if close:
            message += f" Did you mean: {', '.join(str(folder / c) for c in close)}?"
    elif not path.is_absolute():
        message += f" The folder {folder} does not exist either."
    message += " Check the path, or pass an absolute path."
    if " " in path.name and not path.name.lower().endswith(TABLE_ENDINGS):
        message += " If it is a text, not a path, pass texts with their labels: fit(texts, labels)."
    return message


def shorten(text, limit=60, quote=True):
    """`text` cut to `limit` characters with `...`, as `repr` (or as is with `quote=False`), for messages."""
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return repr(text) if quote else text


_shorten = shorten


def _names_file(text):
    """Whether a string in a list of sources is meant as a file path.

    A data file's name, an existing file, or a folder path without spaces
    ("data/train"): texts are rarely any of these, so a mistyped path still
    gets the missing-file message, and a list of texts the list-of-texts one.
    """
    if not _could_be_path(text):
        return False
    if text.lower().endswith(TABLE_ENDINGS):
        return True
    folder_path = ("/" in text or os.sep in text) and not any(character.isspace() for character in text)
    return folder_path or _exists(Path(text))


def _could_be_path(text):
    # Longer than any file name the OS allows, or several lines: a text.
    return "\n" not in text and len(text) < 4096 and all(len(part) <= 255 for part in Path(text).parts)


def _exists(path):
    try:
        return path.exists()
    except OSError:  # e.g. "File name too long"
        return False


def _describe_values(source, items):
    kind = {list: "list", tuple: "tuple", np.ndarray: "NumPy array"}.get(type(source), type(source).__name__)
    if all(isinstance(item, str) for item in items):
        not_files = sum(not _names_file(item) for item in items)
        if not_files == len(items):
            what = "that look like texts, not file paths"
            if len(items) == 1:
                what = "that looks like a text, not a file path"
        else:
            what = f"({not_files:,} of them neither an existing file nor a .csv/.tsv name)"
        return f"a {kind} of {_count(len(items), 'string')} {what}; the first is {_shorten(str(items[0]))}"
    types = ", ".join(sorted({type(item).__name__ for item in items}))
    first = _shorten(repr(items[0]), quote=False)
    return f"a {kind} of {_count(len(items), 'value')} of type {types}; the first is {first}"


def _count(number, noun):
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


def _is_table_file(path):
    name = path.name.lower()
    return path.is_file() and name.endswith(TABLE_ENDINGS) and not name.endswith((".txt", ".gz"))
