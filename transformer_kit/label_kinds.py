"""Single-label or multi-label: what `TextClassifier` does differently for each, in one place.

A single-label text has exactly one class: labels are read from one column,
training data may stream from files larger than memory, the predicted class
is the most probable one, and `score` is accuracy.

A multi-label text (`multi_label=True`) carries a set of labels, possibly
empty. `y` holds per text a delimited string (`"anger|fear"`, `""` for none),
an iterable of names, or a 0/1 matrix (a DataFrame's columns name the
labels); files give one delimited `label_column` or 0/1 `label_columns`
(`transformer_kit.data.label_sets`). Each label gets a sigmoid, the n-gram
model is one-vs-rest, and each label a decision threshold chosen on
held-out data to maximize its F1 (`transformer_kit.thresholds`); a
prediction is the tuple of labels whose probability reaches their
threshold, and `score` is exact-match accuracy. Multi-label data is read
into memory, and explanations, `sample_weight` and self-training on
unlabeled texts are single-label only for now.

`label_kind(classifier)` gives the rules for a classifier's settings.

Example:

>>> import pandas as pd
>>> frame = pd.DataFrame({"text": ["rain and wind", "calm"], "label": ["storm|weather", ""]})
>>> label_kind(multi_label=True).read(frame, None, "training data").labels
[('storm', 'weather'), ()]
>>> label_kind().read(frame, None, "training data").labels  # one class per text: "calm" has none
['storm|weather']
>>> label_kind().score_metric, label_kind(multi_label=True).score_metric
('accuracy', 'exact_match')
"""

import dataclasses

import pandas as pd

from transformer_kit.data.formats import join_text_columns, text_columns
from transformer_kit.data.label_sets import DEFAULT_SEPARATOR, as_label_set_dataset
from transformer_kit.data.loading import as_text_dataset, as_text_list
from transformer_kit.data.streaming import refuse_files_larger_than_memory, should_stream
from transformer_kit.distillation import make_distillation
from transformer_kit.evaluation import evaluate_label_sets, evaluate_probabilities
from transformer_kit.self_training import read_unlabeled
from transformer_kit.thresholds import apply_thresholds


def label_kind(classifier=None, multi_label=False):
    """`MultiLabel` or `SingleLabel`, with the data columns of `classifier` (a `TextClassifier`).

    Args:
        classifier: gives `multi_label`, `text_column`, `label_column`,
            `label_columns`, `label_separator` and `encoding`; `None` for
            the defaults.
        multi_label: used when `classifier` is `None`.
    """
    if classifier is None:
        return MultiLabel() if multi_label else SingleLabel()
    columns = {"text_column": classifier.text_column, "label_column": classifier.label_column,
               "encoding": classifier.encoding}
    if classifier.multi_label:
        return MultiLabel(**columns, label_columns=classifier.label_columns, separator=classifier.label_separator)
    return SingleLabel(**columns)


@dataclasses.dataclass(frozen=True)
class SingleLabel:
    """One class per text.

    Args:
        text_column: name (or list of names) of the text column(s).
        label_column: name of the label column.
        encoding: the files' encoding, or `None` to detect it.
    """

    text_column: object = "text"
    label_column: str = "label"
    encoding: str | None = None
    score_metric = "accuracy"  # the `evaluate` entry `score` returns

    def read(self, data, labels, role):
        """A `TextDataset` from any input `fit` or `evaluate` takes (see `as_text_dataset`)."""
        return as_text_dataset(data, labels, self.text_column, self.label_column, role, encoding=self.encoding)

    def texts(self, data):
        """The texts to predict on: a DataFrame's `text_column`(s) joined as in training, else `as_text_list`."""
        if isinstance(data, pd.DataFrame):
            columns = text_columns(self.text_column)
            if all(column in data.columns for column in columns):
                return join_text_columns(data, columns, as_text_list)[0]
        return as_text_list(data)

    def streams(self, data, labels, training_config):
        """Whether `fit` reads the training `data` in chunks instead of into memory."""
        return labels is None and should_stream(data, training_config.streaming)

    def predict(self, probabilities, classes, label_encoder, thresholds):
        """The most probable class name per row (numpy array of `classes`' dtype)."""
        return classes[probabilities.argmax(axis=1)] if len(probabilities) else classes[:0]

    def evaluate(self, dataset, probabilities, label_encoder, thresholds):
        """Metrics of `probabilities` against `dataset`'s labels, as `evaluate_probabilities` computes them."""
        true_ids = label_encoder.encode(dataset.labels, source=dataset.source)
        return evaluate_probabilities(true_ids, probabilities, list(label_encoder.classes_))

    def fit_inputs(self, data, labels, validation, test, unlabeled, teacher, training_config):
        """`fit`'s data as keyword arguments of `fit_text_classifier`.

        The training data is read (or, when it streams, left as paths for
        `fit_text_classifier` to read in chunks with `columns`), then the
        validation and test data, then the texts beyond the labels
        (`texts_beyond_the_labels`).

        Returns:
            dict: `train`, `validation`, `test`, `streamed`, `unlabeled`,
            `distillation` and `columns`.
        """
        streamed = self.streams(data, labels, training_config)
        inputs = {
            "train": data if streamed else self.read(data, labels, "training data"),
            "validation": None if validation is None else self.read(validation, None, "validation data"),
            "test": None if test is None else self.read(test, None, "test data"),
            "streamed": streamed,
            "columns": {"text_column": self.text_column, "label_column": self.label_column, "encoding": self.encoding},
        }
        inputs["unlabeled"], inputs["distillation"] = self.texts_beyond_the_labels(
            unlabeled, teacher, training_config, streamed
        )
        return inputs

    def texts_beyond_the_labels(self, unlabeled, teacher, training_config, streamed):
        """`fit`'s `unlabeled` and `teacher` as `(unlabeled texts or None, distillation or None)`.

        With a teacher, it labels the unlabeled texts (`make_distillation`);
        without one, they go to the n-gram branch's self-training
        (`unlabeled_texts`).
        """
        if teacher is not None:
            column = text_columns(self.text_column)[0]
            return None, make_distillation(teacher, unlabeled, training_config, streamed, column)
        return (None if unlabeled is None else self.unlabeled_texts(unlabeled, training_config)), None

    def unlabeled_texts(self, unlabeled, training_config):
        """`fit`'s `unlabeled` as a list of str, for the n-gram branch's self-training.

        Raises:
            ValueError: the classifier has no n-gram branch, or `unlabeled`
                holds no text.
        """
        if training_config.ngram_weight == 0:
            raise ValueError("`unlabeled` texts are used by the n-gram branch's self-training, and this "
                             "classifier has no n-gram branch (`ngram_weight=0`, as in the single and ensemble "
                             "presets); to start its transformers from word vectors learned on them, use "
                             "`transformer-kit vectors` and `word_vectors=`.")
        texts = read_unlabeled(unlabeled, text_columns(self.text_column)[0], seed=training_config.seed)
        if not texts:
            raise ValueError(f"`unlabeled` holds no text ({unlabeled!r}).")
        return texts

    def check_explainable(self):
        """Raise `ValueError` if explanations are not available (they are)."""

    def check_sample_weight(self):
        """Raise `ValueError` if `score` cannot weigh texts (it can)."""


@dataclasses.dataclass(frozen=True)
class MultiLabel(SingleLabel):
    """A set of labels per text, possibly empty (see the module docstring).

    Args:
        label_columns: names of 0/1 columns, one per label, instead of one
            delimited `label_column`; or `None`.
        separator: the separator between labels in one label cell.
    """

    label_columns: list | None = None
    separator: str = DEFAULT_SEPARATOR
    score_metric = "exact_match"

    def read(self, data, labels, role):
        """A `TextDataset` whose labels are tuples of names (see `as_label_set_dataset`)."""
        return as_label_set_dataset(data, labels, self.text_column, self.label_column, self.label_columns,
                                    self.separator, role, encoding=self.encoding)

    def streams(self, data, labels, training_config):
        """Never: files larger than memory are refused with a clear error."""
        if labels is None:
            refuse_files_larger_than_memory(
                data, "multi-label training reads its data into memory (it does not stream)"
            )
        return False

    def predict(self, probabilities, classes, label_encoder, thresholds):
        """Per row, the tuple of labels whose probability reaches their threshold (a list)."""
        return label_encoder.decode(apply_thresholds(probabilities, thresholds))

    def evaluate(self, dataset, probabilities, label_encoder, thresholds):
        """Metrics as `evaluate_label_sets` computes them at `thresholds`."""
        true_ids = label_encoder.encode(dataset.labels, source=dataset.source)
        return evaluate_label_sets(true_ids, probabilities, list(label_encoder.classes_), thresholds)

    def unlabeled_texts(self, unlabeled, training_config):
        raise ValueError("`unlabeled` texts are used by single-label classifiers only (the n-gram branch's "
                         "self-training); for a multi-label classifier, learn word vectors from them "
                         "(`transformer-kit vectors`) and pass `word_vectors=`.")

    def check_explainable(self):
        raise ValueError("explain() explains one predicted class; multi-label classifiers cannot be explained yet.")

    def check_sample_weight(self):
        raise ValueError("`sample_weight` is not supported by a multi-label classifier's score.")
