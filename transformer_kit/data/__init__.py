"""From CSV files to batches of token ids.

- `loading`: `load_csv_dataset` -> `TextDataset` (validates user files);
  `as_text_list`, the one rule for turning texts (None/NaN included) into str;
  `data_file_paths`, whether data names files (or is texts, a DataFrame...).
- `labels`: `LabelEncoder` (class names <-> ids, saved as JSON).
- `splitting`: `stratified_split` (validation set from training rows).
- `text_vectorization`: standardization, word/character splitting,
  `make_text_vectorizer`, `vectorize_texts`.
- `pipeline`: `make_token_dataset` (dynamic padding, length bucketing).
- `report`: `build_data_report`, `format_data_report`,
  `choose_sequence_length`.
"""

from transformer_kit.data.labels import LabelEncoder
from transformer_kit.data.loading import TextDataset, as_text_list, data_file_paths, load_csv_dataset
from transformer_kit.data.pipeline import make_token_dataset
from transformer_kit.data.report import (
    build_data_report,
    choose_sequence_length,
    format_data_report,
)
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
