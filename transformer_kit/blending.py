"""The n-gram branch and its weight in the blend with the transformers.

The weight is chosen to minimize log-loss on texts that neither the n-gram
model nor the transformers it is judged with were trained on, from a grid
of 0 (transformers only) to 1 (the n-gram model only), so that on those
texts the blend is never worse than either part alone:

- without validation data, on every text some transformer held out, each
  scored by the transformer that held it out and by an n-gram model fitted
  without it (`pooled_ngram_weight`): out of fold in 5-fold
  cross-validation where the pooled rows are few, else one n-gram model
  fitted without all of them; there the n-gram model alone is kept unless
  the best blend beats it by more than one standard error, so the
  transformers keep weight only where they help beyond noise;
- with unlabeled texts to self-train on, or label sets, on transformer 1's
  own held-out split, with an n-gram model fitted without that split
  (`held_out_ngram_weight`);
- with validation data (given, or the hashed part of a streamed file), on
  it, with the whole ensemble (`validation_ngram_weight`).

With `ngram_features="auto"` the n-gram model's features (TF-IDF or naive
Bayes log-count ratios, 1-2- or 1-3-grams) are chosen on the same held-out
texts, by the n-gram model's own log-loss, `tfidf-1-2` kept unless another
set beats it by more than one standard error (`NgramFitter.choose_features`);
where no held-out texts are scored (a fixed weight and no validation data),
by 5-fold cross-validation over the training texts. With unlabeled texts the
n-gram model may also be self-trained on them (`NgramFitter`,
`transformer_kit.self_training`); whether that helps is judged on the same
held-out texts, by the n-gram model's own log-loss.
"""

import logging

import numpy as np

from transformer_kit import self_training
from transformer_kit.data import stratified_split
from transformer_kit.data.splitting import random_split
from transformer_kit.inference import CompiledScorer, build_inference_model, parts_model
from transformer_kit.ngram import (
    beyond_one_standard_error,
    choose_ngram_weight,
    cross_validated_ngram_probabilities,
    fit_ngram_classifier,
    ngram_feature_candidates,
    paired_gain,
    row_log_losses,
)

log = logging.getLogger(__name__)

# Without held-out texts to choose on (tiny streamed data), an even blend.
FALLBACK_NGRAM_WEIGHT = 0.5
# Fewer pooled held-out rows than this, and the n-gram model's probabilities on them come out of
# fold from 5-fold cross-validation over all the training texts (five fits, cheap on a few thousand
# texts); more, and from one fit without the pooled rows (the cost of the single fit it replaces).
# IMDB with 200 labels: chosen on transformer 1's 20 held-out reviews the weight was 0.45, where
# 0.9-1.0 is best on test.
CROSS_VALIDATION_BELOW = 1000


def fit_ngram_branch(texts, label_ids, num_classes, split_mode, training_config, warm_start=None,
                     sample_weight=None, features="tfidf-1-2"):
    """`fit_ngram_classifier` with the run's settings and the given feature set."""
    cfg = training_config
    return fit_ngram_classifier(
        texts, label_ids, num_classes, split=split_mode, max_tokens=cfg.ngram_max_tokens,
        min_df=cfg.ngram_min_df, c=cfg.ngram_c, class_weight=cfg.class_weight, seed=cfg.seed,
        warm_start=warm_start, multi_label=cfg.multi_label, sample_weight=sample_weight, features=features,
    )


def cross_validated_branch_probabilities(texts, label_ids, fitter, features):
    """`cross_validated_ngram_probabilities` with the run's settings (`fitter.cfg`) and `features`."""
    cfg = fitter.cfg
    return cross_validated_ngram_probabilities(
        texts, label_ids, fitter.num_classes, split=fitter.split_mode, max_tokens=cfg.ngram_max_tokens,
        min_df=cfg.ngram_min_df, c=cfg.ngram_c, class_weight=cfg.class_weight, seed=cfg.seed, features=features,
    )


class NgramFitter:
    """Fits the n-gram branch with the run's settings and features, self-trained on unlabeled texts where that helps.

    Args:
        num_classes: int.
        split_mode: `"word"` or `"character"`.
        training_config: the run's `TrainingConfig` (`self_training`,
            `pseudo_label_weight` and the n-gram settings).
        unlabeled: list of str, or `None`.
        classes: class names, for the report.
    """

    # Whether every fit also learns from texts outside the labelled ones (a distilling fitter's
    # teacher-labelled unlabeled texts): then the held-out rows are scored by one fit without them, as
    # that fit keeps most of its data, never by `cross_validated_branch_probabilities`, which fits on
    # the labels alone and so would judge another model than the one served.
    fits_beyond_the_labels = False

    def __init__(self, num_classes, split_mode, training_config, unlabeled=None, classes=()):
        self.num_classes, self.split_mode, self.cfg = num_classes, split_mode, training_config
        usable = unlabeled and training_config.self_training != "never" and training_config.self_trains()
        self.unlabeled = unlabeled if usable else None
        self.classes = list(classes)
        self.candidates = ngram_feature_candidates(training_config.ngram_features, num_classes,
                                                   training_config.multi_label)
        self.features = self.candidates[0]  # until `choose_features` compares them
        self.feature_losses, self.features_judged_on, self.feature_gain = None, None, None
        self.decision = None  # a SelfTrainingDecision once `decide` ran
        if unlabeled and training_config.self_training == "never":  # recorded, so the report says why
            self.decision = self_training.SelfTrainingDecision(
                "never", len(unlabeled), training_config.pseudo_label_weight, {})

    def fit(self, texts, label_ids, warm_start=None, sample_weight=None, features=None):
        """The n-gram regression on labelled texts only, with `features` (default: the chosen ones)."""
        return fit_ngram_branch(texts, label_ids, self.num_classes, self.split_mode, self.cfg, warm_start,
                                sample_weight, features or self.features)

    def choose_features(self, held_out, true_ids, judged_on, row_losses=row_log_losses):
        """Take the candidate feature set whose n-gram model has the lowest log-loss on held-out texts.

        The first candidate (`tfidf-1-2`, the branch before `auto`) is kept
        unless the lowest-loss one beats it by more than one standard error
        of the per-text difference (`beyond_one_standard_error`), the
        rule the blend weight follows: a choice within noise is not made.
        With one candidate (a forced `ngram_features`, or label sets) it is
        scored only, not compared.

        Args:
            held_out: callable, feature set -> `(probabilities (rows,
                classes) of an n-gram model with those features that did not
                see the rows, or None when it cannot be scored; anything
                else, returned with them)`.
            true_ids: the rows' class ids (or what `row_losses` takes).
            judged_on: str, which rows (for the report).
            row_losses: callable `(probabilities, true_ids) -> (rows,)`
                losses; a distilled student judges by `row_cross_entropies`
                against its teacher's probabilities.

        Returns:
            The chosen candidate's `held_out(features)`.
        """
        scored = {}
        for features in self.candidates:
            scored[features] = held_out(features)
            if scored[features][0] is None:  # a class with a single text: nothing to compare on
                return scored[features]
        if len(self.candidates) > 1:
            losses = {features: row_losses(probabilities, true_ids)
                      for features, (probabilities, _) in scored.items()}
            self.feature_losses = {features: float(np.mean(rows)) for features, rows in losses.items()}
            best = min(self.candidates, key=self.feature_losses.get)  # the first of equals
            incumbent = self.candidates[0]
            # TNEWS: tfidf-1-3 beat tfidf-1-2 by 0.003 (one standard error) on 5,336 held-out headlines,
            # and lost 0.2 points on test; as for the blend weight, a challenger must win beyond noise.
            gain = paired_gain(losses[best], losses[incumbent])
            self.features = best if beyond_one_standard_error(gain) else incumbent
            self.feature_gain = {"features": best, "over": incumbent, **gain}
            self.features_judged_on = judged_on
            log.info("N-gram features chosen on %s: %s (held-out log-loss %s; %s kept unless another wins by "
                     "more than one standard error)", judged_on, self.features,
                     ", ".join(f"{name} {loss:.4f}" for name, loss in self.feature_losses.items()), incumbent)
        return scored[self.features]

    def choose_features_by_cross_validation(self, texts, label_ids):
        """`choose_features` on every training text, scored out of fold (no held-out texts are scored)."""
        if len(self.candidates) > 1:
            self.choose_features(lambda features: (cross_validated_branch_probabilities(
                texts, label_ids, self, features), None), label_ids,
                f"5-fold cross-validation over the {len(texts)} training texts")

    def report(self):
        """The data report's `ngram_branch` entry: the setting, the features used, and how they were chosen."""
        report = {"ngram_features": self.cfg.ngram_features, "features": self.features}
        if self.feature_losses is not None:
            report["held_out_log_loss"] = {name: round(loss, 6) for name, loss in self.feature_losses.items()}
            report["judged_on"] = self.features_judged_on
            # The lowest-loss candidate's lead over the incumbent, and its noise.
            report["best_gain"] = {name: round(value, 6) if isinstance(value, float) else value
                                   for name, value in self.feature_gain.items()}
        return report

    def fit_pair(self, texts, label_ids, warm_start=(None, None)):
        """`(labels only, self-trained or None, pseudo-label counts or None)` on `texts`.

        No self-trained model without unlabeled texts, or once a decision
        (on held-out texts) refused it.
        """
        teacher = self.fit(texts, label_ids, warm_start[0])
        if self.unlabeled is None or (self.decision is not None and not self.decision.used):
            return teacher, None, None
        log.info("Self-training: the n-gram model labels %d unlabeled texts; refitting on them at weight %.2f",
                 len(self.unlabeled), self.cfg.pseudo_label_weight)
        student, counts = self_training.fit_student(texts, label_ids, self.unlabeled, teacher, self.fit,
                                                    self.cfg.pseudo_label_weight, warm_start[1])
        return teacher, student, counts

    def decide_by_cross_validation(self, texts, label_ids):
        """Take the keep-or-refuse decision by cross-validation over all the labelled texts.

        Only for `self_training="auto"` with unlabeled texts and no decision
        yet; used where the held-out split is too small to judge on
        (`self_training.FEW_HELD_OUT_TEXTS`). Later calls of `decide` keep
        this decision.
        """
        if self.unlabeled is None or self.decision is not None or self.cfg.self_training != "auto":
            return
        measured = self_training.cross_validated_log_losses(texts, label_ids, self.unlabeled, self.fit,
                                                            self.cfg.pseudo_label_weight, seed=self.cfg.seed)
        if measured is None:  # a class with a single text: leave it to the held-out split
            return
        teacher_loss, student_loss, counts, folds = measured
        self.decision = self_training.decide_on_log_losses(
            (teacher_loss, student_loss), len(texts), f"{folds}-fold cross-validation over the {len(texts)} labelled "
            "texts", "auto", len(self.unlabeled), self.cfg.pseudo_label_weight, counts, self.classes,
        )

    def decide(self, teacher, student, counts, texts, label_ids, judged_on):
        """Keep the student or the teacher; returns the one kept.

        The first call with a student decides (see `self_training.decide`)
        on `texts`; later calls keep that decision (the final fit follows
        the one taken on held-out texts).
        """
        if student is None:
            return teacher
        if self.decision is None:
            self.decision = self_training.decide(
                teacher, student, texts, label_ids, judged_on, self.cfg.self_training, len(self.unlabeled),
                self.cfg.pseudo_label_weight, counts, self.classes,
            )
        return student if self.decision.used else teacher


def validation_split(labels, training_config, seed):
    """The rows a member holds out: stratified by class, or at random for label sets."""
    cfg = training_config
    if cfg.multi_label:
        return random_split(len(labels), test_size=cfg.validation_fraction, seed=seed)
    return stratified_split(labels, test_size=cfg.validation_fraction, seed=seed)


def pooled_ngram_weight(preprocessor, members, texts, label_ids, labels, fitter):
    """The blend weight chosen on the rows every transformer held out, pooled.

    Transformer `i` (seed `config.seed + i`) held out its own stratified
    split; each held-out row is scored by that transformer and by an n-gram
    model that did not see it either: out of fold in cross-validation below
    `CROSS_VALIDATION_BELOW` pooled rows, else one fitted without all of
    them. A row held out by two transformers counts once for each. The
    n-gram model alone is kept unless the best blend beats it by more than
    one standard error there (`choose_ngram_weight`'s one-standard-error
    rule), on a grid that includes 1: on these rows the blend is never
    worse than its n-gram branch, and the transformers keep weight only
    where they help beyond noise (IMDB with 200 labels: 60 pooled reviews,
    weight 1.0 where the lowest log-loss was at 0.65; test accuracy 0.787
    against 0.767). Each transformer alone is weaker than their average,
    which the final blend uses; n-gram models fitted on 80% (out of fold)
    or 73% (without all pooled rows) of the texts are weaker too, which
    measured about right (SST-2: weight 0.60, 0.826; an n-gram model fitted
    without each transformer's split alone, on 90%, gave the n-gram model
    alone, 0.820; the transformers' average on test wants 0.70, 0.829).
    With several candidate feature sets (`ngram_features="auto"`), each
    candidate's n-gram model is scored on the same rows the same way, and
    the one of lowest log-loss is kept where it wins beyond one standard
    error (`NgramFitter.choose_features`)
    before the weight is chosen.

    Args:
        preprocessor, members: the fitted preprocessor and transformers.
        texts, label_ids, labels: the training texts, their ids and labels.
        fitter: an `NgramFitter` (labels only: no unlabeled texts); its
            `features` are set to the chosen ones.

    Returns:
        `(weight, warm start)`: the n-gram model (the chosen features)
        fitted without the pooled rows, which starts the final fit, or
        `None` after cross-validation;
        `None` instead of the pair when a class has a single text.
    """
    cfg = fitter.cfg
    splits = [validation_split(labels, cfg, cfg.seed + index)[1] for index in range(len(members))]
    pooled = np.unique(np.concatenate(splits))
    fit_rows = np.setdiff1d(np.arange(len(texts)), pooled)
    counted = np.concatenate(splits)  # a row held out by two transformers counts once for each
    pooled_texts = [texts[i] for i in pooled]
    # Cross-validation also where a class has no text outside the pooled rows (a rare class).
    few = len(counted) < CROSS_VALIDATION_BELOW or len(np.unique(label_ids[fit_rows])) < fitter.num_classes
    # A distilled student's branch: the one fit without the pooled rows (IMDB, 1,000 labels + 10,000
    # teacher-labelled reviews: judged by labels-only out-of-fold models, the student gave its branch
    # weight 0 and scored 0.830; at weight 0.5, 0.853).
    if few and not fitter.fits_beyond_the_labels:
        log.info("\nChoosing the n-gram model's weight in the blend on the %d texts the transformers held out, "
                 "with the n-gram model's probabilities out of fold (cross-validation)", len(pooled))

        def held_out(features):
            out_of_fold = cross_validated_branch_probabilities(texts, label_ids, fitter, features)
            return (None if out_of_fold is None else out_of_fold[counted]), None
    else:
        log.info("\nChoosing the n-gram model's weight in the blend: fitting it without the %d texts the "
                 "transformers held out, then scoring both there", len(pooled))

        def held_out(features):
            ngram = fitter.fit([texts[i] for i in fit_rows], label_ids[fit_rows], features=features)
            return self_training.ngram_probabilities(ngram, pooled_texts)[np.searchsorted(pooled, counted)], ngram
    ngram_probabilities, warm_start = fitter.choose_features(
        held_out, label_ids[counted], f"the {len(pooled)} texts {len(members)} transformer(s) held out")
    if ngram_probabilities is None:  # a class with a single text
        return None
    parts = CompiledScorer(parts_model(build_inference_model(preprocessor, members)))(pooled_texts)
    parts = parts if isinstance(parts, list) else [parts]
    position = {row: i for i, row in enumerate(pooled)}
    chosen = [np.array([position[row] for row in rows]) for rows in splits]
    weight = choose_ngram_weight(
        np.concatenate([parts[member][at] for member, at in enumerate(chosen)]),
        ngram_probabilities,
        label_ids[counted],
        one_standard_error=True,
    )
    log.info("N-gram model weight in the blend, chosen on the %d texts %d transformer(s) held out: %.2f",
             len(pooled), len(members), weight)
    return weight, warm_start


def held_out_ngram_weight(preprocessor, first_member, texts, label_ids, labels, fitter):
    """The blend weight (and whether to self-train) chosen on transformer 1's validation split.

    Transformer 1 (seed `config.seed`) held out the same stratified split of
    the training texts; the n-gram model is fitted without it (with unlabeled
    texts, also self-trained, and the better of the two kept), and both are
    scored there.

    Args:
        preprocessor, first_member: the fitted preprocessor and transformer 1.
        texts, label_ids, labels: the training texts, their ids and labels.
        fitter: an `NgramFitter`; its `decision` is set when self-training.

    Returns:
        `(weight, warm starts, held-out rows, held-out blend)`: the models
        fitted without the split (labels only, self-trained or `None`),
        whose weights then start the final fits on all the training texts
        (which so converge in a fraction of the iterations); the split's row
        indices and the blended probabilities there (for multi-label
        thresholds).
    """
    cfg = fitter.cfg
    fit_index, held_out = validation_split(labels, cfg, cfg.seed)
    held_out_texts, fit_texts, start = [texts[i] for i in held_out], [texts[i] for i in fit_index], None
    if len(held_out) < self_training.FEW_HELD_OUT_TEXTS:  # too few to judge on: out of fold over all of them
        fitter.choose_features_by_cross_validation(texts, label_ids)
        # IMDB with 200 labels: judged on the 20 reviews held out, self-training was refused
        # (log-loss 0.529 -> 0.627); 5-fold cross-validation over all 200 keeps it (0.533 -> 0.413),
        # and the self-trained n-gram model scores 0.803 on test against 0.787.
        fitter.decide_by_cross_validation(texts, label_ids)
    elif len(fitter.candidates) > 1:
        start = choose_features_on(fitter, (fit_texts, label_ids[fit_index]), (held_out_texts, label_ids[held_out]),
                                   f"the {len(held_out)} texts transformer 1 held out")
    log.info(
        "\nChoosing the n-gram model's weight in the blend: fitting it without transformer 1's "
        "%d validation texts, then scoring both there",
        len(held_out),
    )
    teacher, student, counts = fitter.fit_pair(fit_texts, label_ids[fit_index], (start, None))
    ngram = fitter.decide(teacher, student, counts, held_out_texts, label_ids[held_out],
                          f"the {len(held_out)} texts transformer 1 held out")
    view = parts_model(build_inference_model(preprocessor, [first_member], ngram))
    transformer, ngram_probabilities = CompiledScorer(view)(held_out_texts)
    if cfg.ngram_weight == "auto":
        weight = choose_ngram_weight(transformer, ngram_probabilities, label_ids[held_out])
        log.info("N-gram model weight in the blend, chosen on %d held-out texts: %.2f", len(held_out), weight)
    else:
        weight = float(cfg.ngram_weight)
    blended = (1.0 - weight) * transformer + weight * ngram_probabilities
    return weight, (teacher, student), held_out, blended


def choose_features_on(fitter, train, held_out, judged_on):
    """`fitter.choose_features` with one n-gram model per candidate fitted on `train`, scored on `held_out`.

    Args:
        fitter: an `NgramFitter`.
        train, held_out: `(texts, class ids)`, no text in both.
        judged_on: str, which texts `held_out` holds (for the report).

    Returns:
        The chosen candidate's n-gram model (fitted on `train`; a warm start).
    """
    def scored(features):
        ngram = fitter.fit(*train, features=features)
        return self_training.ngram_probabilities(ngram, held_out[0]), ngram

    return fitter.choose_features(scored, held_out[1], judged_on)[1]


def validation_ngram_weight(model, texts, label_ids):
    """The blend weight chosen on validation texts with the whole ensemble.

    Args:
        model: an inference model with members and an n-gram branch.
        texts: validation texts (no member trained on them).
        label_ids: their class ids.

    Returns:
        float in [0, 1], or `FALLBACK_NGRAM_WEIGHT` without texts.
    """
    if not len(texts):
        log.warning("No validation texts to choose the n-gram weight on; using %.2f.", FALLBACK_NGRAM_WEIGHT)
        return FALLBACK_NGRAM_WEIGHT
    parts = CompiledScorer(parts_model(model))(texts)
    weight = choose_ngram_weight(np.mean(parts[:-1], axis=0), parts[-1], label_ids)
    log.info("N-gram model weight in the blend, chosen on %d validation texts: %.2f", len(texts), weight)
    return weight


def blend_weights(ensemble_size, ngram_weight):
    """Weights for `ProbabilityBlend`: the members share `1 - ngram_weight` equally.

    Args:
        ensemble_size: int, number of members.
        ngram_weight: float in [0, 1], or `None` without an n-gram branch.

    Example:

    >>> blend_weights(2, 0.4)
    [0.3, 0.3, 0.4]
    """
    if ngram_weight is None:
        return [1.0 / ensemble_size] * ensemble_size
    return [(1.0 - ngram_weight) / ensemble_size] * ensemble_size + [ngram_weight]
