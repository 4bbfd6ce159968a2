"""`fit_text_classifier`: from labelled texts to a fitted inference model.

The steps, in order: labels, tokenization (`TextPreprocessor`), the data
report, the transformers (`MemberTrainer`), the n-gram branch and its blend
weight (`blending`), the inference model, and the validation/test metrics.
Texts in memory and files streamed in chunks differ only in where the
members' batches and the n-gram model's texts come from.
"""

import dataclasses
import logging
import math

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from transformer_kit import blending
from transformer_kit.config import configs_to_dict
from transformer_kit.data import (
    LabelEncoder,
    TextDataset,
    build_data_report,
    format_data_report,
    make_token_dataset,
)
from transformer_kit.data.label_sets import LabelSetEncoder
from transformer_kit.data.streaming import file_source, make_streaming_token_dataset, scan_csv
from transformer_kit.distillation import member_targets, teacher_judged_ngram_weight
from transformer_kit.evaluation import evaluate_label_sets, evaluate_probabilities
from transformer_kit.inference import PREDICT_BATCH_SIZE, CompiledScorer, build_inference_model, without_unused_parts
from transformer_kit.ngram import ngram_feature_candidates
from transformer_kit.preprocessor import TextPreprocessor
from transformer_kit.resume import BackupDirectory
from transformer_kit.thresholds import choose_thresholds
from transformer_kit.training import (
    MemberData,
    MemberTrainer,
    balanced_class_weights,
    balanced_class_weights_from_counts,
)

log = logging.getLogger(__name__)


@dataclasses.dataclass
class FitResult:
    """Everything `fit` learned.

    Attributes:
        model: the inference model (strings -> probabilities).
        label_encoder: the `LabelEncoder` (class names <-> ids), or a
            `LabelSetEncoder` for multi-label runs.
        history: `pandas.DataFrame`, one row per member and epoch.
        metrics: dict with `"validation"` and/or `"test"` metrics.
        data_report: dict, see `transformer_kit.data.build_data_report`.
        sources: dict, where each split came from.
        resumed: dict, which members were resumed from a backup, and how.
        thresholds: multi-label decision thresholds, float array
            `(labels,)`; `None` for single-label runs.
    """

    model: keras.Model
    label_encoder: LabelEncoder
    history: pd.DataFrame
    metrics: dict
    data_report: dict
    sources: dict
    resumed: dict
    thresholds: np.ndarray | None = None


@dataclasses.dataclass
class _Prepared:
    """The state shared by the in-memory and streaming fits once labels and tokens are known."""

    label_encoder: LabelEncoder
    preprocessor: TextPreprocessor
    ngram_texts: list
    ngram_ids: np.ndarray
    ngram_labels: list
    num_train: int
    validation: TextDataset | None
    test: TextDataset | None


def fit_text_classifier(train, validation, test, encoder, model_config, training_config, strategy,
                        verbose=1, backup_dir=None, tensorboard_dir=None, callbacks=None, streamed=False,
                        columns=None, unlabeled=None, distillation=None):
    """Fit the whole classifier.

    Args:
        train: a `TextDataset`, or path(s) when `streamed`.
        validation, test: `TextDataset` or `None`.
        encoder: an `Encoder` for the members.
        model_config, training_config: the run's configuration.
        strategy: a `tf.distribute.Strategy` (made before any TF op).
        verbose: Keras progress bars.
        backup_dir: path or `None`; see `transformer_kit.resume`.
        tensorboard_dir, callbacks: passed to Keras for every member.
        streamed: `train` is file path(s) read in chunks.
        columns: `{"text_column": ..., "label_column": ..., "encoding": ...}` for streamed files.
        unlabeled: list of str or `None`: texts without labels, which the
            n-gram branch may self-train on (`transformer_kit.self_training`).
        distillation: a `transformer_kit.distillation.Distillation`, or
            `None`: the members and the n-gram branch learn its teacher's
            probabilities (in memory only).

    Returns:
        A `FitResult`.
    """
    cfg = training_config
    if streamed:
        prepared, member_data, report_extra = _prepare_streaming(train, validation, test, cfg, columns, encoder)
    else:
        prepared, member_data, report_extra = _prepare_in_memory(train, validation, test, cfg, encoder, distillation)
    label_encoder = prepared.label_encoder
    validation, test = prepared.validation, prepared.test
    validation_ids = None if validation is None else label_encoder.encode(validation.labels, source=validation.source)
    test_ids = None if test is None else label_encoder.encode(test.labels, source=test.source)
    data_report, sources = report_extra
    encoder_report = encoder.describe(prepared.preprocessor)
    if encoder_report:
        data_report["word_vectors"] = encoder_report
    log.info("%s", format_data_report(data_report))

    backup = None
    if backup_dir is not None:
        backup = BackupDirectory(backup_dir)
        backup.check_settings({
            # A run may resume on other hardware: the strategy does not count.
            "config": configs_to_dict(model_config, dataclasses.replace(cfg, strategy="auto")),
            "encoder": encoder.get_config(),
            "classes": label_encoder.classes_,
            "sequence_length": prepared.preprocessor.sequence_length,
            "vocabulary": prepared.preprocessor.get_vocabulary(),
        })
    num_classes = len(label_encoder.classes_)
    if cfg.ngram_weight != 0:  # refuse naive Bayes features for more than two classes before training
        ngram_feature_candidates(cfg.ngram_features, num_classes, cfg.multi_label)
    trainer = MemberTrainer(encoder, prepared.preprocessor, num_classes, cfg, strategy, verbose=verbose,
                            backup=backup, tensorboard_dir=tensorboard_dir, callbacks=callbacks,
                            soft_targets=distillation is not None)
    members, rows = trainer.train_members(cfg.resolved_ensemble_size(prepared.num_train), member_data)
    model, held_out, fitter = _blend(prepared, members, validation, validation_ids, cfg, streamed, unlabeled,
                                     distillation)
    if fitter is not None:
        data_report["ngram_branch"] = fitter.report()
        if fitter.decision is not None:
            data_report["self_training"] = fitter.decision.to_dict()
    scorer = CompiledScorer(without_unused_parts(model))  # as predict_proba scores
    scored = {name: scorer(split.texts) for name, split in (("validation", validation), ("test", test))
              if split is not None}
    thresholds = None
    if cfg.multi_label:
        thresholds = _thresholds(prepared, members, scored.get("validation"), validation_ids, held_out, cfg)
    if distillation is not None:
        data_report["distillation"] = distillation.report(
            {name: (split.texts, scored[name]) for name, split in (("validation", validation), ("test", test))
             if split is not None}, thresholds)

    metrics = {}
    classes = list(label_encoder.classes_)
    for name, ids in (("validation", validation_ids), ("test", test_ids)):
        if name in scored:
            metrics[name] = (evaluate_label_sets(ids, scored[name], classes, thresholds) if cfg.multi_label
                             else evaluate_probabilities(ids, scored[name], classes))
    return FitResult(model, label_encoder, pd.DataFrame(rows), metrics, data_report, sources, trainer.resumed,
                     thresholds)


def _thresholds(prepared, members, validation_probabilities, validation_indicator, held_out, cfg):
    """Multi-label decision thresholds, chosen on texts the scoring models did not train on.

    On the validation data if given; else on transformer 1's held-out split,
    scored by transformer 1 blended with the n-gram model fitted without that
    split (or by transformer 1 alone without an n-gram branch).
    """
    num_labels = len(prepared.label_encoder.classes_)
    if cfg.threshold != "auto":
        return np.full(num_labels, float(cfg.threshold))
    if validation_probabilities is not None:
        truth, probabilities, where = validation_indicator, validation_probabilities, "validation texts"
    else:
        if held_out is None:
            _, rows = blending.validation_split(prepared.ngram_labels, cfg, cfg.seed)
            scorer = CompiledScorer(build_inference_model(prepared.preprocessor, members[:1]))
            held_out = rows, scorer([prepared.ngram_texts[i] for i in rows])
        rows, probabilities = held_out
        truth, where = prepared.ngram_ids[rows], "texts transformer 1 held out"
    thresholds, tuned = choose_thresholds(truth, probabilities)
    log.info("Per-label thresholds chosen on %d %s (%d of %d labels tuned, the others %.2f): %s",
             len(truth), where, tuned.sum(), num_labels, thresholds[~tuned][0] if (~tuned).any() else np.nan,
             ", ".join(f"{name} {t:.2f}" for name, t in zip(prepared.label_encoder.classes_, thresholds)))
    return thresholds


def _blend(prepared, members, validation, validation_ids, cfg, streamed, unlabeled=None, distillation=None):
    """The n-gram branch (if any), its weight, and the inference model.

    Returns:
        `(model, held_out, fitter)`: `held_out` is `(rows, blended
        probabilities)` on transformer 1's held-out split when the weight
        was chosen there (or, for multi-label thresholds, the split was
        scored anyway), else `None`; `fitter` is the `NgramFitter` (its
        chosen features, and its self-training `decision` when there were
        unlabeled texts), `None` without an n-gram branch.
    """
    if not (cfg.ngram_weight == "auto" or cfg.ngram_weight > 0):
        weights = blending.blend_weights(len(members), None)
        return build_inference_model(prepared.preprocessor, members, None, weights), None, None
    if distillation is not None:
        fitter = distillation.ngram_fitter(len(prepared.label_encoder.classes_), prepared.preprocessor.split_mode)
    else:
        fitter = blending.NgramFitter(len(prepared.label_encoder.classes_), prepared.preprocessor.split_mode, cfg,
                                      unlabeled, prepared.label_encoder.classes_)
    weight, warm_starts, held_out = cfg.ngram_weight, (None, None), None
    choose_on_validation = weight == "auto" and (validation is not None or streamed)
    judge_on_split = weight == "auto" or cfg.multi_label or fitter.unlabeled is not None
    pooled = None
    if distillation is not None and len(distillation.judged_rows):
        pooled = teacher_judged_ngram_weight(prepared.preprocessor, members, prepared.ngram_texts,
                                             prepared.ngram_ids, fitter)
    elif weight == "auto" and validation is None and not streamed and not cfg.multi_label and fitter.unlabeled is None:
        pooled = blending.pooled_ngram_weight(prepared.preprocessor, members, prepared.ngram_texts,
                                              prepared.ngram_ids, prepared.ngram_labels, fitter)
    if pooled is not None:
        weight, warm_starts = pooled[0], (pooled[1], None)
    elif judge_on_split and validation is None and not streamed:
        weight, warm_starts, rows, blended = blending.held_out_ngram_weight(
            prepared.preprocessor, members[0], prepared.ngram_texts, prepared.ngram_ids, prepared.ngram_labels,
            fitter,
        )
        held_out = rows, blended
    else:
        warm_starts = (_choose_features_without_held_out_split(fitter, prepared, validation, validation_ids), None)
    log.info("\nFinal n-gram fit on all %d training texts", len(prepared.ngram_texts))
    teacher, student, counts = fitter.fit_pair(prepared.ngram_texts, prepared.ngram_ids, warm_starts)
    texts, ids = (validation.texts, validation_ids) if validation is not None else ([], None)
    ngram = fitter.decide(teacher, student, counts, texts, ids, f"the {len(texts)} validation texts")
    if choose_on_validation:
        unweighted = build_inference_model(prepared.preprocessor, members, ngram)
        weight = blending.validation_ngram_weight(unweighted, texts, ids)
    weights = blending.blend_weights(len(members), weight)
    return build_inference_model(prepared.preprocessor, members, ngram, weights), held_out, fitter


def _choose_features_without_held_out_split(fitter, prepared, validation, validation_ids):
    """The n-gram features chosen on the validation texts, else by cross-validation over the training texts.

    Returns:
        The chosen candidate's n-gram model fitted on every training text
        (it starts the final fit), or `None`.
    """
    if len(fitter.candidates) == 1:
        return None
    if validation is not None and len(validation.texts):
        return blending.choose_features_on(fitter, (prepared.ngram_texts, prepared.ngram_ids),
                                           (validation.texts, validation_ids),
                                           f"the {len(validation.texts)} validation texts")
    fitter.choose_features_by_cross_validation(prepared.ngram_texts, prepared.ngram_ids)
    return None


def _prepare_in_memory(train, validation, test, cfg, members_encoder, distillation=None):
    encoder = (LabelSetEncoder if cfg.multi_label else LabelEncoder).fit(train.labels)
    train_ids = encoder.encode(train.labels, source=train.source)
    # The members' targets: class ids, or with a teacher its probabilities mixed with the labels.
    targets, extra_texts, extra_targets = train_ids, [], None
    if distillation is not None:
        targets, _ = distillation.label(encoder.classes_, train.texts, train_ids)
        targets = member_targets(targets, cfg.multi_label)
        if cfg.ngram_weight == "auto" and validation is None and not cfg.multi_label:
            distillation.hold_out_unlabeled(cfg.validation_fraction, cfg.seed)  # to judge the blend on
        extra_texts, soft = distillation.training_unlabeled()
        extra_targets = member_targets(soft, cfg.multi_label)
    _seed(cfg)
    # A student's vocabulary also holds the unlabeled texts' words: the teacher teaches them.
    preprocessor, lengths = members_encoder.make_preprocessor([*train.texts, *extra_texts], cfg)
    report = build_data_report(train, validation, test, lengths[: len(train.texts)], preprocessor.sequence_length)
    sources = {name: split.source for name, split in (("train", train), ("validation", validation), ("test", test))
               if split is not None}

    def member_data(seed):
        fit_index = np.arange(len(train.texts))
        if validation is None:
            fit_index, held_out = blending.validation_split(train.labels, cfg, seed)
            fit_texts, fit_ids = [train.texts[i] for i in fit_index], targets[fit_index]
            val_texts, val_ids = [train.texts[i] for i in held_out], targets[held_out]
        else:
            fit_texts, fit_ids = train.texts, targets
            val_texts, val_ids = validation.texts, encoder.encode(validation.labels, source=validation.source)
            if distillation is not None:
                val_ids = member_targets(distillation.targets_for(val_texts, val_ids), cfg.multi_label)
        if len(extra_texts):  # unlabeled texts with the teacher's targets: training only
            fit_texts, fit_ids = [*fit_texts, *extra_texts], np.concatenate([fit_ids, extra_targets])
        vectorizer, length = preprocessor.vectorizer, preprocessor.sequence_length
        return MemberData(
            train=make_token_dataset(fit_texts, fit_ids, vectorizer, length, cfg.batch_size, shuffle=True, seed=seed),
            validation=make_token_dataset(val_texts, val_ids, vectorizer, length, PREDICT_BATCH_SIZE),
            steps_per_epoch=math.ceil(len(fit_texts) / cfg.batch_size),
            class_weight=balanced_class_weights(train_ids[fit_index], cfg.class_weight),
        )

    prepared = _Prepared(encoder, preprocessor, train.texts, train_ids, train.labels, len(train), validation, test)
    return prepared, member_data, (report, sources)


def _prepare_streaming(paths, validation, test, cfg, columns, members_encoder):
    """Vocabulary, sequence length and the n-gram model come from a bounded random sample;
    the members read the files in chunks every epoch. Without `validation`, texts whose
    hash falls in `validation_fraction` are held out, and scored on a sample."""
    fraction = 0.0 if validation is not None else cfg.validation_fraction
    log.info("Streaming mode: scanning the training data once for labels and a sample")
    paths = file_source(paths, **columns)  # a TextSource: read as settled here, in the scan and every epoch
    summary = scan_csv(paths, validation_fraction=fraction, seed=cfg.seed, **columns)
    encoder = LabelEncoder.fit([*summary.train_label_counts, *summary.validation_label_counts])
    source = summary.source
    train_rows = sum(summary.train_label_counts.values())
    sample = _dataset(summary.sample_texts, summary.sample_labels,
                      f"{source} (random sample of {len(summary.sample_texts)} of {train_rows} training rows)")
    sample.notes = summary.notes  # detected encoding, sniffed delimiter...: for the data report
    if validation is None and summary.validation_texts:
        validation = _dataset(summary.validation_texts, summary.validation_labels,
                              f"{source} (hashed validation part, sample of {len(summary.validation_texts)})")
    _seed(cfg)
    preprocessor, lengths = members_encoder.make_preprocessor(sample.texts, cfg, num_texts=train_rows)
    report = build_data_report(sample, validation, test, lengths, preprocessor.sequence_length)
    report["streaming"] = {
        "rows": summary.num_rows,
        "train_rows": train_rows,
        "train_classes": summary.train_label_counts,
        "validation_rows": sum(summary.validation_label_counts.values()),
        "validation_fraction_by_hash": fraction,
    }
    sources = {"train": source, **({"validation": validation.source} if validation else {}),
               **({"test": test.source} if test else {})}
    counts = [summary.train_label_counts.get(name, 0) for name in encoder.classes_]
    class_weight = balanced_class_weights_from_counts(counts, cfg.class_weight)  # all rows, not the sample

    def member_data(seed):
        stream = dict(vectorizer=preprocessor.vectorizer, sequence_length=preprocessor.sequence_length, **columns)
        train_data = make_streaming_token_dataset(paths, encoder, part="train", validation_fraction=fraction,
                                                  batch_size=cfg.batch_size, seed=seed, **stream)
        if fraction:
            validation_data = make_streaming_token_dataset(paths, encoder, part="validation",
                                                           validation_fraction=fraction,
                                                           batch_size=PREDICT_BATCH_SIZE, **stream)
        else:
            validation_data = make_token_dataset(
                validation.texts, encoder.encode(validation.labels, source=validation.source),
                preprocessor.vectorizer, preprocessor.sequence_length, PREDICT_BATCH_SIZE,
            )
        return MemberData(validation=validation_data, train=train_data,
                          steps_per_epoch=math.ceil(train_rows / cfg.batch_size), class_weight=class_weight)

    sample_ids = encoder.encode(sample.labels, source=sample.source)
    prepared = _Prepared(encoder, preprocessor, sample.texts, sample_ids, sample.labels, train_rows, validation, test)
    return prepared, member_data, (report, sources)


def _dataset(texts, labels, source):
    return TextDataset(texts=texts, labels=labels, frame=pd.DataFrame({"text": texts, "label": labels}), source=source)


def _seed(cfg):
    if cfg.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(cfg.seed)
