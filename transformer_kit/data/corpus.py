"""Unlabeled texts from the files users have, streamed one document at a time.

`iter_corpus_texts` reads, by file name:

- `.csv` / `.tsv`: the `text_column` of each row (in chunks, so any size; the
  encoding detected and the delimiter sniffed as in `transformer_kit.data.formats`);
- `.jsonl` / `.json` (JSON Lines): the `text_column` field of each line's object;
- `.txt` and any other file: one document per line;
- a directory: every such file below it, in sorted order, except that a
  `.txt` file inside a directory is ONE document (the layout of
  `keras.utils.text_dataset_from_directory` and aclImdb: one review a file);

each optionally gzipped (`.gz`). Empty documents are skipped.
"""

import gzip
import json

import pandas as pd

from transformer_kit.data.formats import csv_dialect
from transformer_kit.data.paths import as_path_list
from transformer_kit.errors import DataError

CHUNK_ROWS = 50_000


def iter_corpus_texts(paths, text_column="text"):
    """Yield the documents of `paths` (a path or a list of paths), as str.

    Args:
        paths: files or directories (see the module docstring), globs, or a list of them.
        text_column: column of CSV/TSV files, field of JSON Lines objects.

    Yields:
        str, one non-empty document at a time.

    Raises:
        DataError: a path is missing, a table has no `text_column`, or a
            JSON line is not an object with that field.

    Example:

    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.txt").write_text("first line\\nsecond line\\n")
    >>> _ = (folder / "b.jsonl").write_text('{"text": "from json"}\\n')
    >>> list(iter_corpus_texts(folder / "a.txt")) + list(iter_corpus_texts(folder / "b.jsonl"))
    ['first line', 'second line', 'from json']
    >>> list(iter_corpus_texts(folder))  # in a folder, a .txt file is one document
    ['first line\\nsecond line', 'from json']
    """
    for path in as_path_list(paths):
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
                yield from _file_texts(file, text_column, whole_txt=True)
        elif path.is_file():
            yield from _file_texts(path, text_column, whole_txt=False)
        else:
            raise DataError(f"Corpus {path} not found. Pass text, CSV/TSV, JSON Lines files or folders of them.")


def _file_texts(path, text_column, whole_txt):
    kind = _kind(path)
    opener = gzip.open if path.suffix == ".gz" else open
    if kind in ("csv", "tsv"):
        # Read as the labelled loader reads tables: encoding detected, delimiter sniffed.
        dialect = csv_dialect(path)
        reader = pd.read_csv(path, sep=dialect.delimiter, encoding=dialect.encoding, dtype=str,
                             keep_default_na=False, chunksize=CHUNK_ROWS, compression="infer",
                             usecols=lambda column: column == text_column)
        for chunk in reader:
            if text_column not in chunk.columns:
                raise DataError(f"{path}: no column {text_column!r}. Pass the text column with --text-column.")
            yield from (text for text in chunk[text_column] if text.strip())
        return
    with opener(path, "rt", encoding="utf-8", errors="replace") as file:
        if kind == "txt" and whole_txt:
            text = file.read().strip()
            if text:
                yield text
            return
        for number, line in enumerate(file, start=1):
            if kind == "jsonl":
                line = _json_text(line, path, number, text_column)
            line = line.strip()
            if line:
                yield line


def _json_text(line, path, number, text_column):
    if not line.strip():
        return ""
    try:
        record = json.loads(line)
        return str(record[text_column])
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise DataError(
            f"{path}, line {number}: expected a JSON object with a {text_column!r} field ({error}). "
            "JSON Lines files hold one object per line; pass the field name with --text-column."
        ) from None


def _kind(path):
    name = path.name.lower().removesuffix(".gz")
    for suffix, kind in ((".csv", "csv"), (".tsv", "tsv"), (".jsonl", "jsonl"), (".json", "jsonl"), (".txt", "txt")):
        if name.endswith(suffix):
            return kind
    return "lines"
