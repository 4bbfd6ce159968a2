"""`TextSource`: the one door labelled texts enter through.

Whatever the user passes as data (a path, a glob, a folder, a list of
paths; a DataFrame; texts with their labels), a `TextSource` settles once
what it is: its files (`paths.data_file_paths`, the one place paths are
normalised), each file's format, encoding and delimiter (`tables.TableFile`)
and the columns. It then yields the rows in chunks. Reading into memory
(`read`, what `load_csv_dataset` does) is reading every chunk; streaming
(`chunks`, what training on files larger than memory does) is iterating over
them; both apply the same row rules (`rows`), so a file gives the same texts
and labels either way.
"""

import functools

import pandas as pd

from transformer_kit.data.dataset import TextDataset
from transformer_kit.data.formats import joined_columns_note, text_columns
from transformer_kit.data.paths import data_file_paths, refuse_non_paths
from transformer_kit.data.rows import as_text_list, require_column, require_text_cells, usable_rows
from transformer_kit.data.tables import TableFile
from transformer_kit.errors import DataError

# Rows per chunk when streaming: large enough that pandas parses quickly,
# small enough that a chunk of long texts stays well under a GiB.
CHUNK_ROWS = 50_000


class TextSource:
    """Labelled texts from files, a DataFrame or memory, settled once and read in chunks.

    Args:
        data: a path (str or `pathlib.Path`: a CSV/TSV, JSON Lines or
            Parquet file, optionally `.gz`, or a folder of `.txt` files in
            class subfolders), a glob, a list of them, or a
            `pandas.DataFrame`; or texts, when `labels` is given.
        labels: one label per text of `data`, or `None`.
        text_column: str, or a list of columns joined with a line break.
        label_column: str.
        encoding: str or `None` (detected for CSV/TSV, UTF-8 otherwise).
        role: what the data is for, in error messages.

    Attributes:
        paths: list of `pathlib.Path`, or `None` for data in memory.
        description: where the rows come from, for messages and reports.

    Raises:
        DataError: `data` is neither files, a DataFrame nor texts with
            labels (say, a list of texts without labels), or the texts and
            labels differ in number.

    Example:

    >>> source = TextSource("data/trec_t*.csv")
    >>> [str(path) for path in source.paths]
    ['data/trec_test.csv', 'data/trec_train.csv']
    >>> texts, labels = next(source.chunks(chunk_rows=3))
    >>> len(texts), labels
    (3, ['NUM', 'LOC', 'HUM'])
    >>> len(source.read()) == sum(len(texts) for texts, _ in source.chunks())
    True
    >>> TextSource(["good", "bad", None], ["pos", "neg", "neg"]).read().texts
    ['good', 'bad']
    """

    def __init__(self, data, labels=None, text_column="text", label_column="label", encoding=None, role="data"):
        self.text_column, self.label_column, self.encoding = text_column, label_column, encoding
        self.paths, self.frame = None, None
        if labels is not None:
            texts, labels = as_text_list(data), list(labels)
            if len(texts) != len(labels):
                raise DataError(f"The {role} has {len(texts)} texts but {len(labels)} labels; give one label per text.")
            # The raw values, not `texts`: a missing text stays missing, as in files.
            self.frame = pd.DataFrame({"text": data, "label": labels})
            self.text_column, self.label_column = "text", "label"
        elif isinstance(data, pd.DataFrame):
            self.frame = data.reset_index(drop=True)
        else:
            self.paths = data_file_paths(data)
            if self.paths is None:
                refuse_non_paths(data, text_column, label_column)
        self.columns = text_columns(self.text_column)
        self.description = "DataFrame" if self.paths is None else " + ".join(str(path) for path in self.paths)

    @functools.cached_property
    def tables(self):
        """The `TableFile` of each path, opened (format, encoding, delimiter settled) on first use."""
        return [TableFile.open(path, self.encoding, self.text_column) for path in self.paths or []]

    @property
    def notes(self):
        """How the data is read, for the data report (see `TextDataset.notes`)."""
        notes = [table.note for table in self.tables] + [joined_columns_note(self.columns)]
        return [note for note in notes if note]

    def frames(self, chunk_rows=None):
        """Yield `(frame, numbers, description)` for every chunk, as read (all columns, cells as strings).

        Args:
            chunk_rows: int, or `None` for each file (or the DataFrame) whole.

        Yields:
            A `pandas.DataFrame`, per row its line (files) or 0-based
            position (a DataFrame), and the file it came from.
        """
        if self.frame is not None:
            if self.frame.empty:
                raise DataError(
                    "The DataFrame passed as data has no rows. Pass a DataFrame "
                    f"with a {self.text_column!r} column and at least one row."
                )
            step = chunk_rows or len(self.frame)
            for start in range(0, len(self.frame), step):
                chunk = self.frame.iloc[start : start + step]
                yield chunk, list(range(start, start + len(chunk))), self.description
            return
        for table in self.tables:
            for frame, numbers in table.frames(chunk_rows, self.columns[0], self.label_column):
                yield frame, numbers, str(table.path)

    def chunks(self, chunk_rows=CHUNK_ROWS):
        """Yield `(texts, labels)`: two lists of str, the usable rows of each chunk.

        Rows without a text or a label are skipped (as `read` drops them).

        Args:
            chunk_rows: int, the most rows read at once.

        Raises:
            DataError: a file lacks a column or cannot be read.
        """
        for frame, numbers, description in self.frames(chunk_rows):
            self._check(frame, numbers, description, require_labels=True)
            texts, labels, keep, _ = usable_rows(frame, self.columns, self.label_column)
            yield texts[keep].tolist(), labels[keep].tolist()

    def read(self, require_labels=True, drop_empty_text=True):
        """Every chunk, into one `TextDataset` (see `load_csv_dataset` for the rules).

        Args:
            require_labels: bool. When `False`, the label column may be
                absent, and rows with an empty label are kept with `""`.
            drop_empty_text: bool. When `False`, rows without text are kept.

        Returns:
            A `TextDataset`.

        Raises:
            DataError: a file lacks a column, or no usable row is left.
        """
        parts = list(self.frames())
        # A missing column is reported per file: in the concatenated frame it would be NaN cells.
        for frame, _, description in parts:
            self._check(frame, None, description, require_labels)
        frame = pd.concat([part for part, _, _ in parts], ignore_index=True) if len(parts) > 1 else parts[0][0]
        frame = frame.reset_index(drop=True)
        numbers = [number for _, part_numbers, _ in parts for number in part_numbers]
        self._check(frame, numbers, self.description, require_labels)
        texts, labels, keep, dropped = usable_rows(frame, self.columns, self.label_column, require_labels,
                                                   drop_empty_text)
        if not keep.any():
            self._refuse_no_rows(dropped, require_labels)
        kept_rows = keep.to_numpy()
        return TextDataset(
            texts=texts[keep].tolist(),
            labels=labels[keep].tolist() if labels is not None else None,
            frame=frame[keep].reset_index(drop=True),
            source=self.description,
            dropped=dropped,
            row_numbers=[n for n, k in zip(numbers, kept_rows) if k],
            notes=self.notes,
        )

    def _check(self, frame, numbers, description, require_labels):
        """The columns are there, and (with `numbers`) the text cells hold texts."""
        for column in self.columns:
            require_column(frame, column, "text", description)
        if require_labels:
            require_column(frame, self.label_column, "label", description)
        if numbers is not None:
            unit = "row" if self.paths is None else "line"
            for column in self.columns:
                require_text_cells(frame[column], column, description, numbers, unit)

    def _refuse_no_rows(self, dropped, require_labels):
        reasons = ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in dropped.items())
        raise DataError(
            f"{self.description}: no usable rows left after dropping rows "
            f"({reasons}). Check that --text-column {self.text_column!r}"
            + (f" and --label-column {self.label_column!r}" if require_labels else "")
            + " name the right columns and that they are filled in."
        )
