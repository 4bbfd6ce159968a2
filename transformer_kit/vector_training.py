"""Learn word vectors from the user's unlabeled texts: fastText skip-gram, through gensim.

`train_word_vectors` tokenizes the corpus exactly as the classifier does
(the same standardization: lowercase, punctuation split off, CJK characters
as tokens), then trains gensim's `FastText` skip-gram with character n-gram
subwords, epoch by epoch, with progress, tokens/s, a time budget and resume.
gensim is an optional dependency: `pip install "transformer_kit[vectors]"`.

Output directory (read by `transformer_kit.vectors.load_word_vectors`, so it
can be passed to `--word-vectors`):

    vectors.vec     word2vec text format: every word seen `min_count` times
    fasttext.bin    the model in Facebook's binary format (subword vectors for unseen words)
    manifest.json   settings, corpus, token count, time, versions (written last)

On CJK text the tokens are single characters, so subwords add nothing there:
the vectors are per character.
"""

import json
import logging
import shutil
import time
from pathlib import Path

import tensorflow as tf

from transformer_kit.config import dumps
from transformer_kit.cores import available_cores
from transformer_kit.data.corpus import iter_corpus_texts
from transformer_kit.data.text_vectorization import STANDARDIZERS, detect_split_mode
from transformer_kit.errors import TransformerKitError
from transformer_kit.run_directory import atomic_directory, refuse_existing

log = logging.getLogger(__name__)

INITIAL_ALPHA, MIN_ALPHA = 0.025, 1e-4  # gensim's defaults, decayed linearly over all epochs
TOKENIZE_BATCH = 1024


def train_word_vectors(corpus, output_dir, text_column="text", split="auto", dim=64, epochs=5, min_count=3,
                       window=5, buckets=200_000, time_budget_s=None, seed=0, workers=None, overwrite=False):
    """Learn subword-aware skip-gram vectors from unlabeled texts.

    Args:
        corpus: file(s) or folder(s), see `transformer_kit.data.corpus`.
        output_dir: directory to write (atomically).
        text_column: column/field of CSV, TSV and JSON Lines files.
        split: `"auto"`, `"word"` or `"character"`, as the classifier's.
        dim: int, vector width (use the classifier's `embed_dim`, 64).
        epochs: int, passes over the corpus.
        min_count: int, ignore words seen fewer times.
        window: int, context words on each side.
        buckets: int, hash buckets for character n-grams. fastText's default,
            2 million, makes `fasttext.bin` 512 MB at dim 64; 200,000 makes it
            ~55 MB, and n-grams share buckets a little more often.
        time_budget_s: float or `None`: after the epoch that passes it,
            stop and write the vectors learned so far.
        seed: int, for the initial vectors and the sampling.
        workers: int or `None` (default: every core this process may use).
            Training threads. Only `workers=1` makes runs repeatable bit for
            bit: gensim's threads update the shared vectors in whatever
            order they get to them. On 2 cores, 1 thread takes about 1.5
            times as long as 2 (165k against 245k tokens/s on IMDB reviews).
        overwrite: replace an existing `output_dir`.

    Returns:
        `pathlib.Path` of `output_dir`.

    An interrupted run resumes when started again with the same arguments:
    the tokenized corpus and the model after each epoch are kept in
    `.<output name>.partial` beside `output_dir`.
    """
    fasttext = _gensim_fasttext()
    workers = available_cores() if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"`workers` must be a positive int or None; got workers={workers!r}.")
    output_dir = Path(output_dir)
    refuse_existing(output_dir, overwrite, kind="vectors directory")
    partial = output_dir.parent / f".{output_dir.name}.partial"
    settings = {"corpus": [str(p) for p in ([corpus] if isinstance(corpus, (str, Path)) else corpus)],
                "text_column": text_column, "split": split, "dim": dim, "epochs": epochs,
                "min_count": min_count, "window": window, "buckets": buckets, "seed": seed}
    state = _resume_state(partial, settings)
    start = time.monotonic()
    corpus_file = partial / "corpus.txt"
    if not state.get("tokens"):
        state.update(_tokenize(corpus, text_column, split, corpus_file))
        _save_state(partial, state)
    checkpoint = partial / "checkpoint.bin"
    if state.get("epochs_done"):
        log.info("Resuming after epoch %d of %d (%s).", state["epochs_done"], epochs, checkpoint)
        model = fasttext.load_facebook_model(str(checkpoint))
        model.workers = workers  # not saved in the checkpoint
    else:
        model = fasttext.FastText(vector_size=dim, window=window, min_count=min_count, sg=1, min_n=3, max_n=6,
                                  bucket=buckets, workers=workers, seed=seed)
        model.build_vocab(corpus_file=str(corpus_file))
        state["epochs_done"] = 0
    log.info("Vocabulary: %d words seen at least %d times, %d tokens.", len(model.wv), min_count, state["tokens"])

    for epoch in range(state["epochs_done"], epochs):
        began = time.monotonic()
        model.train(corpus_file=str(corpus_file), total_words=model.corpus_total_words, epochs=1,
                    start_alpha=_alpha(epoch, epochs), end_alpha=_alpha(epoch + 1, epochs))
        seconds = time.monotonic() - began
        state["epochs_done"] = epoch + 1
        state["train_s"] = state.get("train_s", 0.0) + seconds
        # A resumed run is repeatable only if every epoch, before and after the interruption, had one thread.
        state["most_workers"] = max(state.get("most_workers", 0), workers)
        fasttext.save_facebook_model(model, str(checkpoint))
        _save_state(partial, state)
        log.info("Epoch %d/%d: %.0f s, %s tokens/s.", epoch + 1, epochs, seconds, f"{state['tokens'] / seconds:,.0f}")
        if time_budget_s is not None and time.monotonic() - start > time_budget_s and epoch + 1 < epochs:
            log.warning("Time budget of %.0f s reached: stopping after epoch %d of %d.", time_budget_s, epoch + 1,
                        epochs)
            break

    with atomic_directory(output_dir, overwrite=overwrite, kind="vectors directory") as staging:
        model.wv.save_word2vec_format(str(staging / "vectors.vec"))
        fasttext.save_facebook_model(model, str(staging / "fasttext.bin"))
        (staging / "manifest.json").write_text(dumps({
            "kind": "transformer_kit word vectors", "settings": settings, "split_mode": state["split_mode"],
            "documents": state["documents"], "tokens": state["tokens"], "words": len(model.wv),
            "epochs_done": state["epochs_done"], "train_s": round(state["train_s"], 1),
            # Kept out of `settings` (which a resume must match): threads change speed, not what is learned,
            # except that more than one makes the result vary from run to run.
            "workers": workers, "repeatable": state.get("most_workers", workers) == 1,
        }))
    shutil.rmtree(partial, ignore_errors=True)
    log.info("Wrote %d word vectors to %s.", len(model.wv), output_dir)
    return output_dir


def _tokenize(corpus, text_column, split, corpus_file):
    """Write the corpus as the classifier tokenizes it, one document per line."""
    texts = iter_corpus_texts(corpus, text_column)
    first = [text for _, text in zip(range(2000), texts)]
    split_mode = detect_split_mode(first) if split == "auto" else split
    standardize = STANDARDIZERS[split_mode]
    documents = tokens = 0
    began = time.monotonic()
    with open(corpus_file, "w", encoding="utf-8") as out:
        batch = first
        for text in texts:
            batch.append(text)
            if len(batch) >= TOKENIZE_BATCH:
                documents, tokens = _write_batch(out, standardize, batch, documents, tokens)
                batch = []
        documents, tokens = _write_batch(out, standardize, batch, documents, tokens)
    if not tokens:
        raise TransformerKitError(f"The corpus {corpus} holds no text.")
    log.info("Tokenized %d documents (%s tokens, %s mode) in %.0f s.", documents, f"{tokens:,}", split_mode,
             time.monotonic() - began)
    return {"split_mode": split_mode, "documents": documents, "tokens": tokens}


def _write_batch(out, standardize, batch, documents, tokens):
    for line in standardize(tf.constant(batch)).numpy() if batch else []:
        line = line.decode("utf-8")
        if line:
            out.write(line + "\n")
            documents, tokens = documents + 1, tokens + line.count(" ") + 1
    return documents, tokens


def _alpha(epoch, epochs):
    return max(INITIAL_ALPHA * (1 - epoch / epochs), MIN_ALPHA)


def _resume_state(partial, settings):
    path = partial / "state.json"
    if path.exists():
        state = json.loads(path.read_text())
        if state.get("settings") == settings:
            return state
        log.warning("%s holds an interrupted run with other settings; starting over.", partial)
        shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=True)
    return {"settings": settings}


def _save_state(partial, state):
    (partial / "state.json").write_text(json.dumps(state))


def _gensim_fasttext():
    try:
        from gensim.models import fasttext
    except ImportError:
        raise TransformerKitError(
            "Learning word vectors needs gensim: pip install \"transformer_kit[vectors]\" (or pip install gensim)."
        ) from None
    return fasttext
