"""The n-gram branch and its weight in the blend with the transformers.

The weight is chosen to minimize log-loss on texts that neither the n-gram
model nor the transformers it is judged with were trained on:

- without validation data, on transformer 1's own held-out split, with an
  n-gram model fitted without that split (`held_out_ngram_weight`);
- with validation data (given, or the hashed part of a streamed file), on
  it, with the whole ensemble (`validation_ngram_weight`).
"""

import logging

import numpy as np

from transformer_kit.data import stratified_split
from transformer_kit.data.splitting import random_split
from transformer_kit.inference import CompiledScorer, build_inference_model, parts_model
from transformer_kit.ngram import choose_ngram_weight, fit_ngram_classifier

log = logging.getLogger(__name__)

# Without held-out texts to choose on (tiny streamed data), an even blend.
FALLBACK_NGRAM_WEIGHT = 0.5


def fit_ngram_branch(texts, label_ids, num_classes, split_mode, training_config, warm_start=None):
    """`fit_ngram_classifier` with the run's settings."""
    cfg = training_config
    return fit_ngram_classifier(
        texts, label_ids, num_classes, split=split_mode, max_tokens=cfg.ngram_max_tokens,
        min_df=cfg.ngram_min_df, c=cfg.ngram_c, class_weight=cfg.class_weight, seed=cfg.seed,
        warm_start=warm_start, multi_label=cfg.multi_label,
    )


def validation_split(labels, training_config, seed):
    """The rows a member holds out: stratified by class, or at random for label sets."""
    cfg = training_config
    if cfg.multi_label:
        return random_split(len(labels), test_size=cfg.validation_fraction, seed=seed)
    return stratified_split(labels, test_size=cfg.validation_fraction, seed=seed)


def held_out_ngram_weight(preprocessor, first_member, texts, label_ids, labels, num_classes, training_config):
    """The blend weight chosen on transformer 1's validation split.

    Transformer 1 (seed `config.seed`) held out the same stratified split of
    the training texts; an n-gram model is fitted without it, and both are
    scored there.

    Returns:
        `(weight, n-gram model, held-out rows, held-out blend)`: the model
        fitted without the split, whose weights then start the final fit on
        all the training texts (which so converges in a fraction of the
        iterations); the split's row indices and the blended probabilities
        there (for multi-label thresholds).
    """
    cfg = training_config
    fit_index, held_out = validation_split(labels, cfg, cfg.seed)
    held_out_texts = [texts[i] for i in held_out]
    log.info(
        "\nChoosing the n-gram model's weight in the blend: fitting it without transformer 1's "
        "%d validation texts, then scoring both there",
        len(held_out),
    )
    ngram = fit_ngram_branch(
        [texts[i] for i in fit_index], label_ids[fit_index], num_classes, preprocessor.split_mode, cfg
    )
    view = parts_model(build_inference_model(preprocessor, [first_member], ngram))
    transformer, ngram_probabilities = CompiledScorer(view)(held_out_texts)
    if cfg.ngram_weight == "auto":
        weight = choose_ngram_weight(transformer, ngram_probabilities, label_ids[held_out])
        log.info("N-gram model weight in the blend, chosen on %d held-out texts: %.2f", len(held_out), weight)
    else:
        weight = float(cfg.ngram_weight)
    blended = (1.0 - weight) * transformer + weight * ngram_probabilities
    return weight, ngram, held_out, blended


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
