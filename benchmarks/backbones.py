"""Serving cost of a pretrained-backbone classifier against the default and single presets.

This machine cannot download pretrained weights, so the backbone is a BERT-tiny-size preset with
random weights (2 layers, hidden 128, 2 heads, intermediate 512, positions up to 512; a WordPiece
vocabulary of the training data's 5,000 most common words instead of BERT's 30,522 tokens, which
changes the embedding table's size, not the cost per token) written with `save_to_preset`: it
measures correctness and cost, not accuracy. For each system it trains
through the command line (`transformer-kit train`), exports, serves the SavedModel in a process
that imports only TensorFlow (and tensorflow-text for the backbone), checks `serving_default`
against `predict_proba`, and measures texts/s in batches of 256, p50 single-text latency and the
SavedModel's size on disk. The last system is a `single` student distilled from the backbone run
(`train --teacher RUN --unlabeled`, the other SMS training texts as unlabeled ones): the way a
slow pretrained model becomes a fast one to serve.

Usage:
    python benchmarks/backbones.py                    # SMS spam (bundled), 1,000 training rows
    python benchmarks/backbones.py --rows 300 --epochs 1
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

SERVE = r"""
import json, sys, time
import numpy as np
import tensorflow as tf
version_dir, texts_file, requires = sys.argv[1], sys.argv[2], sys.argv[3:]
for module in requires:
    __import__(module)
texts = json.load(open(texts_file))
serve = tf.saved_model.load(version_dir).signatures["serving_default"]
probabilities = np.concatenate([serve(text=tf.constant(texts[i:i + 256]))["probabilities"].numpy()
                                for i in range(0, len(texts), 256)])
serve(text=tf.constant(texts[:256]))
start = time.perf_counter()
for i in range(0, len(texts), 256):
    serve(text=tf.constant(texts[i:i + 256]))
throughput = len(texts) / (time.perf_counter() - start)
for text in texts[:10]:
    serve(text=tf.constant([text]))
samples = []
for text in texts[:200]:
    start = time.perf_counter()
    serve(text=tf.constant([text]))
    samples.append((time.perf_counter() - start) * 1000)
assert "transformer_kit" not in sys.modules and "keras_hub" not in sys.modules
np.save(sys.argv[2] + ".npy", probabilities)
print(json.dumps({"texts_per_s": throughput, "p50_ms": float(np.percentile(samples, 50))}))
"""


def write_preset(directory, texts):
    """A BERT-tiny-size preset (random weights) whose WordPiece vocabulary covers `texts`' words."""
    import collections
    import re
    import string

    import keras
    import keras_hub

    counts = collections.Counter(w for text in texts for w in re.findall(r"[a-z0-9]+|[^\sa-z0-9]", text.lower()))
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    extra = [*(w for w, _ in counts.most_common(5000)), *string.ascii_lowercase, *string.digits,
             *string.punctuation, *("##" + c for c in string.ascii_lowercase + string.digits)]
    vocabulary += list(dict.fromkeys(t for t in extra if t not in vocabulary))
    keras.utils.set_random_seed(0)
    keras_hub.models.BertBackbone(vocabulary_size=len(vocabulary), num_layers=2, num_heads=2, hidden_dim=128,
                                  intermediate_dim=512, max_sequence_length=512).save_to_preset(str(directory))
    keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True).save_to_preset(str(directory))


def size_mb(directory):
    return sum(p.stat().st_size for p in Path(directory).rglob("*") if p.is_file()) / 2**20


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode:
        raise SystemExit(f"{' '.join(map(str, command))} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000, help="training rows of SMS spam (default 1000)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    import pandas as pd

    work = Path(tempfile.mkdtemp(prefix="backbones_"))
    shuffled = pd.read_csv(ROOT / "data" / "sms_spam_train.csv").sample(frac=1.0, random_state=0)
    train = shuffled.head(args.rows)
    train.to_csv(work / "train.csv", index=False)
    shuffled.iloc[args.rows:][["text"]].to_csv(work / "unlabeled.csv", index=False)  # the student's, labels dropped
    test_texts = pd.read_csv(ROOT / "data" / "sms_spam_test.csv").text.fillna("").tolist()
    (work / "texts.json").write_text(json.dumps(test_texts))
    write_preset(work / "preset", train.text.tolist())
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    # name: (folder name of its run and export, train options)
    systems = {
        "default": ("default", []),
        "single": ("single", ["--preset", "single"]),
        "backbone (BERT-tiny size, single)": ("backbone", ["--preset", "single", "--backbone", str(work / "preset"),
                                                           "--learning-rate", "0.001"]),
        "single, distilled from the backbone": ("student", ["--preset", "single", "--teacher",
                                                            str(work / "run_backbone"),
                                                            "--unlabeled", str(work / "unlabeled.csv")]),
    }
    rows = []
    for name, (folder, options) in systems.items():
        run_dir, export_dir = work / f"run_{folder}", work / f"export_{folder}"
        start = time.perf_counter()
        run([sys.executable, "-m", "transformer_kit", "train", str(work / "train.csv"), "--output", str(run_dir),
             "--epochs", str(args.epochs), "--quiet", *options], env=env)
        train_s = time.perf_counter() - start
        run([sys.executable, "-m", "transformer_kit", "export", str(run_dir), str(export_dir), "--quiet"], env=env)
        version_dir = export_dir / "1"
        requires = json.loads((version_dir / "assets.extra" / "transformer_kit.json").read_text()).get(
            "load_requires", [])
        (work / "serve.py").write_text(SERVE)
        served = json.loads(run([sys.executable, str(work / "serve.py"), str(version_dir), str(work / "texts.json"),
                                 *requires], env=env).strip().splitlines()[-1])
        from transformer_kit import TextClassifier

        expected = TextClassifier.load(run_dir, verbose=0).predict_proba(test_texts).to_numpy()
        import numpy as np

        gap = float(np.abs(np.load(str(work / "texts.json") + ".npy") - expected).max())
        rows.append({"system": name, "train_s": round(train_s, 1), "texts_per_s": round(served["texts_per_s"]),
                     "p50_ms": round(served["p50_ms"], 2), "savedmodel_mb": round(size_mb(version_dir), 2),
                     "max_gap_vs_predict_proba": gap, "load_requires": requires})
        print(json.dumps(rows[-1]), flush=True)
    print("\n| System | train s | texts/s (batches of 256) | p50 single text (ms) | SavedModel MB | max gap |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['system']} | {row['train_s']} | {row['texts_per_s']:,} | {row['p50_ms']} | "
              f"{row['savedmodel_mb']} | {row['max_gap_vs_predict_proba']:.1e} |")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
