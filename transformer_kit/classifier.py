"""`TextClassifier`: a scikit-learn-style estimator over the toolkit's parts.

A façade: fitting lives in `fitting` (with `training`, `blending`,
`resume`), the model in `inference`, the run directory in `saving`, the
SavedModel in `export`, what differs between single- and multi-label
classifiers in `label_kinds`. Every prediction comes from one inference model
(`model_`), strings in, probabilities out.
"""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from transformer_kit import config as config_lib
from transformer_kit.config import SETTING_NAMES
from transformer_kit.data.label_sets import DEFAULT_SEPARATOR
from transformer_kit.data.loading import as_text_list
from transformer_kit.distribution import make_strategy
from transformer_kit.encoders import make_encoder
from transformer_kit.explanations import DEFAULT_STEPS, TextExplainer
from transformer_kit.export import export_saved_model
from transformer_kit.fitting import fit_text_classifier
from transformer_kit.inference import CompiledScorer, without_unused_parts
from transformer_kit.label_kinds import label_kind
from transformer_kit.logs import quiet_unless
from transformer_kit.saving import load_classifier, save_run
from transformer_kit.top_features import top_features


class TextClassifier(ClassifierMixin, BaseEstimator):
    """A transformer text classifier trained from labelled texts.

    By default (`preset="default"`) it averages a few small transformers
    trained with different seeds and blends them with an n-gram TF-IDF
    logistic regression, all inside one Keras model; `preset="single"` trains
    one plain transformer. Every field of `ModelConfig` and `TrainingConfig`
    can be set by keyword; `None` (the default) takes the preset's value.
    Settings are checked by `fit`, as scikit-learn estimators do.

    Args:
        preset: `"default"`, `"single"`, `"ensemble"` (3 transformers, no
            n-grams) or `"small"` (one narrow transformer and the n-gram
            branch: the fast student to distil into, `fit(..., teacher=)`).
        text_column: name of the text column in files and DataFrames, or a
            list of names (`["title", "body"]`) whose cells are joined with a
            line break (`join_text_columns`), in training, prediction and export.
        label_column: name of the label column.
        encoding: the encoding of the files `fit` and `evaluate` read (e.g.
            `"gb18030"`), or `None` (default) to detect it for CSV/TSV (see
            `load_csv_dataset`) and read other files as UTF-8.
        verbose: 0 (silent), 1 (messages and progress bars) or 2 (messages,
            one line per epoch).
        label_separator: multi-label only: the separator between labels in
            one label cell (default `"|"`, as in `"anger|fear"`).
        label_columns: multi-label only: names of 0/1 columns, one per
            label, instead of one delimited `label_column`.
        **settings: e.g. `epochs=5`, `embed_dim=128`, `seed=1`,
            `class_weight="balanced"`, `ngram_weight=0`, `multi_label=True`.

    Multi-label (`multi_label=True`): a text carries a set of labels, each
    with its own decision threshold (`thresholds_`); what `y` may hold and
    what else differs from single-label: `transformer_kit.label_kinds`.

    Attributes (after `fit` or `load`):
        model_: the inference `keras.Model` from strings to probabilities.
        classes_: numpy array of class names; column `i` of `predict_proba`
            is `classes_[i]`.
        thresholds_: multi-label only: float array, the decision threshold
            of each label (assign a float or an array to override; `save`
            and `export` keep it); `None` for single-label classifiers.
        history_: `pandas.DataFrame`, one row per transformer and epoch.
        metrics_: dict with `"validation"` and/or `"test"` metrics.
        data_report_: dict, see `transformer_kit.data.build_data_report`.
        model_config_, training_config_: the resolved configuration.

    Example:

    >>> clf = TextClassifier(ensemble_size=1, epochs=1, embed_dim=16, num_heads=2, verbose=0)
    >>> clf = clf.fit(["free prize now", "lunch at noon"] * 40, ["spam", "ham"] * 40)
    >>> clf.predict(["claim your free prize", "noon lunch?"]).tolist()
    ['spam', 'ham']
    >>> clf.score(["free prize", "lunch"], ["spam", "ham"])
    1.0
    """

    def __init__(self, preset="default", text_column="text", label_column="label", verbose=1, encoding=None,
                 label_separator=DEFAULT_SEPARATOR, label_columns=None, **settings):
        self.preset = preset
        self.text_column = text_column
        self.label_column = label_column
        self.encoding = encoding
        self.verbose = verbose
        self.label_separator = label_separator
        self.label_columns = label_columns
        self._other_settings = {k: v for k, v in settings.items() if k not in SETTING_NAMES}
        for name in SETTING_NAMES:
            setattr(self, name, settings.get(name))

    def get_params(self, deep=True):
        """The estimator's parameters, settings included (scikit-learn's contract)."""
        names = ("preset", "text_column", "label_column", "verbose", "encoding", "label_separator", "label_columns",
                 *SETTING_NAMES)
        return {**{name: getattr(self, name) for name in names}, **self._other_settings}

    def _configs(self):
        settings = {**{name: getattr(self, name) for name in SETTING_NAMES}, **self._other_settings}
        return config_lib.make_configs(self.preset, **settings)

    # ------------------------------------------------------------------ fit

    def fit(self, X, y=None, validation=None, test=None, backup_dir=None, tensorboard_dir=None, callbacks=None,
            unlabeled=None, teacher=None):
        """Train on labelled texts.

        Args:
            X: texts (list, array, Series) with labels in `y`; or a CSV/TSV
                path (optionally gzipped), list of paths, DataFrame,
                `(texts, labels)` pair or `TextDataset`.
            y: labels, one per text in `X`, or `None`.
            validation: same kinds as `X` (with labels), or `None` to hold
                out `validation_fraction` of `X` (a different stratified
                split for each transformer).
            test: same kinds, or `None`; scored after training into
                `metrics_["test"]` and saved with the run.
            backup_dir: directory that makes training resumable (see
                `transformer_kit.resume`); `None` disables it.
            tensorboard_dir: write TensorBoard logs there if given.
            callbacks: extra Keras callbacks for every transformer.
            unlabeled: texts without labels (a sequence of str, or a path or
                list of `pathlib.Path` of corpus files or folders, as for
                `transformer-kit vectors`), or `None`. The n-gram branch
                self-trains on them as `self_training` says (the data report
                says what was decided); with a `teacher`, it labels them.
            teacher: `None`, or a model to distill (a fitted `TextClassifier`,
                a run or an export; see `transformer_kit.distillation`).

        Returns:
            self.
        """
        model_config, training_config = self._configs()
        # First, before any TensorFlow op: a multi-worker strategy sets up the runtime.
        strategy = make_strategy(training_config.strategy)
        encoder = make_encoder(model_config, training_config)  # a backbone's errors before reading data
        inputs = label_kind(self).fit_inputs(X, y, validation, test, unlabeled, teacher, training_config)
        with quiet_unless(self.verbose):
            result = fit_text_classifier(
                encoder=encoder, model_config=model_config, training_config=training_config, strategy=strategy,
                verbose=self.verbose, backup_dir=backup_dir, tensorboard_dir=tensorboard_dir, callbacks=callbacks,
                **inputs,
            )
        self.model_config_, self.training_config_ = model_config, training_config
        self._set_fitted(result)
        return self

    def _set_fitted(self, result):
        """Fitted attributes from a `FitResult` (or a `SavedRun`)."""
        self.model_, self.label_encoder_ = result.model, result.label_encoder
        self.classes_ = np.asarray(result.label_encoder.classes_, dtype=object)
        self.history_, self.metrics_, self.data_report_ = result.history, result.metrics, result.data_report
        self.sources_, self.resumed_ = result.sources, result.resumed
        self.thresholds_ = None if result.thresholds is None else np.asarray(result.thresholds, dtype=float)
        self._scorer = self._explainer = None

    # -------------------------------------------------------------- predict

    def predict_proba(self, X):
        """Class probabilities for raw texts.

        Args:
            X: sequence of str (list, array, Series); missing values
                (`None`, NaN) are scored as empty texts. Or a DataFrame with
                the `text_column` column(s), joined as in training.

        Returns:
            `pandas.DataFrame` `(len(X), num_classes)`, columns named after
            `classes_`; `.to_numpy()` gives the array.
        """
        self._require_fitted()
        if self._scorer is None or getattr(self, "_scored_model", None) is not self.model_:
            self._scorer, self._scored_model = CompiledScorer(without_unused_parts(self.model_)), self.model_
        return pd.DataFrame(self._scorer(label_kind(self).texts(X)), columns=list(self.classes_))

    def predict(self, X):
        """Predicted class names for raw texts, as a numpy array (dtype object).

        Multi-label: a list with, per text, the tuple of labels whose
        probability reaches their threshold (`thresholds_`), possibly empty.
        """
        probabilities = self.predict_proba(X).to_numpy()
        return label_kind(self).predict(probabilities, self.classes_, self.label_encoder_, self.thresholds_)

    def explain(self, X, target=None, steps=DEFAULT_STEPS, baseline="zeros"):
        """Which tokens made the model decide: one attribution per token.

        Integrated gradients over each transformer's token embeddings and
        the n-gram regression's exact linear contributions, combined with the
        blend weights (see `transformer_kit.explanations`). The SavedModel's
        `explain` signature runs the same function. With a pretrained
        backbone, the tokens are its tokenizer's pieces (`piece_explanations`).

        Args:
            X: sequence of str (or one str).
            target: `None` to explain each predicted class, or a class name
                (one for all texts, or one per text).
            steps: int, integration points for the transformers.
            baseline: `"zeros"` or `"unknown"` token embeddings.

        Returns:
            `Explanations` (a list of `Explanation`, one per text): tokens,
            their character spans, attributions, label and probability;
            shown as shaded tokens in a notebook, `.to_frame()` for a table.
        """
        self._require_fitted()
        label_kind(self).check_explainable()
        texts = [X] if isinstance(X, str) else as_text_list(X)
        if self._explainer is None or not self._explainer.explains(self.model_, steps, baseline):
            self._explainer = TextExplainer(self.model_, steps=steps, baseline=baseline)
        return self._explainer.explain(texts, list(self.classes_), target=target)

    def top_features(self, X, k=10, min_count=3):
        """The tokens with the largest mean attribution per predicted class over texts.

        Args:
            X: texts (or a path, DataFrame, `(texts, labels)` pair or
                `TextDataset`: only the texts are used).
            k: int, tokens per class.
            min_count: int, fewest occurrences for a token to be listed.

        Returns:
            `pandas.DataFrame`: `class`, `token`, `mean_attribution`, `count`
            (see `transformer_kit.top_features`); plot it with
            `transformer_kit.plots.plot_top_features`.
        """
        if not isinstance(X, (list, tuple, np.ndarray, pd.Series)):
            X = label_kind(self).read(X, None, "data").texts
        return top_features(self.explain(X), k=k, min_count=min_count)

    def evaluate(self, X, y=None):
        """Score the classifier on labelled data.

        Args:
            X: texts with labels in `y`, or a path, DataFrame,
                `(texts, labels)` or `TextDataset`.
            y: labels or `None`.

        Returns:
            dict: accuracy, macro precision/recall/F1, per-class metrics,
            ROC-AUC (binary), confusion matrix and the scikit-learn
            classification report (see `evaluate_probabilities`).
            Multi-label: micro/macro/sample F1, exact match, Hamming loss
            and per-label metrics at `thresholds_` (see
            `evaluate_label_sets`).
        """
        self._require_fitted()
        dataset = label_kind(self).read(X, y, "evaluation data")
        probabilities = self.predict_proba(dataset.texts).to_numpy()
        return label_kind(self).evaluate(dataset, probabilities, self.label_encoder_, self.thresholds_)

    def score(self, X, y=None, sample_weight=None):
        """Accuracy on labelled texts (scikit-learn's `score`); multi-label: exact-match accuracy."""
        if sample_weight is not None:
            label_kind(self).check_sample_weight()
            return super().score(X, y, sample_weight=sample_weight)
        return self.evaluate(X, y)[label_kind(self).score_metric]

    @property
    def sequence_length_(self):
        """int: the maximum tokens per text the transformers see."""
        return self.model_.get_layer("preprocessor").sequence_length

    @property
    def split_mode_(self):
        """`"word"` or `"character"`."""
        return self.model_.get_layer("preprocessor").split_mode

    # ---------------------------------------------------- save, load, export

    def save(self, run_dir, overwrite=False):
        """Write the run directory atomically (see `transformer_kit.saving`); returns its path."""
        self._require_fitted()
        return save_run(self, run_dir, overwrite=overwrite)

    @classmethod
    def load(cls, run_dir, verbose=None):
        """Restore a classifier saved with `save`; its predictions equal the saved one's.

        Args:
            run_dir: a directory written by `save` (or `transformer-kit train`).
            verbose: overrides the saved `verbose` if given.
        """
        return load_classifier(cls, run_dir, verbose=verbose)

    def export(self, path, version=None, overwrite=False, explain_steps=config_lib.EXPLAIN_STEPS):
        """Export a TensorFlow SavedModel that takes raw strings (see `transformer_kit.export`)."""
        self._require_fitted()
        return export_saved_model(self, path, version=version, overwrite=overwrite, explain_steps=explain_steps)

    # -------------------------------------------------------------- helpers

    def _require_fitted(self):
        if getattr(self, "model_", None) is None:
            raise RuntimeError("This TextClassifier is not fitted yet: call fit() or TextClassifier.load() first.")

    def __sklearn_is_fitted__(self):
        return getattr(self, "model_", None) is not None

    def __repr__(self, N_CHAR_MAX=700):
        shown = {k: v for k, v in self.get_params().items() if v is not None}
        shown = {k: v for k, v in shown.items() if k not in _DEFAULT_PARAMS or _DEFAULT_PARAMS[k] != v}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


_DEFAULT_PARAMS = {"preset": "default", "text_column": "text", "label_column": "label", "verbose": 1,
                   "label_separator": DEFAULT_SEPARATOR}
