"""Distillation: soft targets, the teacher (classifier, run directory, export), and students that learn from it."""

import json

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from keyword_data import TINY, TINY_CLI, keyword_dataset, synonym_texts, write_keyword_csv
from transformer_kit import TextClassifier, cli
from transformer_kit.blending import pooled_ngram_weight, validation_split
from transformer_kit.config import TrainingConfig, make_configs
from transformer_kit.data.report_text import format_data_report
from transformer_kit.distillation import (
    Distillation,
    agreement,
    expand_soft_targets,
    load_teacher,
    member_targets,
    mixed_targets,
    soften,
)
from transformer_kit.inference import CompiledScorer, build_inference_model, members_of, ngram_of
from transformer_kit.models import build_text_classifier, compile_text_classifier
from transformer_kit.ngram import choose_ngram_weight, fit_ngram_classifier, row_cross_entropies
from transformer_kit.preprocessor import TextPreprocessor


def numpy_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------ soft targets


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0, 4.0])
def test_soften_is_a_softmax_of_log_probabilities_divided_by_the_temperature(temperature):
    rng = np.random.default_rng(0)
    probabilities = numpy_softmax(rng.normal(size=(5, 4)) * 3)
    expected = numpy_softmax(np.log(probabilities) / temperature)
    np.testing.assert_allclose(soften(probabilities, temperature), expected, rtol=1e-6)
    # Multi-label: each label is the two-way distribution (p, 1 - p), softened alone.
    p = rng.uniform(0.01, 0.99, size=(5, 3))
    two_way = np.stack([np.log(p), np.log(1 - p)], axis=-1) / temperature
    expected_yes = np.exp(two_way[..., 0]) / np.exp(two_way).sum(axis=-1)
    np.testing.assert_allclose(soften(p, temperature, multi_label=True), expected_yes, rtol=1e-6)


def test_mixed_targets_weigh_the_true_label_against_the_teacher():
    teacher = np.array([[0.2, 0.7, 0.1], [0.5, 0.25, 0.25]])
    np.testing.assert_allclose(mixed_targets(np.array([0, 2]), teacher, 1.0), [[1, 0, 0], [0, 0, 1]])
    np.testing.assert_allclose(mixed_targets(np.array([0, 2]), teacher, 0.0), teacher)
    np.testing.assert_allclose(mixed_targets(np.array([0, 2]), teacher, 0.25),
                               [[0.4, 0.525, 0.075], [0.375, 0.1875, 0.4375]])
    indicator = np.array([[1, 0, 1]])
    np.testing.assert_allclose(mixed_targets(indicator, [[0.5, 0.5, 0.5]], 0.5), [[0.75, 0.25, 0.75]])
    assert member_targets(np.array([[0.3, 0.7]])).tolist() == [[pytest.approx(0.7)]]  # a binary sigmoid head
    assert member_targets(np.array([[0.3, 0.7]]), multi_label=True).shape == (1, 2)


@pytest.mark.parametrize("num_classes", [2, 3])
def test_soft_target_training_loss_equals_a_numpy_cross_entropy(num_classes):
    model = build_text_classifier(vocab_size=30, sequence_length=8, num_classes=num_classes, embed_dim=16,
                                  num_heads=2, ff_dim=16)
    compile_text_classifier(model, soft_targets=True)
    rng = np.random.default_rng(1)
    ids = rng.integers(1, 30, size=(6, 8))
    targets = numpy_softmax(rng.normal(size=(6, num_classes)))
    outputs = np.asarray(model.predict(ids, verbose=0), dtype=np.float64)
    y = member_targets(targets)
    if num_classes == 2:  # one sigmoid: binary cross-entropy on P(class 1)
        p = outputs[:, 0]
        expected = -np.mean(y[:, 0] * np.log(p) + (1 - y[:, 0]) * np.log(1 - p))
    else:
        expected = -np.mean(np.sum(targets * np.log(outputs), axis=1))
    loss = model.evaluate(ids, y, batch_size=6, verbose=0, return_dict=True)["loss"]
    assert loss == pytest.approx(expected, rel=1e-4)


def test_expanded_ngram_rows_weigh_each_class_by_its_target():
    targets = np.array([[0.7, 0.295, 0.005], [0.0, 0.0, 1.0]])
    rows, classes, weights = expand_soft_targets(targets)
    assert rows.tolist() == [0, 0, 1] and classes.tolist() == [0, 1, 2]
    np.testing.assert_allclose(weights, [0.7, 0.295, 1.0])
    # Their weighted log-loss is the cross-entropy against the targets (less the dropped tiny share).
    probabilities = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    weighted = -np.sum(weights * np.log(probabilities[rows, classes]))
    cross_entropy = -np.sum(targets * np.log(probabilities))
    assert weighted == pytest.approx(cross_entropy + 0.005 * np.log(0.1))


def test_agreement_counts_equal_decisions():
    teacher = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8]])
    student = np.array([[0.6, 0.4], [0.7, 0.3], [0.1, 0.9]])
    assert agreement(teacher, student) == {"agreement": pytest.approx(2 / 3)}
    labels = agreement(np.array([[0.9, 0.2], [0.6, 0.6]]), np.array([[0.8, 0.1], [0.7, 0.4]]), multi_label=True)
    assert labels == {"agreement": 0.5, "label_agreement": 0.75}


def test_distillation_settings_are_checked():
    assert (make_configs()[1].distill_temperature, make_configs()[1].true_label_weight) == (1.0, 0.5)
    with pytest.raises(ValueError, match="distill_temperature"):
        make_configs(distill_temperature=0)
    with pytest.raises(ValueError, match="true_label_weight"):
        make_configs(true_label_weight=1.5)


# ------------------------------------------------------------------ the teacher


class FakeTeacher:
    """A fitted classifier in all that a teacher needs, without training one."""

    def __init__(self, classes, multi_label=False):
        self.classes_, self.multi_label, self.thresholds_, self.model_ = np.array(classes), multi_label, None, object()

    def predict_proba(self, texts):
        return pd.DataFrame(np.full((len(texts), len(self.classes_)), 1 / len(self.classes_)), columns=self.classes_)


def test_teacher_classes_must_match_the_labels():
    texts, labels = keyword_dataset(rows=40)
    with pytest.raises(ValueError, match=r"the labels have \['negative'\], which the teacher does not know"):
        TextClassifier(preset="single", **TINY).fit(texts, labels, teacher=FakeTeacher(["positive", "neutral"]))
    with pytest.raises(ValueError, match="is multi-label but the student is not"):
        TextClassifier(preset="single", **TINY).fit(texts, labels, teacher=FakeTeacher(["negative", "positive"],
                                                                                        multi_label=True))


def test_teacher_columns_follow_the_students_classes():
    teacher = load_teacher(FakeTeacher(["b", "a"]))
    teacher.predict_proba = lambda texts: np.array([[0.9, 0.1]] * len(texts))
    np.testing.assert_allclose(teacher.probabilities(["x"], ["a", "b"]), [[0.1, 0.9]])


def test_a_teacher_that_is_no_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_teacher(tmp_path / "missing")
    with pytest.raises(ValueError, match="neither a run directory"):
        load_teacher(tmp_path)
    with pytest.raises(ValueError, match="not fitted"):
        load_teacher(TextClassifier())
    with pytest.raises(ValueError, match="must be a fitted TextClassifier"):
        load_teacher(42)


def test_cli_teacher_errors_exit_2(capsys, tmp_path):
    data = write_keyword_csv(tmp_path / "data.csv", rows=40)
    code = cli.main(["train", str(data), "--teacher", str(tmp_path / "nope"), "--output", str(tmp_path / "run")])
    error = capsys.readouterr().err
    assert code == 2 and "--teacher" in error and "does not exist" in error and "Traceback" not in error
    code = cli.main(["train", str(data), "--distill-temperature", "3", "--output", str(tmp_path / "run")])
    error = capsys.readouterr().err
    assert code == 2 and "pass --teacher" in error
    code = cli.main(["train", str(data), "--teacher", str(tmp_path), "--output", str(tmp_path / "run")])
    assert code == 2 and "neither a run directory" in capsys.readouterr().err


def test_distilled_branch_weight_is_judged_with_the_branch_that_is_served():
    """Few pooled rows: the student's n-gram branch is scored by one fit without them on the teacher's
    targets and the unlabeled texts, not by labels-only cross-validation folds (another model)."""
    from test_blending import tiny_members
    from test_ngram import make_texts

    texts, ids = make_texts(120, seed=7)
    unlabeled, unlabeled_ids = make_texts(200, seed=8)
    ids, unlabeled_ids = ids % 2, unlabeled_ids % 2
    known = dict(zip([*texts, *unlabeled], [*ids, *unlabeled_ids]))
    teacher = load_teacher(FakeTeacher(["0", "1"]))
    teacher.predict_proba = lambda batch: np.array([[0.2, 0.8] if known[text] else [0.8, 0.2] for text in batch])
    config = TrainingConfig(ngram_features="tfidf-1-2")
    distillation = Distillation(teacher, unlabeled, config)
    distillation.label(["0", "1"], texts, ids)
    preprocessor, _ = TextPreprocessor.adapt([*texts, *unlabeled])
    members = tiny_members(preprocessor)
    fitter = distillation.ngram_fitter(2, preprocessor.split_mode)
    labels = [str(i) for i in ids]
    weight, warm_start = pooled_ngram_weight(preprocessor, members, texts, ids, labels, fitter)

    splits = [validation_split(labels, config, config.seed + i)[1] for i in range(2)]
    counted = np.concatenate(splits)
    assert len(counted) < 1000 and warm_start is not None  # one fit, not cross-validation
    # By hand: the rest's mixed targets (w=0.5 of truth, 0.5 of the teacher) and the unlabeled texts'
    # teacher probabilities, each text once per class weighted by its target.
    rest = np.setdiff1d(np.arange(len(texts)), counted)
    targets = np.concatenate([0.5 * np.eye(2)[ids[rest]] + 0.5 * np.array([[0.8, 0.2], [0.2, 0.8]])[ids[rest]],
                              np.array([[0.8, 0.2], [0.2, 0.8]])[unlabeled_ids]])
    rows, classes = np.nonzero(targets >= 0.01)
    fit_texts = [*[texts[i] for i in rest], *unlabeled]
    reference = fit_ngram_classifier([fit_texts[i] for i in rows], classes, 2, sample_weight=targets[rows, classes])
    probability = reference(tf.constant([texts[i] for i in counted])).numpy()
    ngram = np.hstack([1 - probability, probability])
    transformer = np.concatenate([CompiledScorer(build_inference_model(preprocessor, [member]))(
        [texts[i] for i in split]) for member, split in zip(members, splits)])
    assert weight == choose_ngram_weight(transformer, ngram, ids[counted], one_standard_error=True)
    served = warm_start(tf.constant([texts[i] for i in counted])).numpy()
    np.testing.assert_allclose(served, probability, atol=1e-4)


def informed_distillation(labelled, unlabeled, config):
    """A `Distillation` whose teacher gives 0.8 to each text's class (known for every text here)."""
    (texts, ids), (others, other_ids) = labelled, unlabeled
    known = dict(zip([*texts, *others], [*ids, *other_ids]))
    teacher = load_teacher(FakeTeacher(["0", "1"]))
    teacher.predict_proba = lambda batch: np.array([[0.2, 0.8] if known[text] else [0.8, 0.2] for text in batch])
    distillation = Distillation(teacher, others, config)
    distillation.label(["0", "1"], texts, ids)
    return distillation


def test_unlabeled_texts_held_out_to_judge_the_blend_are_a_random_share_kept_from_training():
    from test_ngram import make_texts

    texts, ids = make_texts(40, seed=1)
    others, other_ids = make_texts(600, seed=2)
    distillation = informed_distillation((texts, ids % 2), (others, other_ids % 2), TrainingConfig())
    assert len(distillation.judged_rows) == 0 and len(distillation.training_unlabeled()[0]) == 600
    distillation.hold_out_unlabeled(0.1, seed=0)
    judged, kept = distillation.judged_rows, distillation.training_rows
    assert len(judged) == 60 and len(kept) == 540 and not set(judged) & set(kept)
    assert sorted([*judged, *kept]) == list(range(600)) and judged.max() > 300  # spread, not the first 60
    training_texts, soft = distillation.training_unlabeled()
    assert training_texts == [others[i] for i in kept]
    np.testing.assert_allclose(soft, distillation.unlabeled_soft[kept])
    small = informed_distillation((texts, ids % 2), (others[:400], other_ids[:400] % 2), TrainingConfig())
    small.hold_out_unlabeled(0.1, seed=0)  # 40 texts: too few to judge on; nothing is kept back
    assert len(small.judged_rows) == 0 and len(small.training_rows) == 400


def test_student_blend_is_judged_on_held_out_unlabeled_texts_by_cross_entropy_against_the_teacher():
    from test_blending import one_standard_error_choice, tiny_members
    from test_ngram import make_texts

    from transformer_kit.distillation import teacher_judged_ngram_weight

    texts, ids = make_texts(60, seed=3)
    others, other_ids = make_texts(700, seed=4)
    ids, other_ids = ids % 2, other_ids % 2
    distillation = informed_distillation((texts, ids), (others, other_ids), TrainingConfig())
    distillation.hold_out_unlabeled(0.1, seed=0)
    preprocessor, _ = TextPreprocessor.adapt([*texts, *others])
    members = tiny_members(preprocessor)
    fitter = distillation.ngram_fitter(2, preprocessor.split_mode)
    weight, warm_start = teacher_judged_ngram_weight(preprocessor, members, texts, ids, fitter)

    # By hand: n-gram models fitted on the labelled texts' mixed targets and the kept unlabeled texts'
    # teacher probabilities, scored on the judged texts by cross-entropy against the teacher's probabilities.
    judged, kept = distillation.judged_rows, distillation.training_rows
    judged_texts = [others[i] for i in judged]
    soft = np.array([[0.8, 0.2], [0.2, 0.8]])
    teacher = soft[other_ids[judged]]

    def cross_entropies(probabilities):
        return -(teacher[:, 0] * np.log(probabilities[:, 0]) + teacher[:, 1] * np.log(probabilities[:, 1]))

    targets = np.concatenate([0.5 * np.eye(2)[ids] + 0.5 * soft[ids], soft[other_ids[kept]]])
    rows, classes = np.nonzero(targets >= 0.01)
    fit_texts = [*texts, *[others[i] for i in kept]]
    scored = {}
    for features in ("tfidf-1-2", "nb-1-2", "nb-1-3"):
        reference = fit_ngram_classifier([fit_texts[i] for i in rows], classes, 2, features=features,
                                         sample_weight=targets[rows, classes])
        probability = reference(tf.constant(judged_texts)).numpy()
        scored[features] = np.hstack([1 - probability, probability])
    chosen = one_standard_error_choice({name: cross_entropies(p) for name, p in scored.items()})
    assert fitter.features == chosen and warm_start.features == chosen
    assert "by cross-entropy against the teacher's probabilities" in fitter.report()["judged_on"]
    transformers = np.mean([CompiledScorer(build_inference_model(preprocessor, [member]))(judged_texts)
                            for member in members], axis=0)
    # The weight by hand: the grid's lowest mean cross-entropy, nearest 0.5 among equals, kept only if
    # it beats the n-gram model alone (weight 1) by more than one standard error of the paired difference.
    grid = np.round(np.arange(0, 1.0001, 0.05), 2)
    losses = {w: cross_entropies((1 - w) * transformers + w * scored[chosen]) for w in grid}
    best = min(sorted(grid, key=lambda w: abs(w - 0.5)), key=lambda w: losses[w].mean())
    gain = losses[1.0] - losses[best]
    expected = best if gain.mean() > gain.std(ddof=1) / np.sqrt(len(gain)) else 1.0
    assert weight == pytest.approx(expected)
    assert len(fitter.unlabeled_rows) == 700  # the final fit learns from every unlabeled text again


def test_a_blend_closer_to_the_teacher_than_either_part_gets_an_inner_weight_by_cross_entropy():
    rng = np.random.default_rng(0)
    teacher = rng.dirichlet([2.0, 2.0, 2.0], size=400)

    def noisy():  # each part: the teacher's probabilities, distorted by its own noise
        distorted = teacher * np.exp(rng.normal(0.0, 0.6, teacher.shape))
        return distorted / distorted.sum(axis=1, keepdims=True)

    transformers, ngram = noisy(), noisy()
    weight = choose_ngram_weight(transformers, ngram, teacher, one_standard_error=True,
                                 row_losses=row_cross_entropies)
    grid = np.round(np.arange(0, 1.0001, 0.05), 2)
    mean_losses = [-(teacher * np.log((1 - w) * transformers + w * ngram)).sum(axis=1).mean() for w in grid]
    assert weight == pytest.approx(grid[int(np.argmin(mean_losses))])
    assert 0.3 <= weight <= 0.7  # two equally noisy parts: near an even blend


# ------------------------------------------------------------------ students (slow)


@pytest.fixture(scope="module")
def synonym_teacher():
    """A teacher that learned the synonyms from its own unlabeled texts (n-gram self-training)."""
    texts, labels = keyword_dataset(rows=120)
    unlabeled, _ = synonym_texts(400, seed=1, with_keyword=True)
    teacher = TextClassifier(**{**TINY, "epochs": 1}, ngram_weight=1.0, self_training="always")
    return teacher.fit(texts, labels, unlabeled=unlabeled)


def test_single_student_learns_synonyms_only_the_teacher_knows(synonym_teacher):
    texts, labels = keyword_dataset(rows=120)
    unlabeled, _ = synonym_texts(400, seed=3, with_keyword=False)  # the synonyms alone: only the teacher knows
    test = synonym_texts(60, seed=2, with_keyword=False)
    assert synonym_teacher.score(*test) == 1.0
    alone = TextClassifier(preset="single", **TINY).fit(texts, labels)
    student = TextClassifier(preset="single", **TINY).fit(texts, labels, teacher=synonym_teacher,
                                                          unlabeled=unlabeled, test=test)
    assert alone.score(*test) < 0.8 and student.score(*test) >= 0.95
    report = student.data_report_["distillation"]
    assert report["teacher"] == {"kind": "TextClassifier", "where": "in memory",
                                 "classes": ["negative", "positive"], "multi_label": False}
    assert report["texts_labelled_by_teacher"] == {"labelled": 120, "unlabeled": 400}
    assert (report["distill_temperature"], report["true_label_weight"]) == (1.0, 0.5)
    assert report["agreement"]["test"]["texts"] == 60 and report["agreement"]["test"]["agreement"] >= 0.95
    assert "self_training" not in student.data_report_


def test_small_student_with_auto_weight_keeps_unlabeled_texts_from_its_member_to_judge_the_blend(
        synonym_teacher):
    texts, labels = keyword_dataset(rows=120)
    unlabeled, _ = synonym_texts(600, seed=3, with_keyword=False)
    test = synonym_texts(60, seed=2, with_keyword=False)
    student = TextClassifier(preset="small", epochs=1, verbose=0)  # one narrow transformer, ngram_weight="auto"
    student.fit(texts, labels, teacher=synonym_teacher, unlabeled=unlabeled, test=test)
    assert student.score(*test) >= 0.95
    (member,) = members_of(student.model_)
    assert ngram_of(student.model_) is not None
    assert member.get_layer("transformer_0_encoder").output.shape[-1] == 32  # the embedding width
    assert (student.model_config_.num_heads, student.model_config_.ff_dim) == (2, 64)
    report = student.data_report_
    assert report["distillation"]["unlabeled_texts_held_out_to_judge_the_blend"] == 60
    assert report["ngram_branch"]["judged_on"].startswith("60 unlabeled texts the student's transformers")
    text = format_data_report(report)
    assert "60 unlabeled texts kept from the transformers, to choose the n-gram branch" in text


def test_default_student_ngram_branch_learns_from_the_teacher(synonym_teacher):
    texts, labels = keyword_dataset(rows=120)
    unlabeled, _ = synonym_texts(400, seed=3, with_keyword=False)
    test = synonym_texts(60, seed=2, with_keyword=False)
    student = TextClassifier(**{**TINY, "epochs": 1}, ngram_weight=1.0)  # the n-gram branch alone decides
    student.fit(texts, labels, teacher=synonym_teacher, unlabeled=unlabeled)
    assert student.score(*test) >= 0.95
    assert "agreement_note" in student.data_report_["distillation"]  # no validation or test data given


def test_teacher_as_run_directory_and_export_and_the_cli(synonym_teacher, tmp_path):
    texts = synonym_texts(30, seed=5, with_keyword=False)[0]
    expected = synonym_teacher.predict_proba(texts).to_numpy()
    run = synonym_teacher.save(tmp_path / "teacher")
    version = synonym_teacher.export(tmp_path / "export")
    for path, kind, where in ((run, "run directory", run), (tmp_path / "export", "SavedModel export", version),
                              (version, "SavedModel export", version)):
        teacher = load_teacher(path)
        assert (teacher.kind, teacher.where, teacher.classes) == (kind, str(where), ["negative", "positive"])
        np.testing.assert_allclose(teacher.probabilities(texts, ["negative", "positive"]), expected, atol=1e-5)
    data = write_keyword_csv(tmp_path / "data.csv", rows=120)
    code = cli.main(["train", str(data), "--preset", "single", *TINY_CLI, "--teacher", str(tmp_path / "export"),
                     "--true-label-weight", "0.3", "--output", str(tmp_path / "student")])
    assert code == 0
    report = json.loads((tmp_path / "student" / "data_report.json").read_text())["distillation"]
    assert report["teacher"]["kind"] == "SavedModel export" and report["teacher"]["where"] == str(version)
    assert report["true_label_weight"] == 0.3 and report["agreement"]["test"]["texts"] == 12
    text = (tmp_path / "student" / "data_report.txt").read_text()
    assert f"Distilled from: SavedModel export {version}" in text and "of 12 test texts" in text


def test_multi_label_teacher_teaches_a_multi_label_student():
    from test_multilabel import topic_texts

    texts, labels = topic_texts(200)
    unlabeled, _ = topic_texts(200, seed=3)
    test = topic_texts(60, seed=4)
    tiny = dict(epochs=3, embed_dim=16, num_heads=2, ff_dim=16, verbose=0, multi_label=True)
    teacher = TextClassifier(ensemble_size=1, **tiny).fit(texts, labels)
    student = TextClassifier(ensemble_size=1, **tiny).fit(texts, labels, teacher=teacher, unlabeled=unlabeled,
                                                          test=test)
    report = student.data_report_["distillation"]
    assert report["teacher"]["multi_label"] and report["texts_labelled_by_teacher"]["unlabeled"] == 200
    agreement_on_test = report["agreement"]["test"]
    assert agreement_on_test["label_agreement"] >= 0.9 and agreement_on_test["agreement"] >= 0.7
    assert student.predict_proba(test[0]).shape == (60, 3)
    assert student.evaluate(*test)["micro_f1"] >= 0.8
