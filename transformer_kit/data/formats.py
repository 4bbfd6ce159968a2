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

Encodings. Without `--encoding`, the first MiB of a CSV/TSV is tried in this
order: UTF-8 (a byte-order mark means UTF-8 or UTF-16), then GB18030, Big5,
Shift-JIS and cp1252, the encodings spreadsheet programs save Chinese,
Traditional Chinese, Japanese and Western European text in. A legacy
encoding that decodes the bytes without error is not yet the right one:
GB18030 decodes most Big5 and Shift-JIS files into rare characters. So each
one that decodes is scored by the share of its non-ASCII characters that are
common in that encoding (GB2312 for GB18030, Big5's frequent-character block,
Shift-JIS's kana and level-1 kanji, Latin letters and typographic
punctuation for cp1252), and the highest score wins, earlier in the order on
a tie. No new dependency: `charset-normalizer` would do the same job with
more languages, but these five cover what users bring, in ~60 lines.

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

from transformer_kit.errors import DataError

ENCODING_TRIAL_ORDER = ("utf-8", "gb18030", "big5", "shift_jis", "cp1252")
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
# Characters a cp1252 text typically has beside ASCII: letters and typographic punctuation.
_CP1252_COMMON = set("‘’‚“”„–—…•€™°«»¡¿©®§£¥×÷ªº¹²³µ·")


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


# ---------------------------------------------------------------- encodings


def detect_encoding(sample):
    """The likely text encoding of `sample` (bytes), or `None` when none fits.

    See the module docstring for the trial order and the scoring.

    Args:
        sample: bytes, e.g. the first MiB of a file (it may end in the middle
            of a character).

    Returns:
        A Python codec name: `"utf-8"`, `"utf-8-sig"`, `"utf-16"`,
        `"gb18030"`, `"big5"`, `"shift_jis"` or `"cp1252"`; or `None`.

    Example:

    >>> detect_encoding("自然语言处理很有趣".encode("gb18030"))
    'gb18030'
    >>> detect_encoding("自然語言處理很有趣".encode("big5"))
    'big5'
    >>> detect_encoding("日本語のテキストです".encode("shift_jis"))
    'shift_jis'
    >>> detect_encoding("Crème brûlée, s'il vous plaît".encode("cp1252"))
    'cp1252'
    >>> detect_encoding("plain ASCII is UTF-8".encode())
    'utf-8'
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    best, best_score = None, -1.0
    for name in ENCODING_TRIAL_ORDER:
        try:
            text = codecs.getincrementaldecoder(name)("strict").decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        if name == "utf-8":
            return name
        score = _common_share(text, name)
        if score > best_score:
            best, best_score = name, score
    return best


def _common_share(text, encoding):
    """Share of the non-ASCII characters of `text` that are common in `encoding`."""
    unusual = [character for character in text if ord(character) > 127][:20_000]
    if not unusual:
        return 1.0
    return sum(_is_common(character, encoding) for character in unusual) / len(unusual)


def _is_common(character, encoding):
    if encoding == "cp1252":
        return "\u00c0" <= character <= "\u00ff" or character in _CP1252_COMMON
    try:
        encoded = character.encode("gb2312" if encoding == "gb18030" else encoding)
    except UnicodeEncodeError:
        return False
    if encoding == "gb18030":
        return True
    if encoding == "big5":  # symbols and the 5,401 frequent characters
        return encoded[0] <= 0xC6
    # shift_jis: half-width kana, symbols, kana and level-1 kanji
    return len(encoded) == 1 or encoded[0] <= 0x98


def decoding_suggestion(raw):
    """A sentence naming the encoding `raw` bytes are probably in, or `""`."""
    encoding = detect_encoding(raw)
    if encoding in (None, "utf-8"):
        return ""
    name = _ENCODING_NAMES.get(encoding, encoding)
    return f"It looks like {name}: pass --encoding {encoding} (encoding={encoding!r})."


_ENCODING_NAMES = {
    "gb18030": "GB18030/GBK (Chinese, as Excel saves it)",
    "big5": "Big5 (Traditional Chinese)",
    "shift_jis": "Shift-JIS (Japanese)",
    "cp1252": "cp1252 (Windows Western European)",
    "utf-16": "UTF-16",
    "utf-8-sig": "UTF-8 with a byte-order mark",
}


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


# ----------------------------------------------------------------- folders


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
