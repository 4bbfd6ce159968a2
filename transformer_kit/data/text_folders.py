"""Folders of `.txt` files, one text per file, in the layout `keras.utils.text_dataset_from_directory` reads.

One subfolder per class (`aclImdb/train/pos/…`), its `.txt` files at any
depth; without subfolders, the `.txt` files directly in the folder are
unlabelled texts.
"""

import os
from pathlib import Path

import pandas as pd

from transformer_kit.data.encodings import decoding_suggestion
from transformer_kit.errors import DataError


def folder_layout(path):
    """The class subfolders and their `.txt` files, as `text_dataset_from_directory` lists them.

    Classes are the subfolders of `path`, in sorted order; a class's files
    are its `.txt` files at any depth (folders in sorted order, files sorted
    within each). Without subfolders, the `.txt` files directly in `path`
    form one unlabelled group (class `None`), for prediction.

    Args:
        path: `pathlib.Path` of a folder.

    Returns:
        list of `(class name or None, list of pathlib.Path)`.

    Raises:
        DataError: the folder holds neither class subfolders with `.txt` files
            nor `.txt` files.
    """
    classes = sorted(child.name for child in path.iterdir() if child.is_dir())
    layout = [(name, _txt_files(path / name)) for name in classes]
    layout = [(name, files) for name, files in layout if files]
    if layout:
        return layout
    top = sorted(child for child in path.iterdir() if child.is_file() and _is_txt(child))
    if top:
        return [(None, top)]
    tables = sorted(child.name for child in path.iterdir() if child.is_file() and _is_data_file(child))[:5]
    hint = f" It contains: {', '.join(tables)}; pass one of those files instead." if tables else ""
    raise DataError(
        f"{path} is a directory with no class subfolders of .txt files.{hint} A folder of texts has one subfolder "
        "per class with one .txt file per text (e.g. train/pos/1.txt, train/neg/2.txt), as for "
        "keras.utils.text_dataset_from_directory."
    )


def _txt_files(folder):
    files = []
    for root, _, names in sorted(os.walk(folder), key=lambda entry: entry[0]):
        files += [Path(root) / name for name in sorted(names) if _is_txt(Path(name))]
    return files


def _is_data_file(path):
    return path.name.lower().removesuffix(".gz").endswith((".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet"))


def _is_txt(path):
    return path.name.lower().endswith(".txt")


def read_text_folder(path, text_column="text", label_column="label", encoding=None, chunk_rows=None):
    """Yield `(frame, numbers)` with one row per `.txt` file of a class folder layout.

    Columns: `file` (the path relative to `path`), `text_column` (the file's
    whole content, exactly as written) and, for a labelled layout,
    `label_column` (the subfolder name). `numbers` are the 1-based positions
    of the files in the listing.

    Args:
        path: `pathlib.Path` of the folder (see `folder_layout`).
        text_column, label_column: the column names to give.
        encoding: str or `None` for UTF-8.
        chunk_rows: int or `None` for one frame.

    Raises:
        DataError: a file is not in `encoding` (naming the file and the
            encoding it looks like).
    """
    encoding = encoding or "utf-8"
    rows, numbers, number = [], [], 0
    for label, files in folder_layout(path):
        for file in files:
            number += 1
            raw = file.read_bytes()
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as error:
                raise DataError(
                    f"{file} is not valid {encoding}: byte 0x{raw[error.start:error.start + 1].hex()} at byte offset "
                    f"{error.start} cannot be decoded. {decoding_suggestion(raw) or 'Re-save it as UTF-8.'}"
                ) from None
            row = {"file": str(file.relative_to(path)), text_column: text}
            if label is not None:
                row[label_column] = label
            rows.append(row)
            numbers.append(number)
            if chunk_rows and len(rows) >= chunk_rows:
                yield pd.DataFrame(rows, dtype=object), numbers
                rows, numbers = [], []
    if rows or not chunk_rows:
        yield pd.DataFrame(rows, dtype=object), numbers


def folder_bytes(path):
    """Total size of the `.txt` files in a folder layout (for the streaming decision)."""
    return sum(file.stat().st_size for _, files in folder_layout(path) for file in files)
