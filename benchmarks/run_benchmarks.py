"""Train and measure several text classifiers side by side on the same splits.

Each (dataset, system) pair runs in its own child process; results are printed as they
arrive and written to a JSON file and a markdown report.

Example (all four baselines on three small datasets):

    python benchmarks/run_benchmarks.py --datasets sms_spam trec sst2 \\
        --systems tfidf_lr fasttext keras_io kerashub \\
        --output benchmarks/results.json --markdown benchmarks/RESULTS.md

Quick smoke run: add ``--max-train 500 --max-test 200``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
from importlib import metadata
from pathlib import Path

# Run as a script, Python puts benchmarks/ first on sys.path, where datasets.py would shadow
# any installed `datasets` package. Import through the repo root instead.
_REPO_ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(_REPO_ROOT)
elif str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

from benchmarks.datasets import DATA_ROOT_ENV, DATASETS, default_data_root  # noqa: E402
from benchmarks.measure import run_in_child  # noqa: E402
from benchmarks.systems import REFERENCE_SYSTEM, SYSTEMS  # noqa: E402

DEFAULT_SYSTEMS = ["tfidf_lr", "fasttext", "keras_io", "kerashub"]

COLUMNS = [
    ("system", "System"), ("accuracy", "Accuracy"), ("macro_f1", "Macro-F1"),
    ("train_s", "Train s"), ("train_samples_per_s", "Train samples/s"),
    ("ratio", f"Train speed vs {REFERENCE_SYSTEM}"), ("ratio_kerashub", "vs kerashub"),
    ("infer_texts_per_s", "Infer texts/s"),
    ("latency_p50_ms", "p50 ms"), ("latency_p99_ms", "p99 ms"), ("peak_rss_mb", "Peak RSS MB"),
]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=["sms_spam", "trec", "sst2"],
                        choices=sorted(DATASETS), metavar="NAME",
                        help=f"Datasets to run, from: {', '.join(DATASETS)}.")
    parser.add_argument("--systems", nargs="+", default=DEFAULT_SYSTEMS,
                        choices=list(SYSTEMS), metavar="NAME",
                        help=f"Systems to run, from: {', '.join(SYSTEMS)}.")
    parser.add_argument("--data-root", default=None,
                        help=f"Folder holding en/ and zh/. Default: ${DATA_ROOT_ENV} if set, "
                             f"else ../shared/data next to the repository "
                             f"(here {default_data_root()}).")
    parser.add_argument("--max-train", type=int, default=None,
                        help="Use at most N training texts (after the seeded shuffle).")
    parser.add_argument("--max-test", type=int, default=None,
                        help="Use at most N test texts (after the seeded shuffle).")
    parser.add_argument("--seed", type=int, default=0, help="Shuffle and model seed.")
    parser.add_argument("--time-budget-s", type=float, default=1800.0,
                        help="End a (dataset, system) run after this many seconds and record "
                             "it as timed out. Default 1800.")
    parser.add_argument("--system-options", type=json.loads, default={},
                        help='JSON of constructor arguments per system, e.g. '
                             '\'{"kerashub": {"embed_dim": 32, "epochs": 2}}\'.')
    parser.add_argument("--output", default="benchmarks/results.json",
                        help="JSON file for all results (rewritten after every run).")
    parser.add_argument("--markdown", default="benchmarks/RESULTS.md",
                        help="Markdown report (rewritten after every run).")
    return parser.parse_args(argv)


def describe_machine() -> dict:
    cpu_model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory_gb = None
    try:
        with open("/proc/meminfo") as f:
            memory_gb = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None

    def version(package):
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    return {
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "usable_cores": usable,
        "memory_gb": memory_gb,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": {name: version(name) for name in [
            "tensorflow", "keras", "keras-hub", "scikit-learn", "numpy", "pandas",
            "fasttext-wheel", "fasttext"] if version(name)},
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        # Other jobs on a shared machine slow every system; this says how busy it was.
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def add_ratios(results: list[dict]) -> None:
    """Training samples/s relative to keras.io's (``ratio``) and KerasHub's on the same dataset."""
    for key, system in (("ratio", REFERENCE_SYSTEM), ("ratio_kerashub", "kerashub")):
        reference = {r["dataset"]: r.get("train_samples_per_s") for r in results
                     if r["system"] == system and r.get("status") == "ok"}
        for r in results:
            ref = reference.get(r["dataset"])
            if r.get("status") == "ok" and ref:
                r[key] = r["train_samples_per_s"] / ref
            else:
                r.pop(key, None)


def format_cell(key: str, row: dict) -> str:
    value = row.get(key)
    if key == "system":
        return row.get("display_name") or row["system"]
    if value is None:
        return "n/a"
    if key in ("accuracy", "macro_f1"):
        return f"{value:.3f}"
    if key in ("ratio", "ratio_kerashub"):
        return f"{value:.2f}×"
    if key in ("latency_p50_ms", "latency_p99_ms"):
        return f"{value:.2f}"
    if key == "train_s":
        return f"{value:.1f}"
    return f"{value:,.0f}"


def row_cells(row: dict) -> list[str]:
    if row.get("status") != "ok":
        first = format_cell("system", row)
        note = f"{row.get('status', 'failed')}: {row.get('reason', '')}".replace("|", "/")
        return [first, note] + [""] * (len(COLUMNS) - 2)
    return [format_cell(key, row) for key, _ in COLUMNS]


def markdown_report(results: list[dict], machine: dict, command: str, args) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Generated by `benchmarks/run_benchmarks.py`; see `benchmarks/README.md` for what is "
        "measured and how. Compare **ratios** across machines, not absolute times: the machine "
        "was shared and timings move by 10–30% between runs.",
        "",
        "Command:",
        "",
        "```",
        command,
        "```",
        "",
        "## Machine",
        "",
        f"- CPU: {machine['cpu_model']}, {machine['cpu_count']} logical cores "
        f"({machine['usable_cores']} usable), {machine['memory_gb']} GB RAM",
        f"- {machine['platform']}, Python {machine['python']}",
        "- " + ", ".join(f"{k} {v}" for k, v in machine["packages"].items()),
        f"- Date: {machine['date']}; load average (1, 5, 15 min) at start: "
        f"{', '.join(str(x) for x in machine.get('load_average_at_start', []))}",
        "",
    ]
    for dataset in args.datasets:
        rows = [r for r in results if r["dataset"] == dataset]
        if not rows:
            continue
        ok = next((r for r in rows if "n_train" in r), {})
        spec = DATASETS[dataset]
        lines += [
            f"## {dataset}",
            "",
            f"{spec.description} ({spec.language}); {ok.get('n_train', '?')} training and "
            f"{ok.get('n_test', '?')} test texts, {ok.get('n_classes', '?')} classes.",
            "",
            "| " + " | ".join(title for _, title in COLUMNS) + " |",
            "|" + "|".join("---" for _ in COLUMNS) + "|",
        ]
        lines += ["| " + " | ".join(row_cells(r)) + " |" for r in rows]
        lines.append("")
    lines += [
        "Columns: accuracy and macro-F1 on the test split; train s is the wall time of `fit` "
        "(vocabulary, tokenization and graph tracing included); train samples/s is "
        "epochs × n_train / train s (n_train / train s for TF-IDF + LR); ratios are that "
        f"divided by `{REFERENCE_SYSTEM}`'s and by `kerashub`'s on the same dataset; infer texts/s uses batches of "
        "256 over the test split; p50/p99 are single-text latencies over 200 calls; peak RSS "
        "is the child process's maximum resident memory (imports and data included).",
        "",
    ]
    return "\n".join(lines)


def print_row(row: dict) -> None:
    cells = row_cells(row)
    print(f"{row['dataset']:<13} " + " | ".join(cells), flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    command = "python " + " ".join(shlex.quote(a) for a in [
        os.path.relpath(sys.argv[0], _REPO_ROOT) if argv is None else "benchmarks/run_benchmarks.py",
        *(sys.argv[1:] if argv is None else argv)])
    machine = describe_machine()
    data_root = str(args.data_root) if args.data_root else str(default_data_root())
    results: list[dict] = []
    print("dataset       " + " | ".join(title for _, title in COLUMNS), flush=True)
    for dataset in args.datasets:
        for system in args.systems:
            task = {"dataset": dataset, "system": system, "data_root": data_root,
                    "seed": args.seed, "max_train": args.max_train, "max_test": args.max_test,
                    "system_options": args.system_options.get(system, {})}
            result = run_in_child(task, args.time_budget_s)
            results.append(result)
            add_ratios(results)
            print_row(result)
            if result.get("traceback"):
                print(result["traceback"], file=sys.stderr)
            write_outputs(results, machine, command, args)
    return 0


def write_outputs(results, machine, command, args) -> None:
    payload = {"command": command, "machine": machine,
               "arguments": {k: v for k, v in vars(args).items()}, "results": results}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
    Path(args.markdown).write_text(markdown_report(results, machine, command, args))


if __name__ == "__main__":
    sys.exit(main())
