"""How faithful and how fast are the explanations? Ours against attention, LIME, SHAP and random.

For each dataset, a default-preset classifier (trained here unless `--runs-dir`
holds one) and `--texts` test texts (an evenly spaced sample), every method
ranks the tokens of each text (the model's own tokens, so all methods are
scored on the same units) for the predicted class, and we measure:

- ERASER comprehensiveness at 10/20/50% of the tokens (DeYoung et al., ACL
  2020): p(class | text) - p(class | text without the top tokens); higher is
  more faithful;
- ERASER sufficiency at 10/20/50%: p(class | text) - p(class | the top
  tokens only); lower is better;
- the area under the deletion curve: p(class) as the top 0, 10, ..., 100% of
  tokens are deleted, averaged (trapezoid); lower is better;
- explanations per second (wall time for `--texts` texts, one process; the
  CPU may be shared, so compare the ratios).
- ours (the first of `--ours-steps`) minus LIME and minus SHAP in
  comprehensiveness, per fraction, with a 95% paired bootstrap interval over
  the texts (every text's comprehensiveness is kept in the JSON).

A text with tokens removed is the remaining tokens joined by spaces, which the
classifier tokenizes back to exactly those tokens (CJK characters too).

Methods: ours (`TextClassifier.explain`: integrated gradients + n-gram
contributions, blended); attention (last encoder block, heads averaged, the
attention each token receives averaged over the real query positions and the
transformers); LIME (`lime`, `--lime-samples` samples, tokens removed by
position); SHAP (`shap` Partition explainer, text masker on the same tokens,
`--shap-evals` evaluations); random (a seeded shuffle). Then the served
`explain` signature's texts/s in batches of `--batch-size` on SST-2.

    pip install ".[bench]"        # lime, shap
    python benchmarks/explanations.py --texts 300 --output benchmarks/RESULTS_explanations.json \\
        --markdown benchmarks/RESULTS_explanations.md
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, when run as a script

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.datasets import load_dataset  # noqa: E402
from transformer_kit.classifier import TextClassifier  # noqa: E402
from transformer_kit.config import EXPLAIN_STEPS  # noqa: E402
from transformer_kit.inference import members_of, preprocessor_of  # noqa: E402
from transformer_kit.layers import MaskedPooling, TransformerEncoder  # noqa: E402

FRACTIONS = (0.1, 0.2, 0.5)
DELETION_STEPS = np.linspace(0.0, 1.0, 11)
_MASK = "MASKEDTOKEN"
METHODS = ("ours", "attention", "lime", "shap", "random")


# ------------------------------------------------------------------ methods


def ours(classifier, token_lists, targets, steps):
    texts = [" ".join(tokens) for tokens in token_lists]
    results = classifier.explain(texts, target=[classifier.classes_[t] for t in targets], steps=steps)
    return [result.attributions for result in results]


def attention(classifier, token_lists, targets):
    """The attention each token receives in the last block, heads and real queries averaged."""
    preprocessor = preprocessor_of(classifier.model_)
    scores = []
    for start in range(0, len(token_lists), 64):
        batch = token_lists[start : start + 64]
        ids = preprocessor(tf.constant([" ".join(tokens) for tokens in batch]))
        received = np.mean([_last_block_attention(member, ids) for member in members_of(classifier.model_)], axis=0)
        for row, tokens in enumerate(batch):
            # Tokens past the sequence length get no attention: rank them last.
            padded = np.full(len(tokens), -1.0)
            kept = min(len(tokens), received.shape[1])
            padded[:kept] = received[row, :kept]
            scores.append(padded)
    return scores


def _last_block_attention(member, ids):
    encoder = next(layer for layer in member.layers if isinstance(layer, tf.keras.Model))
    padding_mask = tf.not_equal(ids, 0)
    x = encoder.get_layer("embedding")(ids)
    blocks = [layer for layer in encoder.layers if isinstance(layer, TransformerEncoder)]
    for layer in encoder.layers[encoder.layers.index(encoder.get_layer("embedding")) + 1 :]:
        if layer is blocks[-1]:
            _, weights = layer(x, padding_mask=padding_mask, training=False, return_attention_scores=True)
            break
        if isinstance(layer, (TransformerEncoder, MaskedPooling)):
            x = layer(x, padding_mask=padding_mask, training=False)
        else:
            x = layer(x, training=False)
    weights = tf.reduce_mean(weights, axis=1)  # heads: [batch, queries, keys]
    queries = tf.cast(padding_mask, tf.float32)[:, :, None]
    return (tf.reduce_sum(weights * queries, axis=1) / tf.maximum(tf.reduce_sum(queries, axis=1), 1.0)).numpy()


def lime_method(classifier, token_lists, targets, samples):
    from lime.lime_text import LimeTextExplainer

    explainer = LimeTextExplainer(split_expression=lambda text: text.split(" "), bow=False, mask_string="",
                                  random_state=0)
    scores = []
    for tokens, target in zip(token_lists, targets):
        explanation = explainer.explain_instance(
            " ".join(tokens), _probabilities(classifier), labels=[target], num_features=len(tokens), num_samples=samples
        )
        weights = np.zeros(len(tokens))
        for position, weight in explanation.as_map()[target]:
            weights[position] = weight
        scores.append(weights)
    return scores


def shap_method(classifier, token_lists, targets, evaluations):
    import shap

    # SHAP needs a non-empty mask token; the model then sees it removed, as LIME's.
    masker = shap.maskers.Text(tokenizer=r" ", mask_token=_MASK, collapse_mask_token=False)
    explainer = shap.Explainer(_probabilities(classifier), masker, algorithm="partition")
    scores = []
    for tokens, target in zip(token_lists, targets):
        values = explainer([" ".join(tokens)], max_evals=evaluations, silent=True).values[0][:, target]
        if len(values) != len(tokens):
            raise RuntimeError(f"SHAP gave {len(values)} values for {len(tokens)} tokens")
        scores.append(np.asarray(values))
    return scores


def _ours_name(steps):
    return f"ours ({steps} steps)"


def random_method(token_lists, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.random(len(tokens)) for tokens in token_lists]


def _probabilities(classifier):
    def predict(texts):
        return classifier.predict_proba([str(text).replace(_MASK, " ") for text in texts]).to_numpy()

    return predict


# ------------------------------------------------------------------ metrics


def faithfulness(classifier, token_lists, targets, scores):
    """ERASER comprehensiveness and sufficiency at FRACTIONS, and the deletion-curve AUC (means over texts)."""
    texts, owners = [], []

    def add(text, key):
        texts.append(text)
        owners.append(key)

    for row, (tokens, score) in enumerate(zip(token_lists, scores)):
        order = np.argsort(-np.asarray(score), kind="stable")
        add(" ".join(tokens), (row, "full", None))
        for fraction in FRACTIONS:
            top = set(order[: max(1, math.ceil(fraction * len(tokens)))].tolist())
            add(" ".join(t for i, t in enumerate(tokens) if i not in top), (row, "without", fraction))
            add(" ".join(t for i, t in enumerate(tokens) if i in top), (row, "only", fraction))
        for fraction in DELETION_STEPS[1:]:
            removed = set(order[: int(round(fraction * len(tokens)))].tolist())
            add(" ".join(t for i, t in enumerate(tokens) if i not in removed), (row, "deleted", float(fraction)))
    probabilities = classifier.predict_proba(texts).to_numpy()
    value = {key: probabilities[i, targets[key[0]]] for i, key in enumerate(owners)}
    result, per_text = {}, {}
    for fraction in FRACTIONS:
        rows = range(len(token_lists))
        key = f"comprehensiveness@{fraction:.0%}"
        per_text[key] = [float(value[(r, "full", None)] - value[(r, "without", fraction)]) for r in rows]
        result[key] = float(np.mean(per_text[key]))
        result[f"sufficiency@{fraction:.0%}"] = float(
            np.mean([value[(r, "full", None)] - value[(r, "only", fraction)] for r in rows])
        )
    curves = [
        [value[(r, "full", None)]] + [value[(r, "deleted", float(f))] for f in DELETION_STEPS[1:]]
        for r in range(len(token_lists))
    ]
    result["deletion_auc"] = float(np.mean([np.trapezoid(curve, DELETION_STEPS) for curve in curves]))
    result["per_text"] = {key: [round(v, 5) for v in values] for key, values in per_text.items()}
    return result


def paired_differences(methods, ours, others=("lime", "shap"), resamples=2000, seed=0):
    """Ours minus each other method's comprehensiveness, per fraction: mean and a 95% paired bootstrap interval.

    The same texts are scored by every method, so the per-text differences
    are resampled (texts drawn with replacement), which takes out how hard
    each text is and leaves the gap between the methods.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for other in others:
        if other not in methods or ours not in methods:
            continue
        out[other] = {}
        for key in methods[ours]["per_text"]:
            difference = np.subtract(methods[ours]["per_text"][key], methods[other]["per_text"][key])
            means = difference[rng.integers(0, len(difference), (resamples, len(difference)))].mean(axis=1)
            low, high = np.percentile(means, [2.5, 97.5])
            out[other][key] = {"mean": float(difference.mean()), "low": float(low), "high": float(high)}
    return out


# ---------------------------------------------------------------- the runs


def trained_classifier(name, runs_dir):
    run = Path(runs_dir) / name if runs_dir else None
    if run is not None and (run / "manifest.json").exists():
        return TextClassifier.load(run, verbose=0)
    data = load_dataset(name)
    classifier = TextClassifier(verbose=0).fit(data.train_texts, data.train_labels)
    if run is not None:
        classifier.save(run, overwrite=True)
    return classifier


def benchmark_dataset(name, args):
    classifier = trained_classifier(name, args.runs_dir)
    data = load_dataset(name)
    rows = np.unique(np.linspace(0, len(data.test_texts) - 1, args.texts).astype(int))
    texts = [data.test_texts[i] for i in rows]
    # The model's tokens (from its own explanation) are the unit every method ranks.
    token_lists = [result.tokens for result in classifier.explain(texts) if result.tokens]
    targets = classifier.predict_proba([" ".join(t) for t in token_lists]).to_numpy().argmax(axis=1)
    runners = {
        **{
            _ours_name(steps): (lambda steps=steps: ours(classifier, token_lists, targets, steps))
            for steps in args.ours_steps
        },
        "attention": lambda: attention(classifier, token_lists, targets),
        "lime": lambda: lime_method(classifier, token_lists, targets, args.lime_samples),
        "shap": lambda: shap_method(classifier, token_lists, targets, args.shap_evals),
        "random": lambda: random_method(token_lists),
    }
    report = {"texts": len(texts), "mean_tokens": float(np.mean([len(t) for t in token_lists])), "methods": {}}
    warm_up = {
        **{
            _ours_name(steps): (lambda steps=steps: ours(classifier, token_lists[:2], targets[:2], steps))
            for steps in args.ours_steps
        },
        "attention": lambda: attention(classifier, token_lists[:2], targets[:2]),
    }
    methods = [
        name
        for method in args.methods
        for name in ([_ours_name(steps) for steps in args.ours_steps] if method == "ours" else [method])
    ]
    for method in methods:
        if method in warm_up:  # graph tracing is paid once per process, not per text
            warm_up[method]()
        start = time.perf_counter()
        scores = runners[method]()
        seconds = time.perf_counter() - start
        metrics = faithfulness(classifier, token_lists, targets, scores)
        report["methods"][method] = {**metrics, "explanations_per_s": len(texts) / seconds, "seconds": seconds}
        printed = {key: value for key, value in report["methods"][method].items() if key != "per_text"}
        print(name, method, json.dumps(printed), flush=True)
    report["ours_minus"] = paired_differences(report["methods"], _ours_name(args.ours_steps[0]))
    return classifier, texts, report


def served_throughput(classifier, texts, batch_size, steps, repeats=3):
    """Texts/s of the exported `explain` signature (`steps` points), batches of `batch_size`, TensorFlow alone."""
    with tempfile.TemporaryDirectory() as folder:
        version_dir = classifier.export(Path(folder) / "model", explain_steps=steps)
        explain = tf.saved_model.load(str(version_dir)).signatures["explain"]
        batches = [tf.constant(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
        explain(text=batches[0])  # warm-up
        best = math.inf
        for _ in range(repeats):
            start = time.perf_counter()
            for batch in batches:
                explain(text=batch)
            best = min(best, time.perf_counter() - start)
    return len(texts) / best


def markdown(results, args):
    lines = [
        "# Explanations: faithfulness and speed",
        "",
        "Generated by `benchmarks/explanations.py`: "
        f"`python benchmarks/explanations.py {' '.join(sys.argv[1:])}`.",
        "Default preset; the model's tokens; the predicted class explained. Comprehensiveness: higher is better; "
        "sufficiency and deletion AUC: lower is better. The CPU (2 cores) was shared with other jobs: "
        "compare ratios, not absolute speeds.",
        "",
    ]
    for name, report in results["datasets"].items():
        lines += [
            f"## {name} ({report['texts']} test texts, {report['mean_tokens']:.1f} tokens on average)",
            "",
            "| method | comp@10% | comp@20% | comp@50% | suff@10% | suff@20% | suff@50% | deletion AUC | expl/s |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for method, m in report["methods"].items():
            lines.append(
                f"| {method} | {m['comprehensiveness@10%']:.3f} | {m['comprehensiveness@20%']:.3f} | "
                f"{m['comprehensiveness@50%']:.3f} | {m['sufficiency@10%']:.3f} | {m['sufficiency@20%']:.3f} | "
                f"{m['sufficiency@50%']:.3f} | {m['deletion_auc']:.3f} | {m['explanations_per_s']:.1f} |"
            )
        lines.append("")
        ours = _ours_name(args.ours_steps[0])
        for other, gaps in report.get("ours_minus", {}).items():
            cells = ", ".join(f"{key.split('@')[1]} {gap['mean']:+.3f} [{gap['low']:+.3f}, {gap['high']:+.3f}]"
                              for key, gap in gaps.items())
            lines.append(f"- {ours} minus {other}, comprehensiveness (95% paired bootstrap interval): {cells}")
        if report.get("ours_minus"):
            lines.append("")
    if "served_texts_per_s" in results:
        rates = ", ".join(f"**{rate:.0f} texts/s** at {steps} points"
                          for steps, rate in results["served_texts_per_s"].items())
        lines += [f"Served `explain` signature on SST-2, batches of {args.batch_size}: {rates}.", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["sst2", "trec", "chnsenticorp"])
    parser.add_argument("--texts", type=int, default=300, help="Test texts per dataset. Default: 300.")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--ours-steps", nargs="+", type=int, default=[EXPLAIN_STEPS, 4],
                        help=f"Integration points of ours, one row each. Default: {EXPLAIN_STEPS} (the library's) "
                             "and 4.")
    parser.add_argument("--served-steps", nargs="+", type=int, default=[EXPLAIN_STEPS],
                        help="Integration points of the exported explain signature, one measurement each.")
    parser.add_argument("--lime-samples", type=int, default=1000)
    parser.add_argument("--shap-evals", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=256, help="Served explain batch size. Default: 256.")
    parser.add_argument("--served-texts", type=int, default=1821, help="SST-2 texts for the served throughput.")
    parser.add_argument("--runs-dir", help="Reuse (or save) trained runs here, one folder per dataset.")
    parser.add_argument("--output", help="Write the results as JSON here.")
    parser.add_argument("--markdown", help="Write the results as Markdown here.")
    args = parser.parse_args(argv)

    results = {"datasets": {}, "settings": vars(args)}
    for name in args.datasets:
        classifier, _, report = benchmark_dataset(name, args)
        results["datasets"][name] = report
        if name == "sst2":
            served = load_dataset("sst2").test_texts[: args.served_texts]
            results["served_texts_per_s"] = {}
            for steps in args.served_steps:
                rate = served_throughput(classifier, served, args.batch_size, steps)
                results["served_texts_per_s"][steps] = rate
                print(f"served explain texts/s at {steps} points", round(rate, 1), flush=True)
        if args.output:
            Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(markdown(results, args) + "\n")
    return results


if __name__ == "__main__":
    main()
