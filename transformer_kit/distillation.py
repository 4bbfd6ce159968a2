"""Distillation: a student learns from a teacher's probabilities, on labelled and unlabeled texts.

`fit(X, y, teacher=..., unlabeled=...)` (`train DATA --teacher RUN_OR_EXPORT`)
makes a slow, accurate model (a large ensemble, a fine-tuned backbone) into
a small one that serves many more texts per second. The teacher is a fitted
`TextClassifier`, a run directory, or a SavedModel export (base or version
directory, run through its `serving_default` signature with TensorFlow
alone). It scores the training texts once and the unlabeled texts once; then

- each labelled text's target is `w * true + (1 - w) * soften(teacher, T)`,
  with `w = true_label_weight` and `T = distill_temperature`, and each
  unlabeled text's target is `soften(teacher, T)`;
- the transformers train on these targets (categorical cross-entropy for a
  softmax, binary cross-entropy for a sigmoid or multi-label head);
- an n-gram branch (the default preset) is fitted on the same targets: each
  text appears once per class with its target probability as sample weight
  (multi-label: unlabeled texts get the labels the teacher gives them at 0.5).

With `ngram_weight="auto"` and no validation data, a share of the unlabeled
texts (`validation_fraction`) is kept from the student's transformers and
from the n-gram fits that judge it; the n-gram features and the blend weight
are chosen there, by cross-entropy against the teacher's probabilities on
those texts (`teacher_judged_ngram_weight`). The labelled texts the transformers
hold out are no judge for a student: the teacher trained on them, and its
labels on similar texts (IMDB: other reviews of the same film) carry what it
learned there into the student's training (1,000 IMDB labels: the student's
transformer scored 0.93 on the 100 it held out, 0.83 on test).

Temperature acts on probabilities, since an export gives no logits:
`p ** (1 / T)` renormalised, the softmax of `log(p) / T`, which equals a
softmax of logits divided by `T`. The student is an ordinary run: one
inference model, saved and exported as any other.
"""

import dataclasses
import logging
from pathlib import Path

import numpy as np

from transformer_kit.blending import NgramFitter
from transformer_kit.inference import CompiledScorer, build_inference_model
from transformer_kit.ngram import choose_ngram_weight, row_cross_entropies
from transformer_kit.self_training import FEW_HELD_OUT_TEXTS, ngram_probabilities

log = logging.getLogger(__name__)

# Below this share of a class, an expanded n-gram row adds nothing but fitting time.
MIN_NGRAM_TARGET = 0.01
_EPSILON = 1e-7


def soften(probabilities, temperature, multi_label=False):
    """Apply a temperature to probabilities: `p ** (1 / T)`, renormalised.

    Args:
        probabilities: float array `(texts, classes)`; rows sum to 1, or
            independent per-label probabilities when `multi_label`.
        temperature: float > 0; 1 leaves them as they are, above 1 flattens.
        multi_label: bool, each label is its own two-way distribution
            `(p, 1 - p)`.

    Returns:
        float array of the same shape.

    Example:

    >>> soften(np.array([[0.8, 0.2]]), 2.0).round(3)  # sqrt(.8), sqrt(.2), renormalised
    array([[0.667, 0.333]])
    """
    p = np.clip(np.asarray(probabilities, dtype=np.float64), _EPSILON, 1.0)
    power = 1.0 / float(temperature)
    if multi_label:
        yes, no = p ** power, np.clip(1.0 - p, _EPSILON, 1.0) ** power
        return yes / (yes + no)
    p = p ** power
    return p / p.sum(axis=1, keepdims=True)


def mixed_targets(truth, teacher_probabilities, true_label_weight):
    """`w * truth + (1 - w) * teacher`, row by row.

    Args:
        truth: int class ids `(texts,)`, or a 0/1 indicator `(texts, labels)`.
        teacher_probabilities: float array `(texts, classes)` (softened).
        true_label_weight: float in [0, 1].

    Example:

    >>> mixed_targets(np.array([0]), np.array([[0.2, 0.8]]), 0.5)
    array([[0.6, 0.4]])
    """
    teacher_probabilities = np.asarray(teacher_probabilities, dtype=np.float64)
    truth = np.asarray(truth)
    if truth.ndim == 1:
        truth = np.eye(teacher_probabilities.shape[1])[truth]
    w = float(true_label_weight)
    return w * truth + (1.0 - w) * teacher_probabilities


def member_targets(targets, multi_label=False):
    """Targets shaped like a member's output: `(texts, 1)` P(class 1) for a binary sigmoid head.

    Example:

    >>> member_targets(np.array([[0.6, 0.4]]))
    array([[0.4]], dtype=float32)
    """
    targets = np.asarray(targets, dtype=np.float32)
    if targets.shape[1] == 2 and not multi_label:
        return targets[:, 1:]
    return targets


@dataclasses.dataclass
class Teacher:
    """A model whose probabilities a student learns from.

    Attributes:
        kind: `"TextClassifier"`, `"run directory"` or `"SavedModel export"`.
        where: the path (the version directory for an export), or `"in memory"`.
        classes: list of str, its probability columns.
        multi_label: bool.
        thresholds: multi-label decision thresholds, or `None`.
        predict_proba: callable, list of str -> float array `(texts, classes)`.
    """

    kind: str
    where: str
    classes: list
    multi_label: bool
    thresholds: object
    predict_proba: object

    def describe(self):
        return {"kind": self.kind, "where": self.where, "classes": list(self.classes),
                "multi_label": self.multi_label}

    def probabilities(self, texts, classes):
        """The teacher's probabilities for `texts`, columns in the order of `classes`.

        Raises:
            ValueError: when the teacher's classes are not `classes`.
        """
        check_classes(self, classes)
        if not len(texts):
            return np.zeros((0, len(classes)))
        columns = [self.classes.index(name) for name in classes]
        return np.asarray(self.predict_proba(list(texts)), dtype=np.float64)[:, columns]

    def decisions(self, probabilities):
        """0/1 label decisions of a multi-label teacher (its thresholds, else 0.5)."""
        thresholds = 0.5 if self.thresholds is None else np.asarray(self.thresholds, dtype=float)
        return (probabilities >= thresholds).astype(int)


def check_classes(teacher, classes):
    """Raise a `ValueError` unless the teacher's classes are exactly the training labels' classes."""
    missing = sorted(set(map(str, classes)) - set(teacher.classes))
    extra = sorted(set(teacher.classes) - set(map(str, classes)))
    if missing or extra:
        parts = ([f"the labels have {missing}, which the teacher does not know"] if missing else []) + (
            [f"the teacher has {extra}, which no training label has"] if extra else [])
        raise ValueError(
            f"The teacher ({teacher.kind} {teacher.where}) predicts the classes {sorted(teacher.classes)}, but "
            f"{' and '.join(parts)}. A teacher must have been trained on the same classes as the student's labels."
        )


def load_teacher(teacher):
    """A `Teacher` from a fitted `TextClassifier`, a run directory or a SavedModel export.

    Args:
        teacher: a fitted `TextClassifier` (anything with `predict_proba` and
            `classes_`), or the path (str or `pathlib.Path`) of a run
            directory or an export (base or version directory).

    Returns:
        A `Teacher`.

    Raises:
        ValueError: when `teacher` is none of these.
    """
    if hasattr(teacher, "predict_proba"):
        if getattr(teacher, "model_", None) is None or not hasattr(teacher, "classes_"):
            raise ValueError("The teacher TextClassifier is not fitted: fit it first, or pass a run directory.")
        return _classifier_teacher(teacher, "TextClassifier", "in memory")
    if not isinstance(teacher, (str, Path)):
        raise ValueError(f"`teacher` must be a fitted TextClassifier, a run directory or a SavedModel export "
                         f"directory; got {type(teacher).__name__}.")
    path = Path(teacher)
    if not path.exists():
        raise ValueError(f"Teacher {path} does not exist: pass a run directory (transformer-kit train) or a "
                         "SavedModel export directory (transformer-kit export).")
    if path.is_dir() and (path / "manifest.json").exists():
        from transformer_kit.classifier import TextClassifier

        return _classifier_teacher(TextClassifier.load(path, verbose=0), "run directory", str(path))
    if path.is_dir() and _looks_exported(path):
        from transformer_kit.export import load_exported_predictor

        predictor = load_exported_predictor(path)  # tf.saved_model.load; serving_default
        metadata = predictor.metadata
        return Teacher("SavedModel export", metadata["path"], list(predictor.classes),
                       bool(metadata.get("multi_label", False)), predictor.thresholds,
                       lambda texts: predictor.predict_proba(texts).to_numpy())
    raise ValueError(f"Teacher {path} is neither a run directory (no manifest.json) nor a SavedModel export "
                     "(no saved_model.pb, nor numbered versions with one).")


def _classifier_teacher(classifier, kind, where):
    return Teacher(kind, where, [str(name) for name in classifier.classes_], bool(classifier.multi_label),
                   classifier.thresholds_, lambda texts: classifier.predict_proba(texts).to_numpy())


def _looks_exported(path):
    return (path / "saved_model.pb").exists() or any(
        (child / "saved_model.pb").exists() for child in path.iterdir() if child.is_dir())


class Distillation:
    """What a student learns from: the teacher's softened probabilities, mixed with the labels.

    Args:
        teacher: a `Teacher` (see `load_teacher`).
        unlabeled: list of str (may be empty).
        training_config: the student's `TrainingConfig` (`distill_temperature`,
            `true_label_weight`, `multi_label`).
    """

    def __init__(self, teacher, unlabeled, training_config):
        self.teacher, self.unlabeled = teacher, list(unlabeled or [])
        self.cfg = training_config
        if teacher.multi_label != bool(training_config.multi_label):
            raise ValueError(
                f"The teacher ({teacher.kind} {teacher.where}) is {'' if teacher.multi_label else 'not '}multi-label "
                f"but the student is {'' if training_config.multi_label else 'not '}: set multi_label="
                f"{teacher.multi_label} (--multi-label) to match it.")
        self.classes = None
        self._by_text = {}
        # Unlabeled rows the members and the judging n-gram fits learn from, and those kept to judge on.
        self.training_rows = np.arange(len(self.unlabeled))
        self.judged_rows = np.arange(0)

    def label(self, classes, train_texts, train_truth):
        """Let the teacher score the training and unlabeled texts once; returns their targets.

        Args:
            classes: the student's class names (checked against the teacher's).
            train_texts: list of str; `train_truth`: their class ids (or indicator rows).

        Returns:
            `(training targets, unlabeled targets)`, float arrays `(texts, classes)`.
        """
        self.classes = [str(name) for name in classes]
        log.info("Distillation: the teacher (%s %s) scores %d training and %d unlabeled texts", self.teacher.kind,
                 self.teacher.where, len(train_texts), len(self.unlabeled))
        scored = self.teacher.probabilities([*train_texts, *self.unlabeled], self.classes)
        soft = soften(scored, self.cfg.distill_temperature, self.cfg.multi_label)
        self._by_text = dict(zip(train_texts, soft[: len(train_texts)]))
        self.num_labelled = len(train_texts)
        self.train_targets = mixed_targets(train_truth, soft[: len(train_texts)], self.cfg.true_label_weight)
        self.unlabeled_soft = soft[len(train_texts):]
        if self.cfg.multi_label:
            self.unlabeled_decisions = self.teacher.decisions(scored[len(train_texts):])
        return self.train_targets, self.unlabeled_soft

    def hold_out_unlabeled(self, fraction, seed):
        """Keep a random `fraction` of the unlabeled texts from the members, to judge the blend on.

        Nothing is kept when that would be fewer than `FEW_HELD_OUT_TEXTS`
        texts (the blend is then judged as without a teacher).

        Args:
            fraction: float in (0, 1), e.g. `validation_fraction`.
            seed: int.
        """
        count = int(round(fraction * len(self.unlabeled)))
        if count < FEW_HELD_OUT_TEXTS:
            return
        order = np.random.default_rng(seed).permutation(len(self.unlabeled))
        self.judged_rows, self.training_rows = np.sort(order[:count]), np.sort(order[count:])

    def training_unlabeled(self):
        """`(texts, softened teacher probabilities)` of the unlabeled texts the members learn from."""
        return [self.unlabeled[i] for i in self.training_rows], self.unlabeled_soft[self.training_rows]

    def targets_for(self, texts, truth):
        """Mixed targets for labelled texts of the training set (or others, scored now)."""
        missing = [text for text in texts if text not in self._by_text]
        if missing:
            scored = soften(self.teacher.probabilities(missing, self.classes), self.cfg.distill_temperature,
                            self.cfg.multi_label)
            self._by_text.update(zip(missing, scored))
        soft = np.array([self._by_text[text] for text in texts]).reshape(len(texts), len(self.classes))
        return mixed_targets(truth, soft, self.cfg.true_label_weight)

    def ngram_fitter(self, num_classes, split_mode):
        """An `NgramFitter` whose fits learn these targets (see `DistillingNgramFitter`)."""
        return DistillingNgramFitter(self, num_classes, split_mode, self.cfg, classes=self.classes)

    def report(self, held_out, student_thresholds=None):
        """The data report's `distillation` entry.

        Args:
            held_out: dict, split name -> `(texts, the student's
                probabilities)` for texts no model trained on (validation, test).
            student_thresholds: the student's multi-label thresholds, or `None`.

        Returns:
            dict: the teacher, how many texts it labelled, the settings, and
            the student's agreement with it on each held-out split.
        """
        report = {
            "teacher": self.teacher.describe(),
            "texts_labelled_by_teacher": {"labelled": self.num_labelled, "unlabeled": len(self.unlabeled)},
            "distill_temperature": float(self.cfg.distill_temperature),
            "true_label_weight": float(self.cfg.true_label_weight),
            "agreement": {},
        }
        if len(self.judged_rows):
            report["unlabeled_texts_held_out_to_judge_the_blend"] = len(self.judged_rows)
        for name, (texts, student) in held_out.items():
            if not len(texts):
                continue
            teacher = self.teacher.probabilities(list(texts), self.classes)
            report["agreement"][name] = {"texts": len(texts), **agreement(
                teacher, student, self.cfg.multi_label, self.teacher.thresholds, student_thresholds)}
            log.info("Student agrees with the teacher on %.1f%% of the %d %s texts",
                     100 * report["agreement"][name]["agreement"], len(texts), name)
        if not report["agreement"]:
            report["agreement_note"] = "no held-out texts: pass validation or test data to measure it"
        return report


def agreement(teacher, student, multi_label=False, thresholds=None, student_thresholds=None):
    """How often the student decides as the teacher does.

    Single-label: the share of texts with the same top class. Multi-label:
    the share whose label sets (each at its own thresholds, else 0.5) are
    equal, and the share of equal per-label decisions.

    Example:

    >>> agreement(np.array([[0.9, 0.1], [0.4, 0.6]]), np.array([[0.7, 0.3], [0.8, 0.2]]))
    {'agreement': 0.5}
    """
    if not multi_label:
        return {"agreement": float(np.mean(teacher.argmax(axis=1) == student.argmax(axis=1)))}
    limits = [0.5 if t is None else np.asarray(t, dtype=float) for t in (thresholds, student_thresholds)]
    same = (teacher >= limits[0]) == (student >= limits[1])
    return {"agreement": float(np.mean(same.all(axis=1))), "label_agreement": float(np.mean(same))}


class DistillingNgramFitter(NgramFitter):
    """The n-gram branch fitted on the teacher's targets instead of the labels alone.

    Single-label: each text (labelled, then unlabeled) appears once per class
    whose target is at least `MIN_NGRAM_TARGET`, labelled with that class,
    weighing its target probability: the regression's weighted log-loss is
    then the cross-entropy against the targets. Multi-label (one-vs-rest
    takes no sample weights): labelled texts keep their labels, unlabeled
    ones get the teacher's decisions. No self-training: the teacher labels
    the unlabeled texts.
    """

    fits_beyond_the_labels = True  # every fit adds the unlabeled texts

    def __init__(self, distillation, num_classes, split_mode, training_config, classes=()):
        super().__init__(num_classes, split_mode, training_config, None, classes)
        self.distillation = distillation
        self.unlabeled_rows = np.arange(len(distillation.unlabeled))  # the judging fits: `training_rows`

    def fit(self, texts, label_ids, warm_start=None, sample_weight=None, features=None):
        d, kept = self.distillation, self.unlabeled_rows
        unlabeled = [d.unlabeled[i] for i in kept]
        if self.cfg.multi_label:
            indicator = np.concatenate([np.asarray(label_ids), d.unlabeled_decisions[kept]]) if unlabeled else label_ids
            return super().fit([*texts, *unlabeled], indicator, warm_start, features=features)
        targets = np.concatenate([d.targets_for(texts, label_ids), d.unlabeled_soft[kept]])
        rows, classes, weights = expand_soft_targets(targets)
        all_texts = [*texts, *unlabeled]
        return super().fit([all_texts[i] for i in rows], classes, warm_start, sample_weight=weights,
                           features=features)


def teacher_judged_ngram_weight(preprocessor, members, texts, label_ids, fitter):
    """A student's n-gram features and blend weight, chosen on the unlabeled texts kept from its members.

    The n-gram model of each candidate feature set is fitted on the labelled
    texts and the other unlabeled texts (`Distillation.training_rows`), and
    scored with the members' average on the held-out ones
    (`Distillation.judged_rows`) by cross-entropy against the teacher's
    (softened) probabilities, the loss both parts learned to minimise
    (`row_cross_entropies`). The features and the weight then follow the
    rules without a teacher (`NgramFitter.choose_features`,
    `choose_ngram_weight` with the one-standard-error rule).

    Args:
        preprocessor, members: the fitted preprocessor and transformers.
        texts, label_ids: the labelled training texts and their ids.
        fitter: the `DistillingNgramFitter`.

    Returns:
        `(weight, warm start)`: the chosen candidate's n-gram model, which
        starts the final fit on every text.
    """
    d = fitter.distillation
    judged = [d.unlabeled[i] for i in d.judged_rows]
    targets = d.unlabeled_soft[d.judged_rows]
    log.info("\nChoosing the student's n-gram features and weight on %d unlabeled texts no member learned from, "
             "by cross-entropy against the teacher's probabilities", len(judged))
    fitter.unlabeled_rows = d.training_rows
    try:
        def held_out(features):
            ngram = fitter.fit(texts, label_ids, features=features)
            return ngram_probabilities(ngram, judged), ngram

        ngram, warm_start = fitter.choose_features(
            held_out, targets, f"{len(judged)} unlabeled texts the student's transformers did not learn from, "
            "by cross-entropy against the teacher's probabilities", row_losses=row_cross_entropies)
    finally:
        fitter.unlabeled_rows = np.arange(len(d.unlabeled))
    transformers = CompiledScorer(build_inference_model(preprocessor, members))(judged)
    weight = choose_ngram_weight(transformers, ngram, targets, one_standard_error=True,
                                 row_losses=row_cross_entropies)
    log.info("N-gram model weight in the student's blend, chosen on %d held-out unlabeled texts: %.2f",
             len(judged), weight)
    return weight, warm_start


def expand_soft_targets(targets, min_target=MIN_NGRAM_TARGET):
    """Soft targets as weighted rows of hard labels, for a regression that takes sample weights.

    Each text appears once per class whose target is at least `min_target`,
    with that target as weight: the weighted log-loss of the rows is then
    the cross-entropy against the targets (less the dropped small shares).

    Args:
        targets: float array `(texts, classes)`.
        min_target: float.

    Returns:
        `(rows, classes, weights)`: arrays of equal length, rows in order.

    Example:

    >>> expand_soft_targets(np.array([[0.75, 0.25], [0.0, 1.0]]))
    (array([0, 0, 1]), array([0, 1, 1]), array([0.75, 0.25, 1.  ]))
    """
    rows, classes = np.nonzero(np.asarray(targets) >= min_target)
    return rows, classes, np.asarray(targets, dtype=np.float64)[rows, classes]


def make_distillation(teacher, unlabeled, training_config, streamed=False, text_column="text"):
    """`fit`'s `teacher` and `unlabeled` as a `Distillation`, with a clear error where they cannot be used.

    Args:
        teacher: as for `load_teacher`.
        unlabeled: `None`, texts, or corpus path(s) (see `read_unlabeled`).
        training_config: the student's `TrainingConfig`.
        streamed: bool, the training data is read in chunks.
        text_column: the text column of CSV/TSV/JSON Lines corpus files.
    """
    from transformer_kit.self_training import read_unlabeled

    if streamed:
        raise ValueError("Distillation reads the training data into memory (the teacher scores every text); "
                         "pass streaming=False (drop --streaming), or a sample of the data.")
    texts = [] if unlabeled is None else read_unlabeled(unlabeled, text_column, seed=training_config.seed)
    if unlabeled is not None and not texts:
        raise ValueError(f"`unlabeled` holds no text ({unlabeled!r}).")
    return Distillation(load_teacher(teacher), texts, training_config)
