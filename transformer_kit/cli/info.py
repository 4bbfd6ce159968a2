"""`transformer-kit info`: describe a run directory."""

import json
from pathlib import Path


def add_parser(add_command):
    """Add the `info` command (`add_command` as in `build_parser`)."""
    info = add_command(
        "info",
        run_info,
        help="Describe a run directory.",
        description="Print the classes, configuration, data summary, metrics and versions recorded in RUN_DIR.",
        epilog="example:\n  transformer-kit info runs/spam",
    )
    info.add_argument("run_dir", metavar="RUN_DIR")


def run_info(args):
    import numpy as np

    from transformer_kit.classifier import TextClassifier

    classifier = TextClassifier.load(args.run_dir, verbose=0)
    record = json.loads((Path(args.run_dir) / "config.json").read_text())
    model, training = record["config"]["model"], record["config"]["training"]
    ngram = f"yes, {record.get('ngram_features') or 'tfidf-1-2'}" if record["ngram"] else "no"
    lines = [
        f"Run directory   {args.run_dir}",
        f"Classes         {', '.join(classifier.classes_)}",
        f"Preset          {training['preset']}  (transformers: {record['ensemble_size']}, n-gram model: {ngram})",
        f"Blend weights   {', '.join(f'{w:.3f}' for w in record['blend_weights'])}",
        f"Tokens          {record['split_mode']}, vocabulary {record['vocabulary_size']}, "
        f"sequence length {record['sequence_length']}",
        f"Model           embed_dim {model['embed_dim']}, heads {model['num_heads']}, layers {model['num_layers']}, "
        f"ff_dim {model['ff_dim']}, dropout {model['dropout']} (attention {model.get('attention_dropout')}), "
        f"pooling {model['pooling']}",
        f"Training        epochs <= {training['epochs']}, batch {training['batch_size']}, "
        f"lr {training['learning_rate']}, seed {training['seed']}, class_weight {training['class_weight']}",
        f"Data            {json.dumps(record.get('sources', {}), ensure_ascii=False)}",
        f"Versions        {', '.join(f'{k} {v}' for k, v in record['versions'].items())}",
    ]
    vectors = classifier.data_report_.get("word_vectors")
    if vectors:
        lines.append(f"Word vectors    {vectors['source']} ({vectors['share_of_vocabulary']:.0%} of the vocabulary)")
    if record.get("resumed"):
        lines.append(f"Resumed         {', '.join(f'{k} {v}' for k, v in record['resumed'].items())}")
    if classifier.multi_label:
        thresholds = np.broadcast_to(classifier.thresholds_, len(classifier.classes_))
        shown = ", ".join(f"{name} {t:.2f}" for name, t in zip(classifier.classes_, thresholds))
        lines.insert(2, f"Multi-label     thresholds {shown}")
    for split_name, metrics in classifier.metrics_.items():
        if "exact_match" in metrics:
            lines.append(
                f"{split_name.capitalize():<15} micro F1 {metrics['micro_f1']:.4f}, "
                f"macro F1 {metrics['macro_f1']:.4f}, exact match {metrics['exact_match']:.4f} "
                f"({metrics['num_examples']} texts)"
            )
            continue
        lines.append(
            f"{split_name.capitalize():<15} accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['macro_f1']:.4f}"
            + (f", ROC-AUC {metrics['roc_auc']:.4f}" if metrics.get("roc_auc") is not None else "")
            + f" ({metrics['num_examples']} texts)"
        )
    print("\n".join(lines))
    return 0
