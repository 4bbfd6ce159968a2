"""`TableFile`: one data file or folder, its format settled once, read in frames.

Opening a `TableFile` checks that the path exists and is not empty, and
settles how it is read: its kind (`formats.file_kind`), and for a CSV/TSV
the encoding and delimiter (`formats.csv_dialect`); the note the data report
shows is written then too. `frames` then reads it whole or in chunks, as
strings, turning every problem the user can fix into a one-line `DataError`
that names the file, the line and the fix.
"""

import contextlib
import csv
import dataclasses
import gzip
import re
from pathlib import Path

import pandas as pd

from transformer_kit.data.formats import (
    SAMPLE_BYTES,
    CsvDialect,
    csv_dialect,
    decoding_suggestion,
    file_kind,
    folder_layout,
    open_binary,
    read_json_records,
    read_parquet,
    read_text_folder,
    text_columns,
)
from transformer_kit.data.paths import missing_file_message
from transformer_kit.errors import DataError


@dataclasses.dataclass
class TableFile:
    """One file or folder of labelled texts, and how it is read.

    Args:
        path: `pathlib.Path`.
        kind: `"csv"`, `"tsv"`, `"jsonl"`, `"parquet"` or `"folder"`.
        encoding: str or `None`: the encoding given (`None`: detected for
            CSV/TSV, UTF-8 otherwise).
        dialect: the `CsvDialect` of a CSV/TSV, else `None`.
        note: str or `None`, how it was read, for the data report.

    Example:

    >>> table = TableFile.open(Path("data/trec_test.csv"))
    >>> table.kind, table.dialect.delimiter, table.note
    ('csv', ',', None)
    >>> frame, lines = next(table.frames(chunk_rows=2))
    >>> list(frame.columns), lines
    (['text', 'label'], [2, 3])
    """

    path: Path
    kind: str
    encoding: str | None = None
    dialect: CsvDialect | None = None
    note: str | None = None

    @classmethod
    def open(cls, path, encoding=None, text_column="text"):
        """Check `path` and settle how it is read.

        Args:
            path: `pathlib.Path` of a file or folder.
            encoding: str or `None` to detect it.
            text_column: the text column(s) wanted: a folder has one.

        Raises:
            DataError: the path is missing, an empty file, a folder in no
                known layout or with several text columns asked for.
        """
        if not path.exists():
            raise DataError(missing_file_message(path))
        if path.is_dir():
            if len(text_columns(text_column)) > 1:
                raise DataError(
                    f"{path} is a folder of .txt files, one text per file: it has no columns to join. "
                    "Pass a single --text-column (or none) with a folder."
                )
            return cls(path, "folder", encoding, note=_folder_note(path))
        if path.stat().st_size == 0:
            raise DataError(
                f"{path} is empty (0 bytes). Pass a CSV file with a header row "
                "such as 'text,label' followed by one row per example."
            )
        kind = file_kind(path)
        if kind in ("jsonl", "parquet"):
            return cls(path, kind, encoding)
        dialect = csv_dialect(path, encoding)
        return cls(path, kind, encoding, dialect, dialect.describe(path))

    def frames(self, chunk_rows=None, text_column="text", label_column="label"):
        """Yield `(frame, numbers)`: the rows as strings, and where each starts.

        Args:
            chunk_rows: int, or `None` for one frame with every row.
            text_column, label_column: the columns a folder's rows get.

        Yields:
            A `pandas.DataFrame` of at most `chunk_rows` rows (every cell a
            str, or missing where empty) and per row its 1-based line (header
            = line 1; JSON Lines: the line; Parquet: the row; a folder: the
            file's position in the listing).

        Raises:
            DataError: the file cannot be parsed or decoded, or holds no rows.
        """
        if self.kind == "folder":
            parts = read_text_folder(self.path, text_column, label_column, self.encoding, chunk_rows)
        elif self.kind == "jsonl":
            parts = read_json_records(self.path, self.encoding, chunk_rows)
        elif self.kind == "parquet":
            parts = read_parquet(self.path, None, chunk_rows)
        else:
            parts = self._csv_frames(chunk_rows)
        rows, empty = 0, None
        for frame, numbers in parts:
            rows += len(frame)
            if len(frame):
                yield frame, numbers
            else:
                empty = frame
        if not rows:
            self._refuse_empty(empty)

    def _refuse_empty(self, frame):
        if self.kind in ("jsonl", "parquet"):
            raise DataError(f"{self.path} holds no records. Add one record (row) per example.")
        columns = ", ".join(map(str, frame.columns)) if frame is not None else ""
        raise DataError(
            f"{self.path} has a header ({columns}) but no "
            "data rows. Add one row per example below the header."
        )

    def _csv_frames(self, chunk_rows):
        """The CSV/TSV in frames of strings; whole, each row numbered by the line it starts on."""
        with _csv_errors(self.path, self.dialect):
            frames = pd.read_csv(
                self.path,
                sep=self.dialect.delimiter,
                dtype=str,
                # Only a truly empty cell is missing: "NA", "null", "None" and
                # "nan" are plausible texts and labels and must survive loading.
                keep_default_na=False,
                na_values=[""],
                encoding=self.dialect.encoding,
                compression="infer",
                chunksize=chunk_rows,
            )
            if chunk_rows is None:
                lines = _record_start_lines(self.path, self.dialect, len(frames)) if len(frames) else []
                yield frames, lines
                return
            first_line = 2
            for frame in frames:
                # In chunks, lines are counted as rows (quoted line breaks not counted).
                yield frame, list(range(first_line, first_line + len(frame)))
                first_line += len(frame)


@contextlib.contextmanager
def _csv_errors(path, dialect):
    """Turns what pandas raises on a CSV/TSV into a `DataError` that names the line and the fix."""
    try:
        yield
    except Exception as error:
        message = _csv_error_message(path, dialect, error)
        if message is None:
            raise
        raise DataError(message) from None


def _csv_error_message(path, dialect, error):
    sep, encoding = dialect.delimiter, dialect.encoding
    if isinstance(error, UnicodeDecodeError):
        return decode_error_message(path, encoding, error, dialect.encoding_detected)
    if isinstance(error, LookupError):  # Unknown codec name.
        return (f"Unknown encoding {encoding!r} for {path}: {error}. Pass a valid "
                "Python codec name, e.g. --encoding gb18030, --encoding cp1252 or --encoding utf-16, "
                "or leave --encoding out to have it detected.")
    if isinstance(error, pd.errors.EmptyDataError):
        return (f"{path} contains no header and no rows. Pass a CSV file with a "
                "header row such as 'text,label' followed by one row per example.")
    if isinstance(error, pd.errors.ParserError):
        line = re.search(r"line (\d+)", str(error))
        where = f" at line {line.group(1)}" if line else ""
        file_type = {"\t": "TSV", ";": "semicolon-separated CSV"}.get(sep, "CSV")
        separator_name = {"\t": "tabs", ";": "semicolons"}.get(sep, "commas")
        return (f"{path} could not be parsed as a {file_type} "
                f"file{where}: {str(error).strip()}. A row probably has more "
                "fields than the header: put texts that contain "
                f"{separator_name} or line breaks in double "
                'quotes (and double any quote inside them: "").')
    if isinstance(error, (OSError, EOFError)):  # e.g. a .gz file that is not gzip.
        return (f"{path} could not be read: {error}. If it is not compressed, "
                "remove the .gz ending from its name.")
    return None


def _folder_note(path):
    layout = folder_layout(path)
    files = sum(len(names) for _, names in layout)
    if layout[0][0] is None:
        return f"{path}: a folder of {files} .txt files, one text each, no class subfolders (no labels)"
    return (f"{path}: a folder of {files} .txt files in {len(layout)} class subfolders, one text per file, "
            "labelled by subfolder name")


def _record_start_lines(path, dialect, expected_rows):
    """1-based line on which each data row starts (header is line 1).

    Quoted texts may span several lines, so `index + 2` is wrong after the
    first multi-line text; the csv module knows where each record ends. If its
    reading of the file disagrees with pandas', fall back to `index + 2`.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding=dialect.encoding, newline="") as handle:
            reader = csv.reader(handle, delimiter=dialect.delimiter)
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


def decode_error_message(path, encoding, error, detected=False):
    """Point at the first undecodable byte, with its absolute offset and line, and name the likely encoding.

    pandas decodes in chunks, so the offset in its exception is relative to a
    chunk; decoding the whole file once (only on this error path) gives the
    true position.

    Args:
        path: the file.
        encoding: the encoding it was read with.
        error: the `UnicodeDecodeError` raised.
        detected: whether `encoding` was detected (not given).

    Returns:
        str, the message.
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
