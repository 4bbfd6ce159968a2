"""Load labelled texts into a `TextDataset`: `load_csv_dataset` and `as_text_dataset`.

This is the boundary where user files enter the toolkit, so every problem a
user can fix (missing file, wrong column name, wrong encoding, bad quoting)
becomes a `DataError` that names the file, column, line or value at fault and
says what to do. Nothing downstream validates the file again. Both functions
read through `TextSource` (`transformer_kit.data.source`), the one door;
`TextDataset`, `as_text_list` and `data_file_paths` are importable from here too.

How `load_csv_dataset` reads. Files are read by their name (see
`transformer_kit.data.formats`): `.tsv` as tab-separated; `.jsonl`/`.json` as
JSON Lines (fields are columns); `.parquet` through pyarrow (the `parquet`
extra); a folder in the `text_dataset_from_directory` layout (one subfolder
per class, one `.txt` file per text) gives columns `file`, `text_column` and
`label_column`; everything else is CSV, its delimiter (`,`, `;` or tab)
sniffed from the header. Without `encoding`, a CSV's encoding is detected
(UTF-8, GB18030, Big5, Shift-JIS, cp1252) and named in `TextDataset.notes`.
`.gz` files are decompressed on the fly. All cells are read as strings, and
only truly empty cells count as missing: the text `"NA"`, `"null"` or
`"None"` stays text, because a spam message that says "NA" is data, not a
missing value.

Rows with no text (an empty cell), with only whitespace, or (when labels are
required) with an empty label are dropped and counted in
`TextDataset.dropped`. Labels have surrounding whitespace stripped, since
`"spam "` and `"spam"` are never meant to be different classes; texts are
kept exactly as written.
"""

from transformer_kit.data.dataset import TextDataset
from transformer_kit.data.paths import data_file_paths
from transformer_kit.data.rows import as_text_list
from transformer_kit.data.source import TextSource

__all__ = ["TextDataset", "as_text_dataset", "as_text_list", "data_file_paths", "load_csv_dataset"]


def load_csv_dataset(
    source,
    text_column="text",
    label_column="label",
    encoding=None,
    require_labels=True,
    drop_empty_text=True,
):
    """Load labelled texts from CSV/TSV, JSON Lines or Parquet files, folders or a DataFrame.

    The reading rules (file kinds, encodings, which rows are dropped) are
    in the module docstring.

    Args:
        source: str or `pathlib.Path` (one file or folder), a glob such as
            `"data/part-*.csv"` (the files it matches, sorted), a list of
            them (read and concatenated in order), or a `pandas.DataFrame`.
            Texts held in memory go in a DataFrame (or, to the classifier, as
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
    return TextSource(source, None, text_column, label_column, encoding).read(require_labels, drop_empty_text)


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
    if labels is None and isinstance(data, tuple) and len(data) == 2:
        data, labels = data
    if isinstance(data, TextDataset):
        return data
    return TextSource(data, labels, text_column, label_column, encoding, role).read()
