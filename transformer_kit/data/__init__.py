"""From CSV files to batches of token ids.

- `source`: `TextSource`, the one door: whatever the user passes, its files,
  format, encoding, delimiter and columns settled once, read in chunks
  (`read` into memory, `chunks` streamed). Beneath it: `paths`
  (`data_file_paths`, the one place paths are normalised), `tables` (one
  file, read whole or in chunks), `formats` (encodings, delimiters, JSON
  Lines, Parquet, folders), `rows` (`as_text_list`, the one rule for turning
  texts (None/NaN included) into str; which rows are usable).
- `loading`: `load_csv_dataset` -> `TextDataset` (`dataset`), through `TextSource`.
- `streaming`: training on files larger than memory (`scan_csv`,
  `make_streaming_token_dataset`), through `TextSource`.
- `labels`: `LabelEncoder` (class names <-> ids, saved as JSON).
- `splitting`: `stratified_split` (validation set from training rows).
- `text_vectorization`: standardization, word/character splitting,
  `make_text_vectorizer`, `vectorize_texts`.
- `pipeline`: `make_token_dataset` (dynamic padding, length bucketing).
- `report`: `build_data_report`; `report_text`: `format_data_report`;
  `sequence_length`: `choose_sequence_length`.
"""

from transformer_kit.data.dataset import TextDataset
from transformer_kit.data.labels import LabelEncoder
from transformer_kit.data.loading import load_csv_dataset
from transformer_kit.data.paths import data_file_paths
from transformer_kit.data.pipeline import make_token_dataset
from transformer_kit.data.report import build_data_report
from transformer_kit.data.report_text import format_data_report
from transformer_kit.data.rows import as_text_list
from transformer_kit.data.sequence_length import choose_sequence_length
from transformer_kit.data.source import TextSource
from transformer_kit.data.splitting import stratified_split
from transformer_kit.data.text_vectorization import (
    detect_split_mode,
    make_text_vectorizer,
    standardize_cjk_characters,
    standardize_words,
    vectorize_texts,
)

__all__ = [
    "LabelEncoder",
    "TextDataset",
    "TextSource",
    "as_text_list",
    "build_data_report",
    "choose_sequence_length",
    "data_file_paths",
    "detect_split_mode",
    "format_data_report",
    "load_csv_dataset",
    "make_text_vectorizer",
    "make_token_dataset",
    "standardize_cjk_characters",
    "standardize_words",
    "stratified_split",
    "vectorize_texts",
]
