"""`transformer-kit train`: train a classifier on labelled data and save a run directory."""

import dataclasses
import datetime
import logging
import re
import shutil
import sys
import tempfile
from pathlib import Path

from transformer_kit.cli.options import (
    _add_column_arguments,
    _field_default,
    _positive_int,
    _text_column,
    add_setting,
    setting_fields,
)
from transformer_kit.config import ModelConfig, TrainingConfig, make_configs

DEFAULT_TEST_FRACTION = 0.1

log = logging.getLogger(__name__)

TRAIN_EXAMPLES = """\
examples:
  transformer-kit train data/sms_spam_train.csv
  transformer-kit train data/trec_train.csv --test-data data/trec_test.csv --output runs/trec
  transformer-kit train reviews.tsv.gz --text-column review --label-column stars \\
      --class-weight balanced --epochs 5 --seed 1 --output runs/reviews
  transformer-kit train aclImdb/train --test-data aclImdb/test     # folders: one subfolder per class
  transformer-kit train news.jsonl --text-column title --text-column body --label-column topic
  transformer-kit train goemotions_train.csv --label-column labels --multi-label \\
      --validation-data goemotions_dev.csv --output runs/emotions      # labels like "joy|surprise"
  transformer-kit train data/sst2_train.csv --preset small --teacher runs/sst2 \\
      --unlabeled imdb_reviews.csv --output runs/sst2-small           # distill runs/sst2 for fast serving
"""


def add_parser(add_command):
    """Add the `train` command (`add_command` as in `build_parser`)."""
    train = add_command(
        "train",
        run_train,
        help="Train a classifier on a CSV and save a run directory.",
        description=(
            "Train a classifier on DATA (CSV, TSV, JSON Lines, optionally .gz; Parquet; or a folder with one "
            "subfolder per class and one .txt file per text; one or more of them) and save "
            "the model, labels, config, history, metrics, data report and plots in a run "
            f"directory. Without --test-data, a stratified {DEFAULT_TEST_FRACTION:.0%} of DATA is held out "
            "as test set (see --test-fraction). Re-running an interrupted command with the same "
            "--output resumes training where it stopped."
        ),
        epilog=TRAIN_EXAMPLES,
    )
    _add_data_options(train)
    _add_settings(train)
    train.add_argument("--tensorboard", metavar="DIR", help="Write TensorBoard logs to DIR.")


def _add_data_options(train):
    """DATA, its columns, the validation and test data, and the run directory."""
    train.add_argument(
        "data", nargs="+", metavar="DATA", help="Training file(s) (CSV/TSV/JSON Lines/Parquet) or folder(s)."
    )
    _add_column_arguments(train, labels=True)
    train.add_argument(
        "--validation-data",
        metavar="FILE",
        help="Validation file or folder, for early stopping and the n-gram weight. Default: hold out "
        "--validation-fraction of DATA per transformer.",
    )
    train.add_argument("--test-data", metavar="FILE", help="Test file or folder, scored after training.")
    train.add_argument(
        "--test-fraction",
        type=float,
        default=DEFAULT_TEST_FRACTION,
        metavar="F",
        help="Share of DATA held out as test set when --test-data is not given (0 to disable). "
        "Default: %(default)s.",
    )
    train.add_argument(
        "--output", metavar="DIR", help="Run directory to create. Default: runs/<data name>-<date-time>."
    )
    train.add_argument("--overwrite", action="store_true", help="Replace an existing run directory at --output.")


def _add_settings(train):
    """An option for every `ModelConfig`/`TrainingConfig` field declared with `config.setting`.

    In the order of config.py: --preset first (the others' defaults come from
    it), then the "training settings" and "model size" groups, then the
    settings listed with the command's own options (`ungrouped`). The
    command's options about unlabeled texts and a teacher go before the
    settings that need them (`_OPTIONS_BEFORE`).
    """
    preset = next(field for field in dataclasses.fields(TrainingConfig) if field.name == "preset")
    add_setting(train, preset, default=preset.default)  # run_train passes it on its own
    groups = {TrainingConfig: train.add_argument_group("training settings"),
              ModelConfig: train.add_argument_group("model size")}
    ungrouped = []
    for config, group in groups.items():
        for field in dataclasses.fields(config):
            option = field.metadata.get("option", {})  # a field without metadata: add_setting names the fix
            if option is None or field is preset:
                continue  # set from Python only
            if option.get("ungrouped"):
                ungrouped.append(field)
                continue
            if field.name in _OPTIONS_BEFORE:
                _OPTIONS_BEFORE[field.name](group)
            add_setting(group, field)
    for field in ungrouped:
        add_setting(train, field)


def _add_unlabeled_options(group):
    group.add_argument(
        "--unlabeled",
        nargs="+",
        metavar="CORPUS",
        help="Unlabeled texts (files or folders, as for the vectors command). Word vectors are learned "
        "from them first, into OUTPUT-vectors/ beside the run (kept; reused when present), and the "
        "transformers start from them, as with --word-vectors (needs gensim: the 'vectors' extra). The "
        "n-gram model is also self-trained on them (see --self-training).",
    )
    group.add_argument(
        "--vector-workers",
        type=_positive_int,
        metavar="N",
        help="With --unlabeled: threads that learn the word vectors. 1 makes them (and so the run) repeatable "
        "bit for bit, taking about 1.5 times as long on 2 cores; more threads update the vectors in a timing-dependent "
        "order. Default: every core.",
    )


def _add_teacher_option(group):
    group.add_argument(
        "--teacher",
        metavar="RUN_OR_EXPORT",
        help="Distill: a run directory or SavedModel export (base or version directory) whose probabilities "
        "the new model learns, on DATA and on the --unlabeled texts (which the teacher labels; the n-gram model "
        "is then not self-trained). Its classes must be DATA's labels. The data report records the teacher and "
        "the new model's agreement with it on the test texts.",
    )


# The command's own options shown among the settings: added just before the setting named.
_OPTIONS_BEFORE = {"self_training": _add_unlabeled_options, "distill_temperature": _add_teacher_option}


def run_train(args):
    output = Path(args.output) if args.output else _default_output(args.data[0])
    if args.test_data is None and not 0 <= args.test_fraction < 1:
        raise ValueError(f"--test-fraction must be in [0, 1), got {args.test_fraction}.")
    settings = _settings_given(args)
    # Validated here, before any file is read, so a typo costs no waiting.
    _, training_config = make_configs(args.preset, **settings)

    from transformer_kit.classifier import TextClassifier
    from transformer_kit.evaluation import format_metrics
    from transformer_kit.run_directory import refuse_existing

    refuse_existing(output, args.overwrite)
    _check_teacher_and_unlabeled_options(args, settings)
    if args.unlabeled and not (args.teacher and "word_vectors" in settings):  # a teacher may label them alone
        settings["word_vectors"] = str(_vectors_from_unlabeled(args, output, settings))
    quiet = getattr(args, "verbosity", None) == "quiet"
    classifier = TextClassifier(
        preset=args.preset,
        text_column=_text_column(args.text_column) or "text",
        label_column=args.label_column,
        encoding=args.encoding,  # for files streamed in chunks; the others are read below
        label_separator=args.label_separator,
        label_columns=args.label_columns,
        # Progress bars for a terminal; one line per epoch for logs and pipes.
        verbose=0 if quiet else (1 if sys.stdout.isatty() else 2),
        **settings,
    )
    if args.label_columns and not training_config.multi_label:
        raise ValueError("--label-columns gives several labels per text; add --multi-label.")
    if not _fit_and_save(classifier, args, output, training_config):
        log.info("This worker is done; the chief writes the run directory.")
        return 0

    for split_name, metrics in classifier.metrics_.items():
        title = f"{split_name.capitalize()} metrics ({metrics['num_examples']} texts)"
        print("\n" + format_metrics(metrics, title=title))
    print(f"\nSaved the run to {output}")
    return 0


def _check_teacher_and_unlabeled_options(args, settings):
    """Refuse options that need one another before anything slow starts."""
    if args.teacher is None and ({"distill_temperature", "true_label_weight"} & set(settings)):
        raise ValueError("--distill-temperature and --true-label-weight set how a model learns from a teacher; "
                         "pass --teacher RUN_OR_EXPORT too, or drop them.")
    if args.teacher is not None and not Path(args.teacher).exists():
        raise ValueError(f"--teacher {args.teacher} does not exist: pass a run directory (transformer-kit train) "
                         "or a SavedModel export directory (transformer-kit export).")
    if args.vector_workers and not args.unlabeled:
        raise ValueError("--vector-workers sets the threads that learn word vectors from --unlabeled texts; "
                         "pass --unlabeled CORPUS too, or drop --vector-workers.")


def _read_data(args, training_config):
    """`(train, validation, test)`: DATA (its paths when streamed), and the held-out sets.

    Without --test-data, --test-fraction of DATA is held out (stratified;
    at random for label sets), unless DATA is streamed.
    """
    from transformer_kit.data import load_csv_dataset, stratified_split
    from transformer_kit.data.label_sets import as_label_set_dataset
    from transformer_kit.data.loading import TextDataset
    from transformer_kit.data.splitting import random_split
    from transformer_kit.data.streaming import should_stream

    multi_label = training_config.multi_label
    text_column = _text_column(args.text_column) or "text"

    def load(source, purpose):
        log.info("Reading %s (%s)", source if isinstance(source, str) else ", ".join(source), purpose)
        if multi_label:
            return as_label_set_dataset(source, None, text_column, args.label_column, args.label_columns,
                                        args.label_separator, encoding=args.encoding)
        return load_csv_dataset(source, text_column, args.label_column, encoding=args.encoding)

    data = args.data if len(args.data) > 1 else args.data[0]
    streaming = should_stream(data, training_config.streaming) and not multi_label
    if streaming:
        log.info("Streaming %s in chunks (training data, not read into memory)", ", ".join(args.data))
        train = data
    else:
        train = load(data, "training data")
    validation = load(args.validation_data, "validation data, for early stopping") if args.validation_data else None
    test = load(args.test_data, "test data, scored after training") if args.test_data else None
    if test is None and args.test_fraction > 0 and not streaming:
        if multi_label:
            train_index, test_index = random_split(len(train), test_size=args.test_fraction, seed=training_config.seed)
        else:
            train_index, test_index = stratified_split(
                train.labels, test_size=args.test_fraction, seed=training_config.seed
            )
        train, test = _subset(train, train_index, TextDataset), _subset(train, test_index, TextDataset, held_out=True)
        log.info(
            "Holding out %d of %d texts (%s, %s) as test set, to score the model after training",
            len(test.texts), len(train.texts) + len(test.texts), f"{args.test_fraction:.0%}",
            "at random" if multi_label else "stratified",
        )
    return train, validation, test


def _fit_and_save(classifier, args, output, training_config):
    """Fit on the data the options name and save the run; `False` on a multi-worker run's non-chief workers.

    Training is resumable: a hidden backup directory beside `output` holds
    BackupAndRestore's state and the finished transformers until the run is
    saved, and a lock on it refuses a second train on the same --output.
    """
    from transformer_kit.distribution import is_chief, worker_name
    from transformer_kit.run_lock import run_lock

    train, validation, test = _read_data(args, training_config)
    backup_dir = output.parent / f".{output.name}.partial"
    chief = training_config.strategy != "multi-worker" or is_chief()
    if not chief:
        # Other workers of a multi-worker run train in step with the chief but
        # must not write the run directory (nor share the chief's backups).
        backup_dir = output.parent / f".{output.name}.partial-{worker_name()}"
        output = Path(tempfile.mkdtemp(prefix="transformer-kit-worker-")) / output.name
    unlabeled = None
    if args.unlabeled and (training_config.self_trains() or args.teacher):  # else they only gave the vectors
        unlabeled = [Path(path) for path in args.unlabeled]  # paths (a list of str would be texts)
    with run_lock(backup_dir):  # held until the backup is removed
        classifier.fit(
            train, validation=validation, test=test, backup_dir=backup_dir, tensorboard_dir=args.tensorboard,
            unlabeled=unlabeled, teacher=args.teacher,
        )
        log.info("Saving the run to %s, to evaluate, predict with or export it later", output)
        classifier.save(output, overwrite=args.overwrite)
        shutil.rmtree(backup_dir, ignore_errors=True)
    if not chief:
        shutil.rmtree(output.parent, ignore_errors=True)
    return chief


def _settings_given(args):
    """The `ModelConfig`/`TrainingConfig` fields set on the command line, by name.

    Settings left out come from the preset and the dataclasses' defaults.
    """
    # --preset is passed on its own; --streaming is a flag.
    names = {field.name for field in setting_fields()} - {"preset", "streaming"}
    settings = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    if settings.get("class_weight") == "none":
        settings["class_weight"] = None
    if args.streaming:
        settings["streaming"] = True
    return settings


def _vectors_from_unlabeled(args, output, settings):
    """`train --unlabeled`: learn word vectors beside the run (kept, and reused if already there)."""
    from transformer_kit.vector_training import train_word_vectors

    if "word_vectors" in settings:
        raise ValueError("Pass either --unlabeled (learn word vectors) or --word-vectors (use ones you have).")
    vectors_dir = output.parent / f"{output.name}-vectors"
    if (vectors_dir / "manifest.json").exists():
        log.info("Using the word vectors already learned in %s", vectors_dir)
        return vectors_dir
    log.info("Learning word vectors from the unlabeled texts in %s, into %s", ", ".join(args.unlabeled), vectors_dir)
    return train_word_vectors(
        # With several --text-column, the corpus files' texts are in the first.
        args.unlabeled, vectors_dir, text_column=(args.text_column or ["text"])[0], split=settings.get("split", "auto"),
        dim=settings.get("embed_dim", _field_default("embed_dim")), seed=settings.get("seed", _field_default("seed")),
        workers=args.vector_workers,
    )


def _subset(dataset, indices, dataset_type, held_out=False):
    frame = dataset.frame.iloc[indices].reset_index(drop=True)
    return dataset_type(
        texts=[dataset.texts[i] for i in indices],
        labels=[dataset.labels[i] for i in indices],
        frame=frame,
        source=f"{dataset.source} (held-out test split)" if held_out else dataset.source,
        dropped={} if held_out else dataset.dropped,
        row_numbers=[dataset.row_numbers[i] for i in indices] if dataset.row_numbers else [],
        notes=dataset.notes,
    )


def _default_output(data_path):
    # A glob ("data/part-*.csv") names the run by its literal start: no "*", "?" or "[" in a folder name.
    stem = re.split(r"[*?\[]", Path(data_path).name.split(".")[0])[0].strip("-_ ") or "run"
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{stem}-{stamp}"
