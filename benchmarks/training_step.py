"""Where a training step's time goes: batch size, dropout, attention dropout and XLA.

The numbers behind "Why 3x the KerasHub stack at equal size is out of reach here" in
`RESULTS.md`. Two kinds of rows, each in a fresh child process (XLA and
TensorFlow's caches would otherwise carry over between rows):

- `model`: the library's default classifier (`build_text_classifier`,
  `compile_text_classifier`: AdamW, clipping, the schedule, the metrics), one
  `fit` step on random token ids of a fixed shape;
- `encoder`: one `TransformerEncoder` plus a sigmoid head, forward and backward
  only (no embedding, no optimizer), as a `tf.function`.

For each row: the first call (tracing, graph optimization, XLA compilation) and
the steady state after warm-up, in ms per step and samples/s. Times are wall
clock on a shared machine: compare rows of one run, not runs.

Usage:
    python benchmarks/training_step.py            # about 2 minutes on 2 cores
    python benchmarks/training_step.py --steps 10 --length 64
"""

import argparse
import json
import subprocess
import sys
import time

ROWS = [
    # part, batch, jit, dropout, attention dropout
    ("model", 32, False, 0.1, 0.0),
    ("model", 64, False, 0.1, 0.0),
    ("model", 64, False, 0.1, 0.1),
    ("model", 256, False, 0.1, 0.0),
    ("model", 64, True, 0.1, 0.0),
    ("encoder", 256, False, 0.1, 0.1),
    ("encoder", 256, False, 0.1, 0.0),
    ("encoder", 256, False, 0.0, 0.0),
    ("encoder", 256, True, 0.1, 0.1),
    ("encoder", 256, True, 0.0, 0.0),
]


def measure(part, batch, jit, dropout, attention_dropout, length, steps):
    """One row, in this process: `{"first_s", "ms_per_step"}`."""
    import keras
    import numpy as np
    import tensorflow as tf

    from transformer_kit.layers import TransformerEncoder
    from transformer_kit.models import build_text_classifier, compile_text_classifier

    rng = np.random.default_rng(0)
    # XLA steps can take seconds: fewer of them, still past warm-up.
    steps = max(3, steps // 5) if jit else steps
    if part == "model":
        model = build_text_classifier(
            20000, length, num_classes=2, dropout=dropout, attention_dropout=attention_dropout
        )
        compile_text_classifier(model, steps_per_epoch=1000, epochs=10, jit_compile=jit)
        ids = rng.integers(1, 20000, size=(batch * 4, length)).astype("int32")
        labels = rng.integers(0, 2, size=(batch * 4,)).astype("int32")
        data = tf.data.Dataset.from_tensor_slices((ids, labels)).batch(batch).repeat()
        # Batch-end times from inside one fit: Keras' per-fit overhead (iterator,
        # callbacks) stays out of the per-step time.
        ends = []
        timer = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: ends.append(time.perf_counter()))
        start = time.perf_counter()
        model.fit(data, steps_per_epoch=1 + 3 + steps, epochs=1, verbose=0, callbacks=[timer])
        first = ends[0] - start
        per_step = float(np.median(np.diff(ends[3:])))
    else:
        encoder = TransformerEncoder(4, 128, dropout=dropout, attention_dropout=attention_dropout)
        head = keras.layers.Dense(1, activation="sigmoid")
        x = tf.random.normal((batch, length, 64), seed=0)
        mask = tf.ones((batch, length), bool)
        y = tf.cast(tf.random.uniform((batch, 1), seed=1) > 0.5, tf.float32)
        encoder(x, padding_mask=mask)
        head(tf.reduce_mean(x, 1))
        variables = encoder.trainable_variables + head.trainable_variables

        @tf.function(jit_compile=jit)
        def step(x, mask, y):
            with tf.GradientTape() as tape:
                tape.watch(x)
                pooled = tf.reduce_mean(encoder(x, padding_mask=mask, training=True), 1)
                loss = tf.reduce_mean(keras.losses.binary_crossentropy(y, head(pooled)))
            return loss, tape.gradient(loss, [x] + variables)

        start = time.perf_counter()
        step(x, mask, y)[0].numpy()
        first = time.perf_counter() - start
        for _ in range(3):
            step(x, mask, y)
        start = time.perf_counter()
        times = []
        for _ in range(steps):
            step(x, mask, y)[0].numpy()
            times.append(time.perf_counter() - start)
            start = time.perf_counter()
        per_step = float(np.median(times))
    return {"first_s": first, "ms_per_step": per_step * 1000}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--length", type=int, default=40, help="Tokens per text (SST-2's 95th percentile: 40).")
    parser.add_argument("--steps", type=int, default=30, help="Timed steps per row (XLA rows: a fifth).")
    parser.add_argument("--row", help=argparse.SUPPRESS)  # internal: measure one row, print JSON
    args = parser.parse_args(argv)
    if args.row is not None:
        print(json.dumps(measure(*ROWS[int(args.row)], args.length, args.steps)))
        return
    print(f"Training step, {args.length} tokens per text; each row in a fresh process.\n")
    print("| Part | Batch | XLA | Dropout | Attention dropout | First call s | ms/step | Samples/s |")
    print("|---|---|---|---|---|---|---|---|")
    for index, (part, batch, jit, dropout, attention_dropout) in enumerate(ROWS):
        command = [sys.executable, __file__, "--row", str(index), "--length", str(args.length),
                   "--steps", str(args.steps)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        setting = f"| {part} | {batch} | {'yes' if jit else 'no'} | {dropout} | {attention_dropout} |"
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
            print(f"{setting} failed: {tail[0]} | | |", flush=True)
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        ms_per_step = result["ms_per_step"]
        samples_per_s = batch * 1000 / ms_per_step
        print(f"{setting} {result['first_s']:.2f} | {ms_per_step:.1f} | {samples_per_s:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
