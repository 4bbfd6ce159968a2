"""Self-training: the n-gram branch learns from unlabeled texts too.

The n-gram regression fitted on the labelled texts (the teacher) labels the
unlabeled texts; a second regression (the student) is fitted on both, the
pseudo-labelled texts at a lower sample weight, over the n-grams of both, so
n-grams that occur only in unlabeled text get weights of their own.

It helps when the unlabeled texts are like the task's and hurts when they
are not. Measured with TF-IDF + LR alone (issue 13's closing notes): IMDB
with 1,000 labels and the 25k training reviews unlabeled, 0.837 -> 0.851;
SST-2 with the 50k IMDB reviews, 0.812 -> 0.824; but TREC questions with
the same reviews, 0.892 -> 0.868. So with `self_training="auto"` the student
is kept only where it lowers the log-loss on labelled texts that neither
regression was fitted on (`SelfTrainingDecision`): held-out texts, or, where
the held-out split is too small to judge on, every labelled text scored out
of fold in k-fold cross-validation (`cross_validated_log_losses`).
"""

import dataclasses
import logging
import random

import numpy as np

from transformer_kit.data.corpus import iter_corpus_texts
from transformer_kit.data.loading import as_text_list
from transformer_kit.inference import LengthSortedScorer
from transformer_kit.layers.probability_blend import as_class_probabilities
from transformer_kit.ngram import mean_log_loss, stratified_folds

log = logging.getLogger(__name__)

# More unlabeled texts than this are sampled down (uniformly, seeded): the
# regression's fit grows with them, and 100k reviews already take a minute.
MAX_UNLABELED_TEXTS = 100_000
PSEUDO_LABEL_BATCH = 2048
# Fewer held-out texts than this make the keep-or-refuse decision a coin toss: with "auto" and
# no validation data, it is then taken by cross-validation over all the labelled texts instead.
FEW_HELD_OUT_TEXTS = 50
CROSS_VALIDATION_FOLDS = 5


def read_unlabeled(unlabeled, text_column="text", seed=0, max_texts=MAX_UNLABELED_TEXTS):
    """Unlabeled texts as a list of str, at most `max_texts` of them.

    Args:
        unlabeled: a sequence of str, or path(s) of corpus files or folders
            (CSV/TSV with `text_column`, one text per line, JSON Lines,
            optionally gzipped; see `transformer_kit.data.corpus`).
        text_column: the text column/field of CSV, TSV and JSON Lines files.
        seed: int, for the uniform sample when there are more than `max_texts`.
        max_texts: int.

    Returns:
        list of str; empty texts are dropped.

    Example:

    >>> read_unlabeled(["a fine film", "", None, "dull"])
    ['a fine film', 'dull']
    """
    if isinstance(unlabeled, str) or hasattr(unlabeled, "__fspath__") or (
        isinstance(unlabeled, (list, tuple)) and unlabeled and all(hasattr(p, "__fspath__") for p in unlabeled)
    ):
        texts = iter_corpus_texts(unlabeled, text_column)
    else:
        texts = as_text_list(unlabeled)
    # Reservoir sampling: one pass, memory bounded by `max_texts`, whatever the corpus size.
    sample, seen, generator = [], 0, random.Random(seed)
    for text in texts:
        if not text or not text.strip():
            continue
        seen += 1
        if len(sample) < max_texts:
            sample.append(text)
        else:
            slot = generator.randrange(seen)
            if slot < max_texts:
                sample[slot] = text
    if seen > max_texts:
        log.info("Using a random sample of %d of the %d unlabeled texts.", max_texts, seen)
    return sample


def pseudo_labels(teacher, texts):
    """The teacher's predicted class id for each text.

    Args:
        teacher: an `NgramLogisticRegression`.
        texts: list of str.

    Returns:
        int array `(len(texts),)`.
    """
    return ngram_probabilities(teacher, texts).argmax(axis=1)


def fit_student(texts, label_ids, unlabeled, teacher, fit_ngram, pseudo_label_weight, warm_start=None):
    """The n-gram regression refitted on labelled plus pseudo-labelled texts.

    Args:
        texts, label_ids: the labelled texts the teacher was fitted on.
        unlabeled: list of str.
        teacher: the `NgramLogisticRegression` fitted on `texts`.
        fit_ngram: callable `(texts, ids, sample_weight=..., warm_start=...)`
            that fits an n-gram regression with the run's settings.
        pseudo_label_weight: float in (0, 1], the sample weight of each
            pseudo-labelled text (labelled texts weigh 1).
        warm_start: `None`, or a student fitted on similar data.

    Returns:
        `(student, pseudo-label counts per class id)`.
    """
    guessed = pseudo_labels(teacher, unlabeled)
    weights = np.concatenate([np.ones(len(texts)), np.full(len(unlabeled), float(pseudo_label_weight))])
    student = fit_ngram([*texts, *unlabeled], np.concatenate([np.asarray(label_ids), guessed]),
                        sample_weight=weights, warm_start=warm_start)
    return student, np.bincount(guessed, minlength=max(int(np.max(label_ids)) + 1, 2))


def log_loss(ngram, texts, label_ids):
    """Mean negative log-probability of the true class under an n-gram regression."""
    return mean_log_loss(ngram_probabilities(ngram, texts), label_ids)


def ngram_probabilities(ngram, texts):
    """An n-gram regression's class probabilities `(len(texts), num_classes)`, in large length-sorted batches."""
    return LengthSortedScorer(lambda batch: as_class_probabilities(ngram(batch)), PSEUDO_LABEL_BATCH)(texts)


@dataclasses.dataclass
class SelfTrainingDecision:
    """Whether the self-trained n-gram regression replaces the one fitted on labels only.

    Attributes:
        setting: `"auto"`, `"always"` or `"never"` (`TrainingConfig.self_training`).
        unlabeled_texts: int.
        pseudo_label_weight: float.
        pseudo_label_counts: dict, class name -> texts the teacher gave it.
        judged_on: str, which labelled texts the two were compared on, or `None`.
        log_loss_labels_only, log_loss_self_trained: float or `None`.
        used: bool.
    """

    setting: str
    unlabeled_texts: int
    pseudo_label_weight: float
    pseudo_label_counts: dict
    judged_on: str | None = None
    log_loss_labels_only: float | None = None
    log_loss_self_trained: float | None = None
    used: bool = False

    def to_dict(self):
        return dataclasses.asdict(self)


def cross_validated_log_losses(texts, label_ids, unlabeled, fit_ngram, pseudo_label_weight, seed=0,
                               folds=CROSS_VALIDATION_FOLDS):
    """The teacher's and the student's log-loss, each text scored by models fitted without its fold.

    For label sets so small that a held-out split is a handful of texts
    (IMDB with 200 labels: 20 reviews). Each fold fits a teacher on the other
    folds, pseudo-labels the unlabeled texts with it and fits a student, so
    it costs `folds` more of each fit.

    Args:
        texts, label_ids: all the labelled texts and their class ids.
        unlabeled, fit_ngram, pseudo_label_weight: as for `fit_student`.
        seed: int, for the stratified folds.
        folds: int, at most the smallest class's count (at least 2).

    Returns:
        `(teacher log-loss, student log-loss, pseudo-label counts per class id
        of the last fold, folds)`, or `None` when a class has fewer than 2
        texts.
    """
    label_ids = np.asarray(label_ids)
    splits = stratified_folds(label_ids, folds, seed)
    if splits is None:
        return None
    folds = len(splits)
    texts = np.asarray(as_text_list(texts), dtype=object)
    totals, counts = np.zeros(2), None
    for fold, (fit_rows, scored_rows) in enumerate(splits, start=1):
        log.info("Self-training, cross-validation fold %d of %d", fold, folds)
        fit_texts, fit_ids = list(texts[fit_rows]), label_ids[fit_rows]
        teacher = fit_ngram(fit_texts, fit_ids)
        student, counts = fit_student(fit_texts, fit_ids, unlabeled, teacher, fit_ngram, pseudo_label_weight)
        scored, ids = list(texts[scored_rows]), label_ids[scored_rows]
        totals += len(scored_rows) * np.array([log_loss(teacher, scored, ids), log_loss(student, scored, ids)])
    teacher_loss, student_loss = totals / len(texts)
    return float(teacher_loss), float(student_loss), counts, folds


def decide(teacher, student, texts, label_ids, judged_on, setting, unlabeled_texts, pseudo_label_weight, counts,
           classes):
    """Compare the two regressions on held-out labelled texts and decide which to keep.

    Args:
        teacher, student: `NgramLogisticRegression`s, neither fitted on `texts`.
        texts, label_ids: held-out labelled texts (may be empty).
        judged_on: str, a description of `texts` for the log and the report.
        setting: `"auto"` (keep the student if its log-loss is lower),
            `"always"` or `"never"`.
        unlabeled_texts, pseudo_label_weight, counts, classes: for the report.

    Returns:
        A `SelfTrainingDecision`.
    """
    losses = (log_loss(teacher, texts, label_ids), log_loss(student, texts, label_ids)) if len(texts) else None
    return decide_on_log_losses(losses, len(texts), judged_on, setting, unlabeled_texts, pseudo_label_weight,
                                counts, classes)


def decide_on_log_losses(losses, judged_texts, judged_on, setting, unlabeled_texts, pseudo_label_weight, counts,
                         classes):
    """`decide`, from the two log-losses already measured.

    Args:
        losses: `(labels only, self-trained)` log-losses, or `None` when
            there was nothing to judge on.
        judged_texts: int, how many labelled texts the losses were measured on.
        Others: as for `decide`.

    Returns:
        A `SelfTrainingDecision`.
    """
    decision = SelfTrainingDecision(setting, unlabeled_texts, float(pseudo_label_weight),
                                    {str(name): int(n) for name, n in zip(classes, counts)})
    if losses is not None:
        decision.judged_on = judged_on
        decision.log_loss_labels_only, decision.log_loss_self_trained = (round(float(x), 5) for x in losses)
    if setting == "always":
        decision.used = True
    elif setting == "auto" and decision.judged_on is not None:
        decision.used = decision.log_loss_self_trained < decision.log_loss_labels_only
    if losses is not None and judged_texts < FEW_HELD_OUT_TEXTS and setting == "auto":
        log.warning("Self-training is judged on only %d labelled texts, so the decision is noisy; pass "
                    "more validation data, or set self_training to 'always' or 'never'.", judged_texts)
    if decision.judged_on is None:
        log.info("Self-training (%s): no held-out labelled texts to judge it on; %s.", setting,
                 "using it" if decision.used else "not using it")
    else:
        log.info("Self-training on %d unlabeled texts: n-gram log-loss on %s %.4f with pseudo-labels, %.4f "
                 "without; %s.", unlabeled_texts, judged_on, decision.log_loss_self_trained,
                 decision.log_loss_labels_only,
                 "keeping the self-trained n-gram model" if decision.used else "keeping the one fitted on labels only")
    return decision
