"""Read the tables users have: CSV/TSV, JSON Lines, Parquet and folders of text files.

`load_csv_dataset` (in memory) and the streaming reader both come here, so a
file is read the same way whether it fits in memory or not. By file name:

| Input | Read as |
|---|---|
| `.csv`, `.txt`, any other file | CSV; encoding detected (`detect_encoding`), delimiter sniffed (`sniff_delimiter`) |
| `.tsv` | tab-separated, encoding detected |
| `.jsonl`, `.ndjson`, `.json` | JSON Lines: one object per line, fields are columns (or one array of objects) |
| `.parquet`, `.pq` | Parquet, through pyarrow (the `parquet` extra) |
| a folder | the `keras.utils.text_dataset_from_directory` layout: one subfolder per class, one `.txt` file per text |

Each file may be gzipped (`.gz`), except Parquet (compressed inside) and
folders. Every cell becomes a string; only an absent value is missing.

Encodings are detected as `transformer_kit.data.encodings` describes.

Delimiters. A `.csv` file's header line is read: the most frequent of `,`,
`;` and tab outside quotes is the delimiter (comma on a tie or when there is
none, i.e. a one-column file). `.tsv` files are always tab-separated.

Several text columns are joined, in the order given, with
`TEXT_COLUMN_SEPARATOR` (a line break; the tokenizers treat it as a space,
so the last word of one column never merges with the first of the next);
missing cells count as empty. `join_text_columns` is the one statement of
the rule; the export records it (see `transformer_kit.export`).
"""

import codecs
import dataclasses
import gzip
import json
import os
from pathlib import Path

import pandas as pd

from transformer_kit.data.encodings import ENCODING_TRIAL_ORDER, decoding_suggestion, detect_encoding
from transformer_kit.data.text_folders import folder_bytes, folder_layout, read_text_folder
from transformer_kit.errors import DataError

# Re-exported: the readers of every input kind are importable from here.
__all__ = [
    "DELIMITERS", "ENCODING_TRIAL_ORDER", "MAX_JSON_ARRAY_BYTES", "PARQUET_EXTRA", "SAMPLE_BYTES",
    "TEXT_COLUMN_SEPARATOR", "CsvDialect", "csv_dialect", "decoding_suggestion", "detect_encoding", "file_kind",
    "folder_bytes", "folder_layout", "join_text_columns", "joined_columns_note", "open_binary", "read_json_records",
    "read_parquet", "read_text_folder", "sniff_delimiter", "text_columns",
]

DELIMITERS = (",", ";", "\t")
TEXT_COLUMN_SEPARATOR = "\n"
# Bytes read to detect the encoding and sniff the delimiter.
SAMPLE_BYTES = 1 << 20
# A JSON array cannot be read in pieces; above this size, ask for JSON Lines.
MAX_JSON_ARRAY_BYTES = 1 << 30
PARQUET_EXTRA = 'pip install "transformer_kit[parquet]"'

_KINDS = (
    (".tsv", "tsv"), (".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "jsonl"),
    (".parquet", "parquet"), (".pq", "parquet"),
)


def file_kind(path):
    """`"csv"`, `"tsv"`, `"jsonl"`, `"parquet"` or `"folder"`, from the path.

    Example:

    >>> [file_kind(Path(name)) for name in ("a.csv", "b.TSV.gz", "c.jsonl", "d.json", "e.parquet", "f.txt")]
    ['csv', 'tsv', 'jsonl', 'jsonl', 'parquet', 'csv']
    """
    path = Path(path)
    if path.is_dir():
        return "folder"
    name = path.name.lower().removesuffix(".gz")
    for suffix, kind in _KINDS:
        if name.endswith(suffix):
            return kind
    return "csv"


def open_binary(path):
    """A binary file object, decompressing `.gz` files."""
    return gzip.open(path, "rb") if Path(path).name.lower().endswith(".gz") else open(path, "rb")


# --------------------------------------------------------------------- CSV


@dataclasses.dataclass
class CsvDialect:
    """How a CSV/TSV file is read.

    Attributes:
        encoding: Python codec name.
        delimiter: `","`, `";"` or `"\\t"`.
        encoding_detected: whether `encoding` was detected (not passed).
        delimiter_sniffed: whether the delimiter was sniffed from the header
            (not implied by a `.tsv` name).
    """

    encoding: str
    delimiter: str
    encoding_detected: bool
    delimiter_sniffed: bool

    def describe(self, path):
        """A line for the data report, or `None` when the file was plain UTF-8 with the usual delimiter."""
        parts = []
        if self.encoding_detected and self.encoding != "utf-8":
            parts.append(f"encoding {self.encoding} (detected; --encoding overrides it)")
        if self.delimiter_sniffed and self.delimiter != ",":
            parts.append(f"delimiter {_DELIMITER_NAMES[self.delimiter]} (sniffed from the header)")
        return f"{path}: read with {' and '.join(parts)}" if parts else None


_DELIMITER_NAMES = {",": "',' (comma)", ";": "';' (semicolon)", "\t": "tab"}


def csv_dialect(path, encoding=None):
    """Detect the encoding (unless given) and the delimiter of a CSV/TSV file.

    Args:
        path: `pathlib.Path` of an existing file, optionally `.gz`.
        encoding: str or `None` to detect it.

    Returns:
        A `CsvDialect`.
    """
    try:
        with open_binary(path) as handle:
            sample = handle.read(SAMPLE_BYTES)
    except (OSError, EOFError):
        sample = b""  # the reader reports the problem with its own message
    detected = encoding is None
    if detected:
        encoding = detect_encoding(sample) or "utf-8"
    if file_kind(path) == "tsv":
        return CsvDialect(encoding, "\t", detected, False)
    try:
        text = codecs.getincrementaldecoder(encoding)("replace").decode(sample, final=False)
    except LookupError:
        text = ""  # an unknown codec name: the reader says so
    return CsvDialect(encoding, sniff_delimiter(text), detected, True)


def sniff_delimiter(text):
    """The delimiter of a CSV from its first line: `,`, `;` or tab.

    The most frequent of the three outside double quotes; comma on a tie or
    when there is none.

    Example:

    >>> sniff_delimiter("text;label\\nbonjour;fr\\n"), sniff_delimiter("text\\tlabel\\n")
    (';', '\\t')
    >>> sniff_delimiter('"a;b",label\\n'), sniff_delimiter("text\\n")
    (',', ',')
    """
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    counts, quoted = dict.fromkeys(DELIMITERS, 0), False
    for character in header:
        if character == '"':
            quoted = not quoted
        elif not quoted and character in counts:
            counts[character] += 1
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])  # ties: the first, comma
    return best if counts[best] > counts[","] else ","


# -------------------------------------------------------------- JSON Lines


def read_json_records(path, encoding=None, chunk_rows=None):
    """Yield `(frame, line_numbers)` from a JSON Lines file (or a `.json` array).

    Args:
        path: `pathlib.Path`, optionally `.gz`.
        encoding: str or `None` (UTF-8, as JSON requires; a byte-order mark
            is skipped).
        chunk_rows: int or `None` for one frame with every record.

    Yields:
        A `pandas.DataFrame` of at most `chunk_rows` records (fields are
        columns; scalars as strings, `null` and absent fields missing, lists
        and objects kept as Python values) and the 1-based line number of
        each record (for an array: its position).

    Raises:
        DataError: a line is not valid JSON or not an object; an array file
            is too large to read whole.
    """
    encoding = encoding or "utf-8-sig"
    with open_binary(path) as raw:
        start = raw.read(SAMPLE_BYTES).lstrip(codecs.BOM_UTF8).lstrip()
    if start.startswith(b"["):
        yield from _read_json_array(path, encoding, chunk_rows)
        return
    records, numbers = [], []
    with open_binary(path) as raw:
        lines = codecs.getreader(encoding)(raw, errors="strict")
        number = 0
        try:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                records.append(_json_object(line, path, number))
                numbers.append(number)
                if chunk_rows and len(records) >= chunk_rows:
                    yield _records_frame(records), numbers
                    records, numbers = [], []
        except UnicodeDecodeError as error:
            raise DataError(
                f"{path}, line {number + 1}: not valid {encoding.removesuffix('-sig')} ({error.reason}). JSON Lines "
                "files are UTF-8; re-save the file as UTF-8 or pass its encoding with --encoding."
            ) from None
    if records or not chunk_rows:
        yield _records_frame(records), numbers


def _read_json_array(path, encoding, chunk_rows):
    size = os.path.getsize(path)
    if size > MAX_JSON_ARRAY_BYTES:
        raise DataError(
            f"{path} holds one JSON array of {size / (1 << 30):.1f} GiB, which is read whole and may not fit in "
            "memory. Write it as JSON Lines instead (one object per line, a .jsonl file), which is read in pieces."
        )
    with open_binary(path) as raw:
        try:
            items = json.loads(raw.read().decode(encoding))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise DataError(f"{path}: not a valid JSON array of objects ({error}).") from None
    if not isinstance(items, list):
        raise DataError(f"{path}: expected a JSON array of objects or JSON Lines, got a {type(items).__name__}.")
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise DataError(f"{path}, item {number}: expected a JSON object such as "
                            f'{{"text": "...", "label": "..."}}, got {_shorten(json.dumps(item))}.')
    step = chunk_rows or max(len(items), 1)
    for begin in range(0, max(len(items), 1), step):
        part = items[begin : begin + step]
        yield _records_frame(part), list(range(begin + 1, begin + len(part) + 1))


def _json_object(line, path, number):
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise DataError(
            f"{path}, line {number}: not valid JSON ({error.msg}, column {error.colno}): {_shorten(line.strip())}. "
            'JSON Lines files hold one object per line, e.g. {"text": "a good film", "label": "pos"}.'
        ) from None
    if not isinstance(record, dict):
        raise DataError(
            f"{path}, line {number}: expected a JSON object, got {_shorten(line.strip())}. "
            'JSON Lines files hold one object per line, e.g. {"text": "a good film", "label": "pos"}.'
        )
    return record


def _records_frame(records):
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    # Series.map, not DataFrame.map: the latter needs pandas 2.1 (the floor is 2.0).
    return frame.astype(object).apply(lambda column: column.map(_json_cell)) if len(frame.columns) else frame


def _json_cell(value):
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (str, int, float)):
        return str(value)
    return value


# ----------------------------------------------------------------- Parquet


def read_parquet(path, columns=None, chunk_rows=None):
    """Yield `(frame, row_numbers)` from a Parquet file, as strings.

    Args:
        path: `pathlib.Path`.
        columns: list of column names to read, or `None` for all.
        chunk_rows: int or `None` for one frame.

    Yields:
        A `pandas.DataFrame` (cells as strings, nulls missing) and the
        1-based row number of each row.

    Raises:
        DataError: pyarrow is not installed (it names the extra), the file
            is not Parquet, or a column is missing.
    """
    try:
        import pyarrow.parquet as parquet
    except ImportError:
        raise DataError(
            f"{path} is a Parquet file, and reading Parquet needs pyarrow, which is not installed: "
            f"{PARQUET_EXTRA} (or pip install pyarrow). Or save the table as CSV or JSON Lines."
        ) from None
    try:
        handle = parquet.ParquetFile(path)
    except Exception as error:  # pyarrow raises ArrowInvalid and others, not OSError alone
        raise DataError(f"{path} could not be read as Parquet ({error}). Check that it is a Parquet file.") from None
    found = handle.schema_arrow.names
    if columns is not None:
        columns = [column for column in columns if column in found]
    start = 1
    for batch in handle.iter_batches(batch_size=chunk_rows or 65_536, columns=columns):
        frame = batch.to_pandas().astype(object)
        frame = frame.apply(lambda column: column.map(_json_cell)) if len(frame) and len(frame.columns) else frame
        yield frame, list(range(start, start + len(frame)))
        start += len(frame)
    if start == 1:
        yield pd.DataFrame(columns=columns if columns is not None else found), []


# ------------------------------------------------------- several text columns


def text_columns(text_column):
    """The text column(s) as a list: `"text"` -> `["text"]`, `["title", "body"]` unchanged."""
    if isinstance(text_column, str):
        return [text_column]
    columns = list(text_column)
    if not columns or not all(isinstance(column, str) for column in columns):
        raise DataError(f"text_column must be a column name or a list of them, got {text_column!r}.")
    return columns


def joined_columns_note(columns):
    """The data report's line for several text columns, or `None` for one."""
    if len(columns) < 2:
        return None
    joined = " + ".join(repr(column) for column in columns)
    return f"texts: columns {joined} joined with a line break ({TEXT_COLUMN_SEPARATOR!r})"


def join_text_columns(frame, columns, as_text):
    """One text per row: the cells of `columns` joined with `TEXT_COLUMN_SEPARATOR`.

    Args:
        frame: `pandas.DataFrame` holding every column of `columns`.
        columns: list of str, in joining order.
        as_text: the function turning a column into a list of str
            (`transformer_kit.data.as_text_list`: missing cells become `""`).

    Returns:
        `(texts, missing)`: a list of str, and a boolean `pandas.Series` that
        is true where every one of the cells is missing.

    Example:

    >>> from transformer_kit.data import as_text_list
    >>> frame = pd.DataFrame({"title": ["Rain", None], "body": ["all day", "sun"]})
    >>> join_text_columns(frame, ["title", "body"], as_text_list)[0]
    ['Rain\\nall day', '\\nsun']
    """
    parts = [as_text(frame[column]) for column in columns]
    missing = frame[columns].isna().all(axis=1)
    if len(parts) == 1:
        return parts[0], missing
    return [TEXT_COLUMN_SEPARATOR.join(cells) for cells in zip(*parts)], missing


def _shorten(text, limit=60):
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")
