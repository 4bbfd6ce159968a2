"""Which text encoding a file is in: `detect_encoding`, and the hint `decoding_suggestion`.

Without `--encoding`, the first MiB of a CSV/TSV is tried in this order:
UTF-8 (a byte-order mark means UTF-8 or UTF-16), then GB18030, Big5,
Shift-JIS and cp1252, the encodings spreadsheet programs save Chinese,
Traditional Chinese, Japanese and Western European text in. A legacy
encoding that decodes the bytes without error is not yet the right one:
GB18030 decodes most Big5 and Shift-JIS files into rare characters. So each
one that decodes is scored by the share of its non-ASCII characters that are
common in that encoding (GB2312 for GB18030, Big5's frequent-character block,
Shift-JIS's kana and level-1 kanji, Latin letters and typographic
punctuation for cp1252), and the highest score wins, earlier in the order on
a tie. No new dependency: `charset-normalizer` would do the same job with
more languages, but these five cover what users bring, in ~60 lines.
"""

import codecs

ENCODING_TRIAL_ORDER = ("utf-8", "gb18030", "big5", "shift_jis", "cp1252")
# Characters a cp1252 text typically has beside ASCII: letters and typographic punctuation.
_CP1252_COMMON = set("‘’‚“”„–—…•€™°«»¡¿©®§£¥×÷ªº¹²³µ·")


def detect_encoding(sample):
    """The likely text encoding of `sample` (bytes), or `None` when none fits.

    See the module docstring for the trial order and the scoring.

    Args:
        sample: bytes, e.g. the first MiB of a file (it may end in the middle
            of a character).

    Returns:
        A Python codec name: `"utf-8"`, `"utf-8-sig"`, `"utf-16"`,
        `"gb18030"`, `"big5"`, `"shift_jis"` or `"cp1252"`; or `None`.

    Example:

    >>> detect_encoding("自然语言处理很有趣".encode("gb18030"))
    'gb18030'
    >>> detect_encoding("自然語言處理很有趣".encode("big5"))
    'big5'
    >>> detect_encoding("日本語のテキストです".encode("shift_jis"))
    'shift_jis'
    >>> detect_encoding("Crème brûlée, s'il vous plaît".encode("cp1252"))
    'cp1252'
    >>> detect_encoding("plain ASCII is UTF-8".encode())
    'utf-8'
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    best, best_score = None, -1.0
    for name in ENCODING_TRIAL_ORDER:
        try:
            text = codecs.getincrementaldecoder(name)("strict").decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        if name == "utf-8":
            return name
        score = _common_share(text, name)
        if score > best_score:
            best, best_score = name, score
    return best


def _common_share(text, encoding):
    """Share of the non-ASCII characters of `text` that are common in `encoding`."""
    unusual = [character for character in text if ord(character) > 127][:20_000]
    if not unusual:
        return 1.0
    return sum(_is_common(character, encoding) for character in unusual) / len(unusual)


def _is_common(character, encoding):
    if encoding == "cp1252":
        return "\u00c0" <= character <= "\u00ff" or character in _CP1252_COMMON
    try:
        encoded = character.encode("gb2312" if encoding == "gb18030" else encoding)
    except UnicodeEncodeError:
        return False
    if encoding == "gb18030":
        return True
    if encoding == "big5":  # symbols and the 5,401 frequent characters
        return encoded[0] <= 0xC6
    # shift_jis: half-width kana, symbols, kana and level-1 kanji
    return len(encoded) == 1 or encoded[0] <= 0x98


def decoding_suggestion(raw):
    """A sentence naming the encoding `raw` bytes are probably in, or `""`."""
    encoding = detect_encoding(raw)
    if encoding in (None, "utf-8"):
        return ""
    name = _ENCODING_NAMES.get(encoding, encoding)
    return f"It looks like {name}: pass --encoding {encoding} (encoding={encoding!r})."


_ENCODING_NAMES = {
    "gb18030": "GB18030/GBK (Chinese, as Excel saves it)",
    "big5": "Big5 (Traditional Chinese)",
    "shift_jis": "Shift-JIS (Japanese)",
    "cp1252": "cp1252 (Windows Western European)",
    "utf-16": "UTF-16",
    "utf-8-sig": "UTF-8 with a byte-order mark",
}
