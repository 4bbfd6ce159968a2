"""`transformer-kit vectors`: learn word vectors from unlabeled texts."""

from transformer_kit.cli.options import _field_default, _positive_int
from transformer_kit.config import SPLIT_MODES


def add_parser(add_command):
    """Add the `vectors` command (`add_command` as in `build_parser`)."""
    vectors = add_command(
        "vectors",
        run_vectors,
        help="Learn word vectors from unlabeled texts (for train --word-vectors).",
        description=(
            "Learn subword-aware skip-gram word vectors (fastText, through gensim) from unlabeled CORPUS "
            "files, tokenized exactly as the classifier tokenizes: CSV/TSV (--text-column), JSON Lines "
            "(--text-column field), plain text with one document per line, or folders of them (where a "
            ".txt file is one document), each optionally .gz. Writes OUT_DIR/vectors.vec, fasttext.bin and "
            "manifest.json. An interrupted run resumes when started again. Needs gensim: "
            'pip install "transformer_kit[vectors]".'
        ),
        epilog="example:\n  transformer-kit vectors reviews.csv --output vectors/reviews --time-budget 300\n"
        "  transformer-kit train data/sst2_train.csv --word-vectors vectors/reviews",
    )
    vectors.add_argument("corpus", nargs="+", metavar="CORPUS", help="Files or folders of unlabeled texts.")
    vectors.add_argument("--output", required=True, metavar="DIR", help="Directory to write.")
    vectors.add_argument("--text-column", default="text", metavar="NAME",
                         help="Column (CSV/TSV) or field (JSON Lines) holding the texts. Default: %(default)s.")
    vectors.add_argument("--split", choices=list(SPLIT_MODES), default="auto",
                         help="Tokens, as train's --split. Default: %(default)s.")
    vectors.add_argument("--dim", type=int, default=_field_default("embed_dim"), metavar="N",
                         help="Vector width; the classifier's --embed-dim. Default: %(default)s.")
    vectors.add_argument("--epochs", type=int, default=5, metavar="N", help="Passes over the corpus. Default: 5.")
    vectors.add_argument("--min-count", type=int, default=3, metavar="N",
                         help="Ignore words seen fewer times. Default: 3.")
    vectors.add_argument("--buckets", type=int, default=200_000, metavar="N",
                         help="Hash buckets for character n-grams (fastText's own default is 2,000,000: a 512 MB "
                              "fasttext.bin at dim 64). Default: %(default)s.")
    vectors.add_argument("--time-budget", type=float, metavar="SECONDS",
                         help="Stop after the epoch that passes this time and write what was learned. Default: none.")
    vectors.add_argument("--seed", type=int, default=0, metavar="N",
                         help="Random seed of the initial vectors and the sampling. Default: %(default)s.")
    vectors.add_argument("--workers", type=_positive_int, metavar="N",
                         help="Training threads. 1 makes the vectors repeatable bit for bit (the same corpus, "
                              "settings and seed give the same file), taking about 1.5 times as long on 2 cores; more "
                              "threads update the vectors in a timing-dependent order. Default: every core.")
    vectors.add_argument("--overwrite", action="store_true", help="Replace an existing DIR.")


def run_vectors(args):
    from transformer_kit.vector_training import train_word_vectors

    path = train_word_vectors(
        args.corpus, args.output, text_column=args.text_column, split=args.split, dim=args.dim, epochs=args.epochs,
        min_count=args.min_count, buckets=args.buckets, time_budget_s=args.time_budget, seed=args.seed,
        workers=args.workers, overwrite=args.overwrite,
    )
    print(f"Wrote word vectors to {path}; use them with: transformer-kit train DATA --word-vectors {path}")
    return 0
