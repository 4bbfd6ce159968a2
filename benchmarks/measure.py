"""Measuring one (dataset, system) pair, each in its own fresh child process.

A child process per pair keeps peak resident memory per system (``ru_maxrss`` of the child
only), keeps TensorFlow out of the non-TF systems' numbers, and lets a per-system time budget
end a run that takes too long.
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
import time
import traceback
from collections.abc import Callable, Sequence

import numpy as np

INFERENCE_BATCH_SIZE = 256
LATENCY_CALLS = 200
LATENCY_WARMUP_CALLS = 10
# Throughput is timed over at least this many texts (a test set repeated): one pass over
# TREC's 500 questions is two batches, too short to time.
THROUGHPUT_TEXTS = 4096


class WallTimer:
    """Context manager measuring wall-clock seconds: ``with WallTimer() as t: ...; t.seconds``."""

    def __enter__(self):
        self._start = time.perf_counter()
        self.seconds = None
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._start
        return False


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def current_rss_mb() -> float | None:
    """Resident set size right now, in MiB, from /proc (None where that is unavailable)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize() / (1024 * 1024)
    except OSError:
        return None


def batch_throughput(fn: Callable[[Sequence[str]], object], texts: Sequence[str],
                     batch_size: int = INFERENCE_BATCH_SIZE) -> float:
    """Texts per second of ``fn`` over ``texts`` in batches; one untimed warm-up batch first."""
    fn(texts[:batch_size])
    with WallTimer() as timer:
        for start in range(0, len(texts), batch_size):
            fn(texts[start:start + batch_size])
    return len(texts) / timer.seconds


def repeated_to(texts: Sequence[str], count: int = THROUGHPUT_TEXTS) -> list[str]:
    """``texts`` repeated (and cut) to at least ``count`` texts, all of them kept."""
    texts = list(texts)
    return (texts * (count // len(texts) + 1))[:max(count, len(texts))]


def speed_in_turns(functions: dict[str, Callable[[Sequence[str]], object]], texts: Sequence[str],
                   rounds: int = 3) -> dict[str, dict[str, float]]:
    """Best texts/s (batches, over ``repeated_to(texts)``) and best single-text p50 of each function.

    Measured in turns, ``rounds`` times: on a shared machine a burst of load from other jobs
    then hits every function alike, and the best of the rounds is the least disturbed.
    """
    repeated = repeated_to(texts)
    best = {name: {"texts_per_s": 0.0, "latency_p50_ms": float("inf")} for name in functions}
    for _ in range(rounds):
        for name, fn in functions.items():
            best[name]["texts_per_s"] = max(best[name]["texts_per_s"], batch_throughput(fn, repeated))
            best[name]["latency_p50_ms"] = min(best[name]["latency_p50_ms"], single_text_latency_ms(fn, texts)[0])
    return best


def single_text_latency_ms(fn: Callable[[Sequence[str]], object], texts: Sequence[str],
                           calls: int = LATENCY_CALLS) -> tuple[float, float]:
    """p50 and p99 milliseconds of ``fn([text])`` over ``calls`` texts, after a short warm-up."""
    for i in range(LATENCY_WARMUP_CALLS):
        fn([texts[i % len(texts)]])
    samples = []
    for i in range(calls):
        text = texts[i % len(texts)]
        start = time.perf_counter()
        fn([text])
        samples.append((time.perf_counter() - start) * 1000.0)
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 99))


def evaluate_predictions(true_labels: Sequence[str], predicted: Sequence[str]) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": float(accuracy_score(true_labels, predicted)),
        "macro_f1": float(f1_score(true_labels, predicted, average="macro")),
    }


def measure_system(task: dict) -> dict:
    """Loads the data, trains and measures one system. Runs inside the child process.

    ``task`` holds plain data: dataset, system, data_root, seed, max_train, max_test and
    system_options. Returns a flat, JSON-ready dict.
    """
    from benchmarks.datasets import load_dataset
    from benchmarks.systems import load_system_class

    result = {"dataset": task["dataset"], "system": task["system"]}
    data = load_dataset(task["dataset"], task["data_root"], seed=task["seed"],
                        max_train=task["max_train"], max_test=task["max_test"])
    result.update(n_train=len(data.train_texts), n_test=len(data.test_texts),
                  n_classes=len(data.classes), language=data.spec.language)
    try:
        system_class = load_system_class(task["system"])
        system = system_class(language=data.spec.language, seed=task["seed"],
                              **task.get("system_options", {}))
    except Exception as error:  # noqa: BLE001 - any import/construct failure means "skip"
        result.update(status="not available", reason=f"{type(error).__name__}: {error}")
        return result
    result["display_name"] = system.display_name
    result["rss_before_fit_mb"] = current_rss_mb()

    with WallTimer() as timer:
        system.fit(data.train_texts, data.train_labels)
    result["train_s"] = timer.seconds
    result["epochs"] = system.epochs
    passes = system.epochs if system.epochs else 1
    result["train_samples_per_s"] = passes * len(data.train_texts) / timer.seconds

    # In batches: one call over the whole test split would make the Keras systems' peak
    # memory the size of that one giant batch (attention scores for 7,600 × 200² on AG News).
    predicted = []
    for start in range(0, len(data.test_texts), INFERENCE_BATCH_SIZE):
        predicted += system.predict(data.test_texts[start:start + INFERENCE_BATCH_SIZE])
    result.update(evaluate_predictions(data.test_labels, predicted))

    serve = system.inference_fn()
    result["infer_texts_per_s"] = batch_throughput(serve, data.test_texts)
    p50, p99 = single_text_latency_ms(serve, data.test_texts)
    result.update(latency_p50_ms=p50, latency_p99_ms=p99)
    result["settings"] = system.describe()
    result["peak_rss_mb"] = peak_rss_mb()
    result["status"] = "ok"
    return result


def _child_main(task: dict, connection) -> None:
    try:
        result = measure_system(task)
    except BaseException as error:  # noqa: BLE001 - report, never hang the parent
        result = {"dataset": task["dataset"], "system": task["system"], "status": "failed",
                  "reason": f"{type(error).__name__}: {error}",
                  "traceback": traceback.format_exc()}
    connection.send(result)
    connection.close()


def run_in_child(task: dict, time_budget_s: float | None = None) -> dict:
    """Runs ``measure_system(task)`` in a fresh "spawn" process; ends it after ``time_budget_s``."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child_main, args=(task, sender), daemon=True)
    started = time.perf_counter()
    process.start()
    sender.close()
    result = None
    if receiver.poll(time_budget_s):
        try:
            result = receiver.recv()
        except EOFError:
            result = None
    elapsed = time.perf_counter() - started
    if result is None:
        if process.is_alive():
            process.terminate()
            process.join(10)
            if process.is_alive():
                process.kill()
            result = {"status": "timed out",
                      "reason": f"exceeded the time budget of {time_budget_s:.0f} s"}
        else:
            process.join()
            result = {"status": "failed",
                      "reason": f"child process exited with code {process.exitcode}"}
        result.update(dataset=task["dataset"], system=task["system"])
    process.join(30)
    result["wall_s"] = elapsed
    return result
