"""Registry and loading of the benchmark datasets in the shared data folder.

Every dataset is a pair of UTF-8 CSV files with the header ``text,label`` (see
``shared/data/MANIFEST.md``). Rows may be sorted by label, so both splits are shuffled
with a fixed seed before any subsampling.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_ROOT_ENV = "TRANSFORMER_KIT_SHARED_DATA"


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset's splits live, relative to the data root, and its language."""

    name: str
    train_path: str
    test_path: str
    language: str  # "en" or "zh": decides word or character tokenization.
    description: str


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in [
        DatasetSpec("sst2", "en/sst2_train.csv", "en/sst2_test.csv", "en", "SST-2 sentences"),
        DatasetSpec("trec", "en/trec_train.csv", "en/trec_test.csv", "en", "TREC-6 questions"),
        DatasetSpec("sms_spam", "en/sms_spam_train.csv", "en/sms_spam_test.csv", "en", "SMS spam"),
        DatasetSpec("ag_news", "en/ag_news_train_10k.csv", "en/ag_news_test.csv", "en",
                    "AG News, 10k training subset"),
        DatasetSpec("imdb", "en/imdb_train.csv.gz", "en/imdb_test.csv.gz", "en", "IMDB reviews"),
        DatasetSpec("chnsenticorp", "zh/chnsenticorp_train.csv", "zh/chnsenticorp_test.csv", "zh",
                    "ChnSentiCorp reviews"),
        # CLUE never published TNEWS test labels, so the dev split is the test set.
        DatasetSpec("tnews", "zh/tnews_train.csv", "zh/tnews_dev.csv", "zh",
                    "TNEWS headlines (dev as test)"),
    ]
}


@dataclasses.dataclass
class LoadedDataset:
    """The shuffled (and optionally subsampled) splits of one dataset."""

    spec: DatasetSpec
    train_texts: list[str]
    train_labels: list[str]
    test_texts: list[str]
    test_labels: list[str]

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.train_labels))


def default_data_root() -> Path:
    """``$TRANSFORMER_KIT_SHARED_DATA`` if set, else ``../shared/data`` next to the repo."""
    env = os.environ.get(DATA_ROOT_ENV)
    if env:
        return Path(env)
    return REPO_ROOT.parent / "shared" / "data"


def _read_split(path: Path, seed: int, max_rows: int | None) -> tuple[list[str], list[str]]:
    if not path.exists():
        raise FileNotFoundError(
            f"Dataset file {path} does not exist. Pass --data-root (or set ${DATA_ROOT_ENV}) "
            "to the folder that holds en/ and zh/."
        )
    # keep_default_na=False: an empty text or a text such as "NA" stays a string.
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if max_rows is not None and max_rows < len(frame):
        frame = _stratified_rows(frame, max_rows, seed)
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return frame["text"].tolist(), frame["label"].tolist()


def _stratified_rows(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """``max_rows`` rows with the classes in the file's proportions (a plain sample if a class is too rare)."""
    from sklearn.model_selection import train_test_split

    try:
        kept, _ = train_test_split(frame, train_size=max_rows, stratify=frame["label"], random_state=seed)
    except ValueError:  # a class with fewer rows than the split needs
        kept = frame.sample(n=max_rows, random_state=seed)
    return kept


def load_dataset(
    name: str,
    data_root: str | os.PathLike | None = None,
    seed: int = 0,
    max_train: int | None = None,
    max_test: int | None = None,
) -> LoadedDataset:
    """Loads both splits of ``name``, shuffled with ``seed``; at most max_train/max_test rows, stratified by label."""
    if name not in DATASETS:
        raise KeyError(f"Unknown dataset {name!r}; choose from {sorted(DATASETS)}.")
    spec = DATASETS[name]
    root = Path(data_root) if data_root is not None else default_data_root()
    train_texts, train_labels = _read_split(root / spec.train_path, seed, max_train)
    test_texts, test_labels = _read_split(root / spec.test_path, seed + 1, max_test)
    return LoadedDataset(spec, train_texts, train_labels, test_texts, test_labels)
