"""Load a CSV/TSV of labelled texts into a `TextDataset`.

This is the boundary where user files enter the toolkit, so every problem a
user can fix (missing file, wrong column name, wrong encoding, bad quoting)
becomes a `DataError` that names the file, column, line or value at fault and
says what to do. Nothing downstream validates the file again.
"""

import csv
import dataclasses
import difflib
import gzip
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from transformer_kit.data.formats import (
    SAMPLE_BYTES,
    csv_dialect,
    decoding_suggestion,
    file_kind,
    folder_layout,
    join_text_columns,
    joined_columns_note,
    open_binary,
    read_json_records,
    read_parquet,
    read_text_folder,
    text_columns,
)
from transformer_kit.errors import DataError


@dataclasses.dataclass
class TextDataset:
    """Texts and (optional) string labels loaded from a CSV, TSV or DataFrame.

    Args:
        texts: list of str. One text per kept row.
        labels: list of str, or `None` when the source has no label column
            (only possible with `require_labels=False`). Labels are always
            strings: an integer label `1` becomes `"1"`.
        frame: `pandas.DataFrame`. The kept rows with all original columns,
            index reset to `0..n-1`, so `frame.iloc[i]` is `texts[i]`'s row.
        source: str. Human-readable description of where the rows came from,
            used in error messages and reports.
        dropped: dict of str to int. Rows dropped and why, e.g.
            `{"missing_text": 2, "empty_text": 1, "missing_label": 3}`.
            Reasons with zero rows are omitted.
        row_numbers: list of int. For file sources, the 1-based line number
            (header = line 1) where each kept row starts in its file, so error
            messages and prediction outputs can point at the exact line (JSON
            Lines: the line; Parquet: the 1-based row; a folder: the 1-based
            position of the file in the listing). For a DataFrame source, the
            0-based position (`iloc`) in that DataFrame.
        notes: list of str. How the files were read, where that is not
            plain UTF-8 CSV with commas: a detected encoding, a sniffed
            delimiter, a folder layout, joined text columns. The data report
            shows them.

    Example:

    >>> ds = load_csv_dataset("data/sms_spam_train.csv")
    >>> len(ds), ds.labels[0]
    (4459, 'ham')
    """

    texts: list
    labels: list | None
    frame: pd.DataFrame
    source: str
    dropped: dict = dataclasses.field(default_factory=dict)
    row_numbers: list = dataclasses.field(default_factory=list)
    notes: list = dataclasses.field(default_factory=list)

    def __len__(self):
        return len(self.texts)


def load_csv_dataset(
    source,
    text_column="text",
    label_column="label",
    encoding=None,
    require_labels=True,
    drop_empty_text=True,
):
    """Load labelled texts from CSV/TSV, JSON Lines or Parquet files, folders or a DataFrame.

    Files are read by their name (see `transformer_kit.data.formats`): `.tsv`
    as tab-separated; `.jsonl`/`.json` as JSON Lines (fields are columns);
    `.parquet` through pyarrow (the `parquet` extra); a folder in the
    `text_dataset_from_directory` layout (one subfolder per class, one `.txt`
    file per text) gives columns `file`, `text_column` and `label_column`;
    everything else is CSV, its delimiter (`,`, `;` or tab) sniffed from the
    header. Without `encoding`, a CSV's encoding is detected (UTF-8, GB18030,
    Big5, Shift-JIS, cp1252) and named in `TextDataset.notes`. `.gz` files are
    decompressed on the fly. All cells are read as strings, and only truly empty cells count as missing:
    the text `"NA"`, `"null"` or `"None"` stays text, because a spam message
    that says "NA" is data, not a missing value.

    Rows with no text (an empty cell), with only whitespace, or (when labels
    are required) with an empty label are dropped and counted in
    `TextDataset.dropped`. Labels have surrounding whitespace stripped, since
    `"spam "` and `"spam"` are never meant to be different classes; texts are
    kept exactly as written.

    Args:
        source: str or `pathlib.Path` (one file), a list of them (read and
            concatenated in order), or a `pandas.DataFrame`. Texts held in
            memory go in a DataFrame (or, to the classifier, as
            `fit(texts, labels)`); a list of texts here is an error.
        text_column: str, default `"text"`. Column holding the texts; or a
            list of columns, joined in that order with a line break
            (`join_text_columns`; a missing cell counts as empty).
        label_column: str, default `"label"`. Column holding the class names.
        encoding: str or `None`, default `None` (detected for CSV/TSV, UTF-8
            otherwise). Text encoding of the files, e.g. `"gb18030"`.
        require_labels: bool, default `True`. When `False` (prediction), the
            label column may be absent (then `labels` is `None`); when it is
            present, rows with an empty label are kept with label `""`.
        drop_empty_text: bool, default `True`. When `False`, rows with empty
            or missing text are kept (a missing text becomes `""`), so every
            input row gets a prediction.

    Returns:
        A `TextDataset`.

    Raises:
        DataError: `source` is not a path, list of paths or DataFrame (say,
            a list of texts); the file is missing, a directory, empty, has
            only a header, cannot be parsed, is not in `encoding`, lacks a
            column, or has no usable rows left.

    Example:

    >>> train = load_csv_dataset("data/trec_train.csv")
    >>> sorted(set(train.labels))[:3]
    ['ABBR', 'DESC', 'ENTY']
    >>> both = load_csv_dataset(["data/trec_train.csv", "data/trec_test.csv"])
    >>> len(both) == len(train) + len(load_csv_dataset("data/trec_test.csv"))
    True
    >>> unlabelled = load_csv_dataset(pd.DataFrame({"text": ["hi", None]}), require_labels=False,
    ...                               drop_empty_text=False)
    >>> unlabelled.texts, unlabelled.labels
    (['hi', ''], None)
    >>> load_csv_dataset(["a good film", "a bad film"])
    Traceback (most recent call last):
    ...
    transformer_kit.errors.DataError: Expected a path, ... but got a list of 2 strings that look like texts, ...
    """
    paths = None if isinstance(source, pd.DataFrame) else _as_source_paths(source, text_column, label_column)
    if paths is None:
        frame = source.reset_index(drop=True)
        description = "DataFrame"
        row_numbers, notes = list(range(len(frame))), []
        if frame.empty:
            raise DataError(
                "The DataFrame passed as data has no rows. Pass a DataFrame "
                f"with a {text_column!r} column and at least one row."
            )
    else:
        frames, row_numbers, notes = [], [], []
        for path in paths:
            part, lines, read_notes = _read_file(Path(path), encoding, text_column, label_column)
            frames.append(part)
            row_numbers.extend(lines)
            notes.extend(read_notes)
        # A missing column is reported per file by _require_column below, on
        # the concatenated frame it would show up as NaN cells instead.
        for path, part in zip(paths, frames):
            for column in text_columns(text_column):
                _require_column(part, column, "text", str(path))
            if require_labels:
                _require_column(part, label_column, "label", str(path))
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        description = " + ".join(str(p) for p in paths)

    columns = text_columns(text_column)
    for column in columns:
        _require_column(frame, column, "text", description)
    has_labels = label_column in frame.columns
    if require_labels:
        _require_column(frame, label_column, "label", description)
    if len(columns) > 1:
        notes.append(joined_columns_note(columns))
    for column in columns:
        _require_text_cells(frame[column], column, description, row_numbers, paths is not None)

    joined_texts, missing_text = join_text_columns(frame, columns, as_text_list)
    missing_text = missing_text.astype(bool)
    texts = pd.Series(joined_texts, index=frame.index, dtype=object)
    empty_text = ~missing_text & (texts.str.strip() == "")
    keep = pd.Series(True, index=frame.index)
    dropped = {}
    if drop_empty_text:
        keep &= ~missing_text & ~empty_text
        dropped["missing_text"] = int(missing_text.sum())
        dropped["empty_text"] = int(empty_text.sum())

    labels = None
    if has_labels:
        labels = _labels_to_strings(frame[label_column])
        if require_labels:
            missing_label = labels == ""
            # Count a row once, under the first reason it was dropped for.
            dropped["missing_label"] = int((missing_label & keep).sum())
            keep &= ~missing_label

    dropped = {reason: count for reason, count in dropped.items() if count}
    if not keep.any():
        reasons = ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in dropped.items())
        raise DataError(
            f"{description}: no usable rows left after dropping rows "
            f"({reasons}). Check that --text-column {text_column!r}"
            + (f" and --label-column {label_column!r}" if require_labels else "")
            + " name the right columns and that they are filled in."
        )

    kept_rows = keep.to_numpy()
    return TextDataset(
        texts=texts[keep].tolist(),
        labels=labels[keep].tolist() if labels is not None else None,
        frame=frame[keep].reset_index(drop=True),
        source=description,
        dropped=dropped,
        row_numbers=[n for n, k in zip(row_numbers, kept_rows) if k],
        notes=notes,
    )


_TABLE_ENDINGS = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".gz", ".txt", ".jsonl", ".ndjson", ".json", ".parquet", ".pq")


def as_text_dataset(data, labels=None, text_column="text", label_column="label", role="data", encoding=None):
    """Any of the forms `TextClassifier` accepts, as a `TextDataset`.

    Args:
        data: texts (with `labels`), a `(texts, labels)` pair, a
            `TextDataset`, or what `load_csv_dataset` reads (path(s),
            DataFrame).
        labels: one label per text, or `None`.
        text_column, label_column: column names in files and DataFrames.
        role: what the data is for, in error messages.
        encoding: the files' encoding, as in `load_csv_dataset`.

    Returns:
        A `TextDataset`.

    Example:

    >>> dataset = as_text_dataset(["good", "bad", None], ["pos", "neg", "neg"])
    >>> dataset.texts, dataset.dropped  # a missing text is dropped, as in files
    (['good', 'bad'], {'missing_text': 1})
    """
    if labels is not None:
        data = (data, labels)
    if isinstance(data, TextDataset):
        return data
    if isinstance(data, tuple) and len(data) == 2:
        texts, labels = as_text_list(data[0]), list(data[1])
        if len(texts) != len(labels):
            raise DataError(f"The {role} has {len(texts)} texts but {len(labels)} labels; give one label per text.")
        # Through the loader, so labels and empty texts follow the file rules.
        return load_csv_dataset(pd.DataFrame({"text": data[0], "label": labels}), "text", "label")
    return load_csv_dataset(data, text_column=text_column, label_column=label_column, encoding=encoding)


def data_file_paths(source):
    """The files `source` names, or `None` when it is not a path or list of paths.

    A string counts as a path unless no file could have that name (several
    lines, or longer than the OS allows); in a list, every string must end
    in `.csv`, `.tsv`, `.gz` or `.txt` or name an existing file, so that a
    list of texts is not mistaken for a list of missing files.

    Args:
        source: anything passed as data.

    Returns:
        list of `pathlib.Path`, or `None`.

    Example:

    >>> [str(path) for path in data_file_paths(["data/trec_train.csv", "data/trec_test.csv"])]
    ['data/trec_train.csv', 'data/trec_test.csv']
    >>> data_file_paths(["a good film", "a bad film"]) is None
    True
    """
    if isinstance(source, (str, os.PathLike)):
        return [Path(source)] if not isinstance(source, str) or _could_be_path(source) else None
    if isinstance(source, (list, tuple)) and source and all(
        isinstance(item, os.PathLike) or (isinstance(item, str) and _names_file(item)) for item in source
    ):
        return [Path(item) for item in source]
    return None


def _as_source_paths(source, text_column, label_column):
    """The file paths in `source`, or a `DataError` saying what it is instead."""
    paths = data_file_paths(source)
    if paths is not None:
        return paths
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


def _names_file(text):
    """Whether a string in a list of sources is meant as a file path.

    A data file's name, an existing file, or a folder path without spaces
    ("data/train"): texts are rarely any of these, so a mistyped path still
    gets the missing-file message, and a list of texts the list-of-texts one.
    """
    if not _could_be_path(text):
        return False
    if text.lower().endswith(_TABLE_ENDINGS):
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


def _shorten(text, limit=60, quote=True):
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return repr(text) if quote else text


def _read_file(path, encoding, text_column="text", label_column="label"):
    """Read one file or folder as strings; return (frame, 1-based line of each row, notes)."""
    if not path.exists():
        raise DataError(_missing_file_message(path))
    if path.is_dir():
        return _read_folder(path, encoding, text_column, label_column)
    if path.stat().st_size == 0:
        raise DataError(
            f"{path} is empty (0 bytes). Pass a CSV file with a header row "
            "such as 'text,label' followed by one row per example."
        )
    kind = file_kind(path)
    if kind in ("jsonl", "parquet"):
        if kind == "jsonl":
            parts = list(read_json_records(path, encoding))
        else:
            parts = list(read_parquet(path))
        frame = pd.concat([part for part, _ in parts], ignore_index=True) if len(parts) > 1 else parts[0][0]
        if frame.empty:
            raise DataError(f"{path} holds no records. Add one record (row) per example.")
        return frame, [number for _, numbers in parts for number in numbers], []
    dialect = csv_dialect(path, encoding)
    sep, encoding = dialect.delimiter, dialect.encoding
    file_type = {"\t": "TSV", ";": "semicolon-separated CSV"}.get(sep, "CSV")
    try:
        frame = pd.read_csv(
            path,
            sep=sep,
            dtype=str,
            # Only a truly empty cell is missing: "NA", "null", "None" and
            # "nan" are plausible texts and labels and must survive loading.
            keep_default_na=False,
            na_values=[""],
            encoding=encoding,
            compression="infer",
        )
    except UnicodeDecodeError as error:
        raise DataError(_decode_error_message(path, encoding, error, dialect.encoding_detected)) from None
    except LookupError as error:  # Unknown codec name.
        raise DataError(
            f"Unknown encoding {encoding!r} for {path}: {error}. Pass a valid "
            "Python codec name, e.g. --encoding gb18030, --encoding cp1252 or --encoding utf-16, "
            "or leave --encoding out to have it detected."
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{path} contains no header and no rows. Pass a CSV file with a "
            "header row such as 'text,label' followed by one row per example."
        ) from None
    except pd.errors.ParserError as error:
        line = re.search(r"line (\d+)", str(error))
        where = f" at line {line.group(1)}" if line else ""
        separator_name = {"\t": "tabs", ";": "semicolons"}.get(sep, "commas")
        raise DataError(
            f"{path} could not be parsed as a {file_type} "
            f"file{where}: {str(error).strip()}. A row probably has more "
            "fields than the header: put texts that contain "
            f"{separator_name} or line breaks in double "
            'quotes (and double any quote inside them: "").'
        ) from None
    except (OSError, EOFError) as error:  # e.g. a .gz file that is not gzip.
        raise DataError(
            f"{path} could not be read: {error}. If it is not compressed, "
            "remove the .gz ending from its name."
        ) from None
    if frame.empty:
        raise DataError(
            f"{path} has a header ({', '.join(map(str, frame.columns))}) but no "
            "data rows. Add one row per example below the header."
        )
    note = dialect.describe(path)
    return frame, _record_start_lines(path, sep, encoding, len(frame)), [note] if note else []


def _read_folder(path, encoding, text_column, label_column):
    columns = text_columns(text_column)
    if len(columns) > 1:
        raise DataError(
            f"{path} is a folder of .txt files, one text per file: it has no columns to join. "
            "Pass a single --text-column (or none) with a folder."
        )
    (frame, numbers), = read_text_folder(path, columns[0], label_column, encoding)
    layout = folder_layout(path)
    if layout[0][0] is None:
        note = f"{path}: a folder of {len(frame)} .txt files, one text each, no class subfolders (no labels)"
    else:
        note = (f"{path}: a folder of {len(frame)} .txt files in {len(layout)} class subfolders, one text per file, "
                "labelled by subfolder name")
    return frame, numbers, [note]


def _record_start_lines(path, sep, encoding, expected_rows):
    """1-based line on which each data row starts (header is line 1).

    Quoted texts may span several lines, so `index + 2` is wrong after the
    first multi-line text; the csv module knows where each record ends. If its
    reading of the file disagrees with pandas', fall back to `index + 2`.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding=encoding, newline="") as handle:
            reader = csv.reader(handle, delimiter=sep)
            starts, previous_end = [], 0
            for record in reader:
                if record:  # pandas skips blank lines; so do we.
                    starts.append(previous_end + 1)
                previous_end = reader.line_num
    except (csv.Error, OSError, UnicodeDecodeError):
        starts = []
    if len(starts) == expected_rows + 1:
        return starts[1:]
    return list(range(2, expected_rows + 2))


# Column names people use for texts and labels, for "Did you mean" hints when
# the name is not merely misspelled ("sentence" is nothing like "text").
_COMMON_NAMES = {
    "text": ("sentence", "review", "content", "message", "body", "document",
             "comment", "tweet", "question", "headline", "title", "text_a"),
    "label": ("labels", "class", "category", "target", "sentiment", "y", "tag",
              "topic", "intent"),
}


def _require_column(frame, column, role, description):
    if column in frame.columns:
        return
    found = [str(c) for c in frame.columns]
    message = (
        f"{description}: no {role} column {column!r}. "
        f"Columns found: {', '.join(repr(c) for c in found)}."
    )
    suggestion = _closest_column(column, role, found)
    if suggestion:
        message += f" Did you mean {suggestion!r}? Pass --{role}-column {suggestion}."
    else:
        message += f" Pass the right name with --{role}-column."
    if len(found) == 1 and "\t" in found[0]:
        message += (
            " The header contains tabs: the file looks tab-separated, so give "
            "it a .tsv ending."
        )
    elif len(found) == 1 and ";" in found[0]:
        message += " The header contains ';': save the file with commas as separators."
    raise DataError(message)


def _require_text_cells(column_values, column, description, row_numbers, from_file):
    """A JSON list or object (or Parquet nested value) where a text belongs is an error, not its repr."""
    nested = column_values.map(lambda value: isinstance(value, (list, dict, tuple, np.ndarray)))
    if not nested.any():
        return
    position = int(np.flatnonzero(nested.to_numpy())[0])
    value = column_values.iloc[position]
    where = f"line {row_numbers[position]}" if from_file else f"row {row_numbers[position]}"
    raise DataError(
        f"{description}, {where}: the text column {column!r} holds a {type(value).__name__} "
        f"({_shorten(repr(value), quote=False)}), not a text. Pass a column of strings with --text-column, "
        "or join the parts into one string first."
    )


def _closest_column(column, role, found):
    """A misspelling of `column` first, else a column with a usual name for `role`."""
    lowered = {c.lower().strip(): c for c in found}
    close = difflib.get_close_matches(column.lower(), list(lowered), n=1, cutoff=0.6)
    if close:
        return lowered[close[0]]
    for name in _COMMON_NAMES[role]:
        if name in lowered:
            return lowered[name]
    return None


def as_text_list(texts):
    """Texts as a list of str, with one rule for missing values.

    This is how every part of transformer_kit turns user texts into strings:
    a missing value (`None`, `NaN`, `pd.NA`, `NaT`) becomes the empty text
    `""` (never `"nan"`), bytes are decoded as UTF-8, and any other value
    becomes `str(value)`.

    Args:
        texts: a list, tuple, NumPy array, `pandas.Series` (or any other
            iterable) of texts; a 2-D array or DataFrame with one column is
            read as that column.

    Returns:
        list of str, one per input text.

    Raises:
        DataError: `texts` is a single string (wrap it in a list), `None`, or
            a table with more than one column.

    Example:

    >>> as_text_list(["fine", None, float("nan"), pd.NA, 42, b"caf\\xc3\\xa9"])
    ['fine', '', '', '', '42', 'café']
    >>> as_text_list("one text")
    Traceback (most recent call last):
    ...
    transformer_kit.errors.DataError: Expected a list of texts, got a single string. Wrap it in a list: ['one text'].
    """
    if isinstance(texts, (str, bytes)):
        shown = repr(texts if len(texts) <= 40 else texts[:37] + "...")
        raise DataError(f"Expected a list of texts, got a single string. Wrap it in a list: [{shown}].")
    if texts is None:
        raise DataError("Expected a list of texts, got None.")
    if isinstance(texts, pd.DataFrame) or getattr(texts, "ndim", 1) > 1:
        width = texts.shape[1] if len(texts.shape) == 2 else None
        if width != 1:
            raise DataError(
                f"Expected a list of texts, got a table of shape {tuple(texts.shape)}. "
                "Pass its text column only, e.g. frame['text']."
            )
        texts = texts.iloc[:, 0] if isinstance(texts, pd.DataFrame) else np.asarray(texts)[:, 0]
    return [_text_of(value) for value in texts]


def _text_of(value):
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if _is_missing(value) else str(value)


def _is_missing(value):
    """Whether a cell holds no value: None, NaN, pd.NA or NaT (not "" or "NA")."""
    return value is None or (not isinstance(value, str) and pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def _labels_to_strings(column):
    """Labels as stripped strings, "" when missing.

    DataFrames with integer labels and a missing value store them as floats
    (1.0, NaN); those are written back as "1" so they match "1" in a CSV.
    """
    values = column.dropna()
    if pd.api.types.is_float_dtype(column) and (values == values.round()).all():
        column = column.map(lambda v: v if pd.isna(v) else str(int(v)))
    return column.map(lambda v: "" if _is_missing(v) else str(v).strip())


def _is_tsv(path):
    name = path.name.lower()
    return name.endswith(".tsv") or name.endswith(".tsv.gz")


def _is_table_file(path):
    name = path.name.lower()
    return path.is_file() and name.endswith(_TABLE_ENDINGS) and not name.endswith((".txt", ".gz"))


def _missing_file_message(path):
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
    if " " in path.name and not path.name.lower().endswith(_TABLE_ENDINGS):
        message += " If it is a text, not a path, pass texts with their labels: fit(texts, labels)."
    return message


def _decode_error_message(path, encoding, error, detected=False):
    """Point at the first undecodable byte, with its absolute offset and line, and name the likely encoding.

    pandas decodes in chunks, so the offset in its exception is relative to a
    chunk; decoding the whole file once (only on this error path) gives the
    true position.
    """
    offset, line, raw = None, None, b""
    try:
        with open_binary(path) as handle:
            raw = handle.read()
        raw.decode(encoding)
    except UnicodeDecodeError as full_error:
        offset = full_error.start
        line = raw[:offset].count(b"\n") + 1
        bad = raw[offset : offset + 1]
    except (OSError, EOFError):
        pass
    if offset is None:
        where, bad = "", error.object[error.start : error.start + 1]
    else:
        where = f" at byte offset {offset} (line {line})"
    how = f" (the encoding detected from its first {SAMPLE_BYTES >> 20} MiB)" if detected else ""
    suggestion = decoding_suggestion(raw[: (offset or 0) + SAMPLE_BYTES]) if raw else ""
    if not suggestion:
        suggestion = ("Pass the file's encoding with --encoding (e.g. gb18030 for Chinese, cp1252 for Western "
                      "European text), or re-save the file as UTF-8.")
    return f"{path} is not valid {encoding}{how}: byte 0x{bad.hex()}{where} cannot be decoded. {suggestion}"
