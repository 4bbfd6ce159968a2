"""`TextDataset`: labelled texts held in memory, with where each row came from.

What `TextSource.read` (and so `load_csv_dataset`) returns; the data report,
label encoders and splits take it.
"""

import dataclasses

import pandas as pd


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

    >>> from transformer_kit.data import load_csv_dataset
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
