"""`TextClassifier`: train, evaluate, save and load a transformer text classifier.

The object a notebook user works with, in the spirit of scikit-learn: build it
with settings, `fit` it on a CSV (or DataFrame), then `predict`,
`predict_proba`, `evaluate`, `save`, `load` and `export`.
"""

import dataclasses
import json
import math
import platform
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

import transformer_kit
from transformer_kit import config as config_lib
from transformer_kit.data import (
    LabelEncoder,
    TextDataset,
    build_data_report,
    choose_sequence_length,
    detect_split_mode,
    format_data_report,
    load_csv_dataset,
    make_text_vectorizer,
    make_token_dataset,
    stratified_split,
    vectorize_texts,
)
from transformer_kit.data.streaming import make_streaming_token_dataset, scan_csv, should_stream
from transformer_kit.data.text_vectorization import STANDARDIZERS
from transformer_kit.distribution import make_strategy, prepare_model
from transformer_kit.errors import DataError, RunDirectoryError
from transformer_kit.evaluation import evaluate_probabilities
from transformer_kit.layers import ProbabilityBlend
from transformer_kit.layers.probability_blend import as_class_probabilities
from transformer_kit.models import build_text_classifier, compile_text_classifier
from transformer_kit.ngram import choose_ngram_weight, fit_ngram_classifier, sparse_ngram_probabilities
from transformer_kit.plots import plot_confusion_matrix, plot_learning_curves
from transformer_kit.run_directory import (
    atomic_directory,
    read_manifest,
    write_manifest,
)

PREDICT_BATCH_SIZE = 256


class TextClassifier:
    """A transformer text classifier trained from labelled texts.

    By default (`preset="default"`) it averages a few small transformers
    trained with different seeds and blends them with an n-gram TF-IDF
    logistic regression, all inside one Keras model; `preset="single"` trains
    one plain transformer. Every setting of `ModelConfig` and `TrainingConfig`
    can be overridden by keyword.

    Args:
        preset: `"default"`, `"single"` or `"ensemble"` (3 transformers, no
            n-grams).
        text_column: name of the text column in CSV files and DataFrames.
        label_column: name of the label column.
        verbose: 0 (silent), 1 (progress bars and messages) or 2 (one line per
            epoch).
        **settings: overrides, e.g. `epochs=5`, `embed_dim=128`, `seed=1`,
            `class_weight="balanced"`, `ngram_weight=0`.

    Attributes (after `fit` or `load`):
        classes_: list of str, the class names; column `i` of
            `predict_proba` is `classes_[i]`.
        sequence_length_: int, the maximum tokens per text.
        split_mode_: `"word"` or `"character"`.
        history_: `pandas.DataFrame`, one row per transformer and epoch.
        metrics_: dict with `"validation"` and/or `"test"` metrics.
        data_report_: dict, see `transformer_kit.data.build_data_report`.
        model_: the end-to-end `keras.Model` from strings to probabilities.

    Example:

    >>> clf = TextClassifier(epochs=3)
    >>> clf.fit("data/sms_spam_train.csv")
    >>> clf.predict(["WINNER! Claim your free prize now", "see you at lunch"])
    array(['spam', 'ham'], dtype=object)
    >>> clf.evaluate("data/sms_spam_test.csv")["accuracy"]
    0.98...
    >>> clf.save("runs/spam")
    """

    def __init__(self, preset="default", text_column="text", label_column="label", verbose=1, **settings):
        self.model_config, self.training_config = config_lib.make_configs(preset, **settings)
        self.text_column = text_column
        self.label_column = label_column
        self.verbose = verbose
        self.classes_ = None
        self.history_ = None
        self.metrics_ = {}
        self.data_report_ = None
        self.sources_ = {}
        self.model_ = None

    # ------------------------------------------------------------------ fit

    def fit(self, train, validation=None, test=None, backup_dir=None, tensorboard_dir=None, callbacks=None):
        """Train on labelled texts.

        Args:
            train: CSV/TSV path (optionally gzipped), list of paths, DataFrame,
                `(texts, labels)` pair or `TextDataset`.
            validation: same kinds, or `None` to hold out
                `validation_fraction` of `train` (a different stratified split
                for each transformer of an ensemble).
            test: same kinds, or `None`. Scored after training; the results
                are in `metrics_["test"]` and saved with the run.
            backup_dir: directory for `BackupAndRestore` state and finished
                transformers. Training that is interrupted and started again
                with the same `backup_dir` resumes there instead of starting
                over. `None` disables it.
            tensorboard_dir: write TensorBoard logs there if given.
            callbacks: extra Keras callbacks for every transformer.

        Returns:
            `history_`: a DataFrame with one row per transformer and epoch.
        """
        cfg = self.training_config
        # First, before any TensorFlow op: a multi-worker strategy sets up the runtime.
        strategy = make_strategy(cfg.strategy)
        if should_stream(train, cfg.streaming):
            return self._fit_streaming(train, validation, test, backup_dir, tensorboard_dir, callbacks, strategy)
        train = self._as_dataset(train, "training data")
        validation = None if validation is None else self._as_dataset(validation, "validation data")
        test = None if test is None else self._as_dataset(test, "test data")

        encoder = LabelEncoder.fit(train.labels)
        train_ids = encoder.encode(train.labels, source=train.source)
        # Unknown labels in validation or test data are an error now, not after training.
        validation_ids = None if validation is None else encoder.encode(validation.labels, source=validation.source)
        test_ids = None if test is None else encoder.encode(test.labels, source=test.source)

        if cfg.deterministic:
            tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(cfg.seed)

        lengths = self._fit_vectorizer(train.texts)

        self.classes_ = list(encoder.classes_)
        self.label_encoder_ = encoder
        self.data_report_ = build_data_report(train, validation, test, lengths, self.sequence_length_)
        self.sources_ = {
            name: dataset.source
            for name, dataset in (("train", train), ("validation", validation), ("test", test))
            if dataset is not None
        }
        self._say(format_data_report(self.data_report_))
        if backup_dir is not None:
            self._check_backup_settings(Path(backup_dir))

        member_data = self._in_memory_member_data(train, train_ids, validation, validation_ids)
        held_out_ngram = None
        if cfg.ngram_weight == "auto" and validation is None:
            held_out_ngram = lambda: self._held_out_ngram_weight(train, train_ids)  # noqa: E731
        self._fit_members_and_ngram(
            cfg.resolved_ensemble_size(len(train)), member_data, train.texts, train_ids,
            backup_dir, tensorboard_dir, callbacks, strategy, held_out_ngram,
        )
        if cfg.ngram_weight == "auto" and validation is not None and self.ngram_model_ is not None:
            self._validation_ngram_weight(validation, validation_ids)
        self._score_splits(validation, validation_ids, test, test_ids)
        return self.history_

    def _fit_streaming(self, paths, validation, test, backup_dir, tensorboard_dir, callbacks, strategy):
        """`fit` for files larger than memory (see `transformer_kit.data.streaming`).

        Vocabulary, sequence length and the n-gram model come from a bounded
        random sample; the transformers read the files in chunks every epoch.
        Without `validation`, texts whose hash falls in `validation_fraction`
        are held out, and validation metrics are scored on a sample of them.
        """
        cfg = self.training_config
        validation = None if validation is None else self._as_dataset(validation, "validation data")
        test = None if test is None else self._as_dataset(test, "test data")
        fraction = 0.0 if validation is not None else cfg.validation_fraction
        self._say("Streaming mode: scanning the training data once for labels and a sample")
        summary = scan_csv(paths, self.text_column, self.label_column, validation_fraction=fraction, seed=cfg.seed)
        encoder = LabelEncoder.fit([*summary.train_label_counts, *summary.validation_label_counts])
        source = " + ".join(str(path) for path in ([paths] if isinstance(paths, (str, Path)) else paths))
        train_rows = sum(summary.train_label_counts.values())
        sample = TextDataset(
            texts=summary.sample_texts,
            labels=summary.sample_labels,
            frame=pd.DataFrame({"text": summary.sample_texts, "label": summary.sample_labels}),
            source=f"{source} (random sample of {len(summary.sample_texts)} of {train_rows} training rows)",
        )
        if validation is None and summary.validation_texts:
            validation = TextDataset(
                texts=summary.validation_texts,
                labels=summary.validation_labels,
                frame=pd.DataFrame({"text": summary.validation_texts, "label": summary.validation_labels}),
                source=f"{source} (hashed validation part, sample of {len(summary.validation_texts)})",
            )
        sample_ids = encoder.encode(sample.labels, source=sample.source)
        validation_ids = None if validation is None else encoder.encode(validation.labels, source=validation.source)
        test_ids = None if test is None else encoder.encode(test.labels, source=test.source)

        if cfg.deterministic:
            tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(cfg.seed)
        lengths = self._fit_vectorizer(sample.texts, num_texts=train_rows)
        self.classes_ = list(encoder.classes_)
        self.label_encoder_ = encoder
        self.data_report_ = build_data_report(sample, validation, test, lengths, self.sequence_length_)
        self.data_report_["streaming"] = {
            "rows": summary.num_rows,
            "train_rows": train_rows,
            "train_classes": summary.train_label_counts,
            "validation_rows": sum(summary.validation_label_counts.values()),
            "validation_fraction_by_hash": fraction,
        }
        self.sources_ = {"train": source, **({"validation": validation.source} if validation else {}),
                         **({"test": test.source} if test else {})}
        self._say(format_data_report(self.data_report_))
        if backup_dir is not None:
            self._check_backup_settings(Path(backup_dir))

        counts = np.asarray([summary.train_label_counts.get(name, 0) for name in self.classes_])
        class_weight = None
        if cfg.class_weight == "balanced":
            class_weight = {i: float(train_rows / (len(counts) * n)) for i, n in enumerate(counts) if n}
        columns = dict(text_column=self.text_column, label_column=self.label_column)

        def member_data(seed):
            train_data = make_streaming_token_dataset(
                paths, encoder, self.vectorizer_, self.sequence_length_, "train", fraction, cfg.batch_size,
                seed=seed, **columns,
            )
            if fraction:
                validation_data = make_streaming_token_dataset(
                    paths, encoder, self.vectorizer_, self.sequence_length_, "validation", fraction,
                    PREDICT_BATCH_SIZE, **columns,
                )
            else:
                validation_data = make_token_dataset(
                    validation.texts, validation_ids, self.vectorizer_, self.sequence_length_, PREDICT_BATCH_SIZE
                )
            return train_data, validation_data, math.ceil(train_rows / cfg.batch_size), class_weight

        self._fit_members_and_ngram(
            cfg.resolved_ensemble_size(train_rows), member_data, sample.texts, sample_ids,
            backup_dir, tensorboard_dir, callbacks, strategy,
        )
        self._score_splits(validation, validation_ids, test, test_ids)
        return self.history_

    def _fit_vectorizer(self, texts, num_texts=None):
        """Choose word/character tokens, learn the vocabulary and the sequence length.

        `num_texts`: the number of training texts when `texts` is a sample.
        Returns the untruncated token count of each text, for the data report.
        """
        cfg = self.training_config
        self.split_mode_ = detect_split_mode(texts) if cfg.split == "auto" else cfg.split
        self.vectorizer_ = make_text_vectorizer(texts, max_tokens=cfg.max_tokens, split=self.split_mode_)
        lengths = [len(ids) for ids in vectorize_texts(self.vectorizer_, texts)]
        self.sequence_length_ = cfg.sequence_length or choose_sequence_length(lengths, num_texts=num_texts)
        return lengths

    def _score_splits(self, validation, validation_ids, test, test_ids):
        self.metrics_ = {}
        if validation is not None:
            self.metrics_["validation"] = self._score(validation.texts, validation_ids)
        if test is not None:
            self.metrics_["test"] = self._score(test.texts, test_ids)

    def _fit_members_and_ngram(self, ensemble_size, member_data, ngram_texts, ngram_ids,
                               backup_dir, tensorboard_dir, callbacks, strategy, held_out_ngram=None):
        """Train the transformers, then the n-gram regression, and build `model_`.

        `held_out_ngram`, if given, is called after the transformers: it
        returns `(weight, model)`, the blend weight chosen on held-out data and
        the n-gram model fitted without it, whose weights start the final fit.
        """
        cfg = self.training_config
        members, history_rows = [], []
        trainer = None
        for index in range(ensemble_size):
            self._say(f"\nTraining transformer {index + 1}/{ensemble_size}")
            member, rows, trainer = self._fit_member(
                index, member_data, backup_dir, tensorboard_dir, callbacks, strategy,
                trainer=trainer, last=index == ensemble_size - 1,
            )
            members.append(member)
            history_rows.extend(rows)
        self.members_ = members

        self.ngram_model_ = None
        chosen_weight, initial_ngram = held_out_ngram() if held_out_ngram else (None, None)
        if cfg.ngram_weight == "auto" or cfg.ngram_weight > 0:
            self._say("\nFitting the n-gram TF-IDF logistic regression")
            self.ngram_model_ = self._fit_ngram(ngram_texts, ngram_ids, warm_start=initial_ngram)
        self.blend_weights_ = self._blend_weights(len(members), self.ngram_model_ is not None, chosen_weight)
        self.model_ = self._build_inference_model()
        self.history_ = pd.DataFrame(history_rows)

    def _fit_ngram(self, texts, ids, warm_start=None):
        cfg = self.training_config
        return fit_ngram_classifier(
            texts, ids, len(self.classes_), split=self.split_mode_, max_tokens=cfg.ngram_max_tokens,
            min_df=cfg.ngram_min_df, c=cfg.ngram_c, class_weight=cfg.class_weight, seed=cfg.seed,
            warm_start=warm_start,
        )

    def _held_out_ngram_weight(self, train, train_ids):
        """The blend weight from transformer 0's own validation split.

        An n-gram model is fitted without that split (transformer 0 never
        trained on it either) and the weight minimizing log-loss there is
        chosen. Returns `(weight, that n-gram model)`; the model's weights then
        start the final fit on all the training data, which so converges in
        a fraction of the iterations.
        """
        cfg = self.training_config
        train_index, held_out = stratified_split(train.labels, test_size=cfg.validation_fraction, seed=cfg.seed)
        texts, true_ids = [train.texts[i] for i in held_out], train_ids[held_out]
        transformer = self._part_probabilities(texts, self.members_[:1])[0]
        self._say("\nFitting the n-gram TF-IDF logistic regression without transformer 1's validation split")
        held_out_ngram = self._fit_ngram([train.texts[i] for i in train_index], train_ids[train_index])
        # The sparse scorer, as for the final model: the Keras n-gram model counts
        # into a dense (texts x n-gram vocabulary) matrix, up to 150k columns.
        ngram_probabilities, _ = sparse_ngram_probabilities(held_out_ngram)
        ngram = np.asarray(as_class_probabilities(ngram_probabilities(tf.constant(texts))))
        weight = choose_ngram_weight(transformer, ngram, true_ids)
        self._say(f"N-gram model weight in the blend, chosen on {len(texts)} held-out texts: {weight:.2f}")
        return weight, held_out_ngram

    def _validation_ngram_weight(self, validation, validation_ids):
        """Set the blend weights from the whole ensemble and the n-gram model on `validation`."""
        parts = self._part_probabilities(validation.texts, self.members_)
        transformer, ngram = np.mean(parts[:-1], axis=0), parts[-1]
        weight = choose_ngram_weight(transformer, ngram, validation_ids)
        self._say(f"N-gram model weight in the blend, chosen on {len(validation.texts)} validation texts: {weight:.2f}")
        self.blend_weights_ = self._blend_weights(len(self.members_), True, weight)
        self.model_ = self._build_inference_model()

    def _in_memory_member_data(self, train, train_ids, validation, validation_ids):
        """`member_data(seed)` for `_fit_member`: datasets from texts in memory."""
        cfg = self.training_config

        def member_data(seed):
            if validation is None:
                train_index, validation_index = stratified_split(
                    train.labels, test_size=cfg.validation_fraction, seed=seed
                )
                fit_texts = [train.texts[i] for i in train_index]
                fit_ids = train_ids[train_index]
                val_texts = [train.texts[i] for i in validation_index]
                val_ids = train_ids[validation_index]
            else:
                fit_texts, fit_ids, val_texts, val_ids = train.texts, train_ids, validation.texts, validation_ids
            train_data = make_token_dataset(
                fit_texts, fit_ids, self.vectorizer_, self.sequence_length_, cfg.batch_size, shuffle=True, seed=seed
            )
            validation_data = make_token_dataset(
                val_texts, val_ids, self.vectorizer_, self.sequence_length_, PREDICT_BATCH_SIZE
            )
            return train_data, validation_data, math.ceil(len(fit_texts) / cfg.batch_size), self._class_weights(fit_ids)

        return member_data

    def _fit_member(self, index, member_data, backup_dir, tensorboard_dir, callbacks, strategy,
                    trainer=None, last=True):
        """Train transformer `index` on `member_data(seed)`: (train, validation, steps per epoch, class weights).

        Returns `(model, history rows, trainer)`. `trainer` is a compiled
        model that the next transformer may train in (see `_restart_trainer`)
        or `None`; passing it back in saves tracing the training step again.
        """
        cfg = self.training_config
        seed = cfg.seed + index
        member_name = f"transformer_{index}"
        if backup_dir is not None:
            finished = Path(backup_dir) / f"{member_name}.keras"
            finished_history = Path(backup_dir) / f"{member_name}_history.json"
            epoch_log = Path(backup_dir) / f"{member_name}_epochs.csv"
            if finished.exists() and finished_history.exists():
                self._say(f"Resuming: {member_name} was already trained ({finished}).")
                return keras.saving.load_model(finished), json.loads(finished_history.read_text()), trainer

        train_data, validation_data, steps_per_epoch, class_weight = member_data(seed)
        keras.utils.set_random_seed(seed)
        # Variables created in the scope are mirrored on every replica; Keras
        # then splits each (global) batch across them.
        with strategy.scope():
            model = build_text_classifier(
                self.vectorizer_.vocabulary_size(),
                self.sequence_length_,
                num_classes=len(self.classes_),
                name=member_name,
                **dataclasses.asdict(self.model_config),
            )
            if trainer is not None and trainer.steps_per_epoch == steps_per_epoch:
                training_model = _restart_trainer(trainer.model, model)
            else:
                training_model = compile_text_classifier(
                    model,
                    steps_per_epoch=steps_per_epoch,
                    epochs=cfg.epochs,
                    learning_rate=cfg.learning_rate,
                    weight_decay=cfg.weight_decay,
                )
        prepare_model(training_model, strategy)
        if strategy.num_replicas_in_sync > 1:
            # Every worker builds the same seeded dataset from memory; there
            # are no files to shard, so workers split it by batches.
            options = tf.data.Options()
            options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
            train_data, validation_data = train_data.with_options(options), validation_data.with_options(options)
        member_callbacks = [
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=cfg.patience, restore_best_weights=True
            )
        ]
        if backup_dir is not None:
            backup = Path(backup_dir) / f"{member_name}_backup"
            resumed_epochs = _backed_up_epochs(backup)
            _trim_epoch_log(epoch_log, resumed_epochs)
            if resumed_epochs:
                self._say(f"Resuming {member_name} from its backup at epoch {resumed_epochs + 1} ({backup}).")
            member_callbacks += [
                # The epoch log survives interruptions (BackupAndRestore keeps
                # only the latest weights), so history_ covers every epoch.
                keras.callbacks.CSVLogger(str(epoch_log), append=True),
                # Two checkpoints: a kill while the weights file is being
                # written leaves the previous epoch's one to resume from.
                keras.callbacks.BackupAndRestore(str(backup), double_checkpoint=True),
                keras.callbacks.ModelCheckpoint(
                    str(Path(backup_dir) / f"{member_name}_best.keras"), save_best_only=True
                ),
            ]
        if tensorboard_dir is not None:
            member_callbacks.append(keras.callbacks.TensorBoard(str(Path(tensorboard_dir) / member_name)))
        member_callbacks += list(callbacks or [])

        history = training_model.fit(
            train_data,
            validation_data=validation_data,
            epochs=cfg.epochs,
            class_weight=class_weight,
            callbacks=member_callbacks,
            shuffle=False,  # the dataset shuffles itself, seeded
            verbose=self.verbose,
        )
        trainer = None
        if strategy is not tf.distribute.get_strategy():
            # A plain single-device copy for prediction, saving and export:
            # Keras' predict_on_batch under MirroredStrategy feeds the whole
            # batch to every replica and returns each row once per replica.
            model = _copy_with_weights(training_model)
        else:
            if not last:
                # The next transformer trains in this compiled model (same
                # graph, traced once); this one keeps its weights elsewhere.
                trainer = _Trainer(training_model, steps_per_epoch)
            if training_model is not model:
                model.set_weights(training_model.get_weights())
            elif trainer is not None:
                model = _copy_with_weights(training_model)
        if backup_dir is not None:
            rows = _read_epoch_log(epoch_log, index)
        else:
            rows = [
                {"member": index, "epoch": epoch + 1, **{key: float(values[i]) for key, values in history.history.items()}}
                for i, epoch in enumerate(history.epoch)
            ]
        if backup_dir is not None:
            model.save(finished)
            finished_history.write_text(json.dumps(rows))
        return model, rows, trainer

    def _check_backup_settings(self, backup_dir):
        """Refuse to resume from a backup made with other settings or data.

        `BackupAndRestore` would load weights of another shape, or silently
        mix two different runs, if the settings or the vocabulary changed.
        """
        settings = config_lib.dumps(
            {
                # A run may resume on other hardware: the strategy does not count.
                "config": config_lib.configs_to_dict(
                    self.model_config, dataclasses.replace(self.training_config, strategy="auto")
                ),
                "classes": self.classes_,
                "sequence_length": self.sequence_length_,
                "vocabulary": self.vectorizer_.get_vocabulary(),
            }
        )
        path = backup_dir / "settings.json"
        if path.exists() and path.read_text() != settings:
            raise RunDirectoryError(
                f"{backup_dir} holds an interrupted training run with other settings or data. "
                "Run the same command again to resume it, or delete that directory to start over."
            )
        backup_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(settings)

    def _class_weights(self, ids):
        if self.training_config.class_weight != "balanced":
            return None
        present = np.unique(ids)
        weights = compute_class_weight("balanced", classes=present, y=ids)
        return {int(label): float(weight) for label, weight in zip(present, weights)}

    def _blend_weights(self, ensemble_size, with_ngram, chosen_weight=None):
        ngram_weight = self.training_config.ngram_weight if with_ngram else 0.0
        if ngram_weight == "auto":
            # Chosen on held-out data; without any (streaming), an even blend.
            ngram_weight = 0.5 if chosen_weight is None else chosen_weight
        weights = [(1.0 - ngram_weight) / ensemble_size] * ensemble_size
        return weights + ([ngram_weight] if with_ngram else [])

    def _build_inference_model(self):
        """One Keras model from raw strings to one probability column per class."""
        text = keras.Input(shape=(), dtype="string", name="text")
        # Fixed-length twin of the training vectorizer: a saved Keras model
        # needs dense tensors. Padding is masked, so results do not change.
        fixed_vectorizer = keras.layers.TextVectorization(
            max_tokens=self.vectorizer_.vocabulary_size(),
            standardize=STANDARDIZERS[self.split_mode_],
            split="whitespace",
            output_sequence_length=self.sequence_length_,
            vocabulary=self.vectorizer_.get_vocabulary(),
            name="text_vectorizer",
        )
        token_ids = fixed_vectorizer(text)
        parts = [member(token_ids) for member in self.members_]
        if self.ngram_model_ is not None:
            parts.append(self.ngram_model_(text))
        probabilities = ProbabilityBlend(self.blend_weights_, name="probabilities")(parts)
        return keras.Model(text, probabilities, name="text_classifier_inference")

    # ------------------------------------------------------------- predict

    def predict_proba(self, texts, batch_size=PREDICT_BATCH_SIZE):
        """Class probabilities for raw texts.

        Texts are sorted by length and padded per batch, so short texts are
        not padded to the longest one; the rows come back in input order.

        Args:
            texts: sequence of str (a list, array or pandas Series).
            batch_size: int.

        Returns:
            `pandas.DataFrame` `(len(texts), num_classes)`, columns named
            after `classes_`; `.to_numpy()` gives the array.
        """
        self._require_fitted()
        texts = _as_text_list(texts)
        parts = self._part_probabilities(texts, self.members_, batch_size)
        blended = sum(w * p for w, p in zip(self.blend_weights_, parts))
        if not texts:
            blended = np.zeros((0, len(self.classes_)), "float32")
        return pd.DataFrame(np.asarray(blended, "float32"), columns=self.classes_)

    def _part_probabilities(self, texts, members, batch_size=PREDICT_BATCH_SIZE):
        """Each transformer's probabilities, then the n-gram model's, as `(n, K)` arrays."""
        num_classes = len(self.classes_)
        parts = [np.zeros((len(texts), num_classes), "float32") for _ in members]
        with_ngram = self.ngram_model_ is not None
        ngram = np.zeros((len(texts), num_classes), "float32") if with_ngram else None
        if texts:
            token_ids = vectorize_texts(self.vectorizer_, texts, self.sequence_length_)
            order = np.argsort([len(ids) for ids in token_ids], kind="stable")
            for start in range(0, len(texts), batch_size):
                rows = order[start : start + batch_size]
                batch = _pad_batch([token_ids[i] for i in rows])
                for part, member in zip(parts, members):
                    part[rows] = self._member_scorer(member)(batch)
                if with_ngram:
                    ngram[rows] = as_class_probabilities(self._ngram_scorer()(tf.constant([texts[i] for i in rows])))
        return parts + ([ngram] if with_ngram else [])

    def _member_scorer(self, member):
        # One tf.function per transformer, traced once for any batch shape:
        # batches of many widths (multiples of 8) would otherwise retrace
        # Keras' predict function for each width (and, traced per shape,
        # three transformers set off TensorFlow's "excessive retracing" warning).
        scorers = self.__dict__.setdefault("_member_scorers", {})
        entry = scorers.get(id(member))
        if entry is None or entry[0] is not member:  # ids of garbage-collected models are reused
            function = tf.function(
                lambda ids: as_class_probabilities(member(ids, training=False)),
                input_signature=[tf.TensorSpec([None, None], tf.int32)],
            )
            entry = scorers[id(member)] = (member, function)
        return entry[1]

    def _ngram_scorer(self):
        # The sparse twin of the n-gram model: same numbers, ~10x faster than
        # its dense (batch x n-gram vocabulary) counts. Built once per model.
        if getattr(self, "_ngram_scorer_for", None) is not self.ngram_model_:
            scorer, _ = sparse_ngram_probabilities(self.ngram_model_)
            self._ngram_scorer_fn = tf.function(scorer, reduce_retracing=True)
            self._ngram_scorer_for = self.ngram_model_
        return self._ngram_scorer_fn

    def predict(self, texts, batch_size=PREDICT_BATCH_SIZE):
        """Predicted class names for raw texts.

        Args:
            texts: sequence of str.
            batch_size: int.

        Returns:
            `numpy.ndarray` of class names (dtype object).
        """
        probabilities = self.predict_proba(texts, batch_size).to_numpy()
        return np.asarray(self.classes_, dtype=object)[probabilities.argmax(axis=1)] if len(probabilities) else np.array([], dtype=object)

    def evaluate(self, data):
        """Score the classifier on labelled data.

        Args:
            data: a path, DataFrame, `(texts, labels)` or `TextDataset`.

        Returns:
            dict: accuracy, macro precision/recall/F1, per-class metrics,
            ROC-AUC (binary), confusion matrix and the scikit-learn
            classification report (see `evaluate_probabilities`).
        """
        self._require_fitted()
        dataset = self._as_dataset(data, "evaluation data")
        true_ids = self.label_encoder_.encode(dataset.labels, source=dataset.source)
        return self._score(dataset.texts, true_ids)

    def _score(self, texts, true_ids):
        return evaluate_probabilities(true_ids, self.predict_proba(texts).to_numpy(), self.classes_)

    # ------------------------------------------------------- save and load

    def save(self, run_dir, overwrite=False):
        """Write the run directory, atomically.

        Contents: `model.keras` (strings -> probabilities, vectorizer
        included), `labels.json`, `config.json`, `history.csv`,
        `metrics.json`, `data_report.json` and `.txt`, `learning_curves.png`,
        `confusion_matrix.png` (test data, else validation) and, written
        last, `manifest.json`.

        Args:
            run_dir: directory to create.
            overwrite: replace an existing run directory.

        Returns:
            `pathlib.Path` of the run directory.
        """
        self._require_fitted()
        run_dir = Path(run_dir)
        with atomic_directory(run_dir, overwrite=overwrite) as staging:
            self.model_.save(staging / "model.keras")
            self.label_encoder_.to_json(staging / "labels.json")
            (staging / "config.json").write_text(config_lib.dumps(self._config_record()))
            self.history_.to_csv(staging / "history.csv", index=False)
            (staging / "metrics.json").write_text(config_lib.dumps(self.metrics_))
            (staging / "data_report.json").write_text(config_lib.dumps(self.data_report_))
            (staging / "data_report.txt").write_text(format_data_report(self.data_report_) + "\n")
            if len(self.history_):
                plot_learning_curves(self.history_.to_dict("records"), staging / "learning_curves.png")
            scored = self.metrics_.get("test") or self.metrics_.get("validation")
            if scored:
                plot_confusion_matrix(scored["confusion_matrix"], self.classes_, staging / "confusion_matrix.png")
            write_manifest(
                staging,
                {
                    "kind": "transformer_kit run",
                    "format_version": 1,
                    "files": sorted(p.name for p in staging.iterdir()),
                    "versions": _versions(),
                },
            )
        return run_dir

    @classmethod
    def load(cls, run_dir, verbose=1):
        """Restore a classifier saved with `save`.

        The model is loaded with Keras `safe_mode` and the configuration from
        JSON only: a run directory whose files were edited to contain code
        (e.g. a `Lambda` layer) is refused.

        Args:
            run_dir: a directory written by `save` (or `transformer-kit train`).
            verbose: as in the constructor.

        Returns:
            A fitted `TextClassifier` whose predictions equal the saved one's.
        """
        run_dir = Path(run_dir)
        read_manifest(run_dir)
        record = _read_json(run_dir / "config.json")
        try:
            model_config, training_config = config_lib.configs_from_dict(record["config"])
        except (KeyError, TypeError) as error:
            raise RunDirectoryError(f"{run_dir / 'config.json'} is not a valid run configuration ({error}).") from error
        classifier = cls.__new__(cls)
        classifier.model_config, classifier.training_config = model_config, training_config
        classifier.text_column = record.get("text_column", "text")
        classifier.label_column = record.get("label_column", "label")
        classifier.verbose = verbose
        classifier.label_encoder_ = LabelEncoder.from_json(run_dir / "labels.json")
        classifier.classes_ = list(classifier.label_encoder_.classes_)
        classifier.sequence_length_ = record["sequence_length"]
        classifier.split_mode_ = record["split_mode"]
        classifier.sources_ = record.get("sources", {})
        classifier.metrics_ = _read_json(run_dir / "metrics.json")
        classifier.data_report_ = _read_json(run_dir / "data_report.json")
        history_path = run_dir / "history.csv"
        classifier.history_ = pd.read_csv(history_path) if history_path.stat().st_size > 1 else pd.DataFrame()
        try:
            model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
        except Exception as error:  # Keras raises several types for unsafe or broken files
            raise RunDirectoryError(
                f"Could not load {run_dir / 'model.keras'} safely: {error}. transformer_kit only "
                "loads models made of its own and Keras' built-in layers; retrain the model "
                "rather than loading a file you do not trust."
            ) from error
        classifier.model_ = model
        classifier._attach_parts(model, record)
        return classifier

    def _attach_parts(self, model, record):
        fixed = model.get_layer("text_vectorizer")
        self.vectorizer_ = keras.layers.TextVectorization(
            max_tokens=fixed.vocabulary_size(),
            standardize=STANDARDIZERS[self.split_mode_],
            split="whitespace",
            ragged=True,
            vocabulary=fixed.get_vocabulary(),
            name="text_vectorizer",
        )
        names = [layer.name for layer in model.layers]
        self.members_ = [model.get_layer(name) for name in names if name.startswith("transformer_")]
        self.ngram_model_ = model.get_layer("ngram_classifier") if "ngram_classifier" in names else None
        self.blend_weights_ = model.get_layer("probabilities").blend_weights
        if len(self.members_) != record.get("ensemble_size", len(self.members_)):
            raise RunDirectoryError("model.keras and config.json disagree on the number of transformers.")

    def _config_record(self):
        return {
            "config": config_lib.configs_to_dict(self.model_config, self.training_config),
            "text_column": self.text_column,
            "label_column": self.label_column,
            "classes": self.classes_,
            "sequence_length": self.sequence_length_,
            "split_mode": self.split_mode_,
            "vocabulary_size": self.vectorizer_.vocabulary_size(),
            "ensemble_size": len(self.members_),
            "ngram": self.ngram_model_ is not None,
            "blend_weights": self.blend_weights_,
            "sources": self.sources_,
            "versions": _versions(),
        }

    def export(self, path, version=None, overwrite=False):
        """Export a TensorFlow SavedModel that takes raw strings.

        See `transformer_kit.export.export_saved_model` for the signatures
        and layout (`path/<version>/`, as TensorFlow Serving expects).

        Args:
            path: export base directory.
            version: int version sub-directory, or `None` for the next one.
            overwrite: replace an existing version directory.

        Returns:
            `pathlib.Path` of the version directory.
        """
        from transformer_kit.export import export_saved_model

        self._require_fitted()
        return export_saved_model(self, path, version=version, overwrite=overwrite)

    # ------------------------------------------------------------- helpers

    def _as_dataset(self, data, role):
        if isinstance(data, TextDataset):
            return data
        if isinstance(data, tuple) and len(data) == 2:
            texts, labels = data
            frame = pd.DataFrame({"text": _as_text_list(texts), "label": [str(label) for label in labels]})
            return load_csv_dataset(frame, text_column="text", label_column="label")
        return load_csv_dataset(data, text_column=self.text_column, label_column=self.label_column)

    def _require_fitted(self):
        if self.model_ is None:
            raise RuntimeError("This TextClassifier is not fitted yet: call fit() or TextClassifier.load() first.")

    def _say(self, message):
        if self.verbose:
            print(message, flush=True)

    def __repr__(self):
        state = f"classes={self.classes_}" if self.classes_ else "not fitted"
        return f"TextClassifier(preset={self.training_config.preset!r}, {state})"


@dataclasses.dataclass
class _Trainer:
    """A compiled transformer whose traced training step the next one reuses."""

    model: keras.Model
    steps_per_epoch: int


def _restart_trainer(trainer, fresh):
    """Make compiled `trainer` start where freshly built `fresh` would.

    Tracing Keras' training step takes ~4 s on CPU, as long as a few epochs
    on small data; the ensemble's transformers share one architecture, so
    each after the first trains in the first one's compiled model. Copying
    every variable (weights and the dropout seed states) and zeroing the
    optimizer (step counter and moments, as a new one starts) makes the run
    the one `fresh` would have had, compiled on its own.
    """
    for target, source in zip(trainer.variables, fresh.variables, strict=True):
        target.assign(source)
    for variable in trainer.optimizer.variables:
        if variable.name != "learning_rate":  # a variable only without a schedule
            variable.assign(keras.ops.zeros_like(variable))
    return trainer


def _copy_with_weights(model):
    """A separate, uncompiled copy of `model` holding its current weights."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def _as_text_list(texts):
    if isinstance(texts, str):
        raise DataError("Expected a list of texts, got a single string. Wrap it in a list: [text].")
    return ["" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text) for text in texts]


def _pad_batch(rows):
    """Pad token-id lists to the longest, rounded up to a multiple of 8 (fewer retraces)."""
    length = max(8, int(math.ceil(max(len(r) for r in rows) / 8) * 8))
    batch = np.zeros((len(rows), length), "int32")
    for i, ids in enumerate(rows):
        batch[i, : len(ids)] = ids
    return batch


def _backed_up_epochs(backup):
    """Epochs already completed according to a `BackupAndRestore` directory (0 if none)."""
    try:
        return int(json.loads((Path(backup) / "training_metadata.json").read_text())["epoch"])
    except (FileNotFoundError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        return 0


def _trim_epoch_log(path, epochs):
    """Keep the first `epochs` rows of an epoch log: the ones the backup holds.

    An epoch logged but not backed up before a crash runs again after resuming.
    """
    if epochs == 0:
        Path(path).unlink(missing_ok=True)
    elif Path(path).exists():
        frame = pd.read_csv(path)
        frame[frame["epoch"] < epochs].to_csv(path, index=False)


def _read_epoch_log(path, member):
    """History rows from a `CSVLogger` file, one per epoch."""
    frame = pd.read_csv(path).sort_values("epoch")
    return [
        {"member": member, "epoch": int(row.pop("epoch")) + 1, **{k: float(v) for k, v in row.items()}}
        for row in frame.to_dict("records")
    ]


def _read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError as error:
        raise RunDirectoryError(f"{path} is missing; the run directory is incomplete.") from error
    except json.JSONDecodeError as error:
        raise RunDirectoryError(f"{path} is not valid JSON ({error}).") from error


def _versions():
    return {
        "transformer_kit": transformer_kit.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": sys.platform,
    }
