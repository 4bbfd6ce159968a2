"""`choose_sequence_length`: how many tokens of each text the transformers read.

`choose_sequence_length` is the one statement of the rule; other docs refer
here. It is used when the `sequence_length` setting is `None` (the default);
a length set explicitly is used as given. From the untruncated token counts
of the training texts:

1. take their `percentile`-th percentile (95th; NumPy's linear
   interpolation), rounded up to a whole number of tokens and then up to a
   multiple of `multiple_of` (8);
2. cap it at `maximum` (512): attention cost grows with the square of
   the length, so long outliers are truncated instead;
3. for a large corpus, also cap it at the epoch budget,
   `tokens_per_epoch // num_texts` (3,000,000 tokens per epoch) rounded
   down to a multiple of `multiple_of`, but never cap it below 128 this
   way. Training cost grows with texts x length: 25,000 IMDB reviews
   train on their first 128 tokens instead of 512, about 4x faster,
   while the default blend's n-gram model still reads every word;
4. raise it to at least `minimum` (16). With no texts, the result is
   `minimum`.
"""

import math

import numpy as np

# Step 3 of the rule: the automatic length keeps an epoch within
# about this many tokens, but never goes below _MIN_BUDGET_LENGTH for it.
EPOCH_TOKEN_BUDGET = 3_000_000
_MIN_BUDGET_LENGTH = 128


def choose_sequence_length(token_lengths, percentile=95, multiple_of=8, minimum=16, maximum=512,
                           tokens_per_epoch=EPOCH_TOKEN_BUDGET, num_texts=None):
    """Pick a sequence length that fits most texts without padding for outliers.

    The rule is in the module docstring (the one statement of it).

    Args:
        token_lengths: sequence of int. Token counts of the training texts
            (or of a sample of them), before truncation.
        percentile: float, default 95. Share of texts that should fit whole.
        multiple_of: int, default 8. Round up to a multiple of this, which
            suits accelerators and the dynamic padding in `make_token_dataset`.
        minimum: int, default 16.
        maximum: int, default 512.
        tokens_per_epoch: int or `None`, default 3,000,000. The epoch budget
            of step 3; `None` for no such cap.
        num_texts: int or `None`. Number of training texts, when
            `token_lengths` is only a sample of them (streaming); by default
            `len(token_lengths)`.

    Returns:
        int in `[minimum, maximum]`.

    Example:

    >>> choose_sequence_length([10] * 90 + [100] * 10, percentile=90)  # 19 -> 24
    24
    >>> choose_sequence_length([10] * 90 + [100] * 10)
    104
    >>> choose_sequence_length([400] * 25000)  # budget: 3,000,000 // 25,000 = 120 -> 128
    128
    >>> choose_sequence_length([400] * 1000, num_texts=100_000)  # a sample; never below 128
    128
    >>> choose_sequence_length([900] * 10)
    512
    """
    lengths = np.asarray(list(token_lengths), dtype=np.float64)
    if lengths.size == 0:
        return int(minimum)
    length = math.ceil(np.percentile(lengths, percentile))
    length = math.ceil(length / multiple_of) * multiple_of
    if tokens_per_epoch:
        num_texts = num_texts or lengths.size
        budget = tokens_per_epoch // num_texts // multiple_of * multiple_of
        maximum = min(maximum, max(budget, _MIN_BUDGET_LENGTH))
    return int(min(max(length, minimum), maximum))
