"""Logging of transformer_kit: what the library says, where it goes, and TensorFlow's own logs.

Every library module logs with ``logging.getLogger(__name__)``, a child of
the ``"transformer_kit"`` logger, instead of printing. Who sees the messages:

- **Notebook and script users who never configure logging** see the INFO
  messages, as ``print`` used to show them: importing `transformer_kit`
  puts a handler on the ``"transformer_kit"`` logger (level INFO) that
  writes ``"%(message)s"`` to stdout (warnings and errors to stderr). The
  handler stays silent as soon as the root logger has a handler, or the
  ``"transformer_kit"`` logger has another one: then the user's own
  configuration (``logging.basicConfig``, a notebook's, pytest's ``caplog``)
  receives the records by propagation and nothing is shown twice.
- **Users who configure logging** control everything with standard calls,
  e.g. ``logging.getLogger("transformer_kit").setLevel(logging.WARNING)``.
- **The command line** calls `configure_logging`: ``--quiet`` shows
  warnings only, the default INFO, ``--verbose`` DEBUG. Its messages go to
  stderr, so that stdout holds only results (metrics, predictions as CSV)
  and Keras' progress bars.

TensorFlow writes its C++ logs (CUDA probing, oneDNN notices, graph
rewrites) straight to file descriptor 2, outside Python's logging. The
command line calls `quiet_tensorflow` before TensorFlow is first imported:
``TF_CPP_MIN_LOG_LEVEL=3``, the ``tensorflow`` and ``absl`` Python loggers at
ERROR, and the import itself with descriptor 2 set aside, because
TensorFlow logs its first lines before it reads ``TF_CPP_MIN_LOG_LEVEL``
(they are shown if the import fails). ``--verbose``, or a user's own
``TF_CPP_MIN_LOG_LEVEL=0``, leaves TensorFlow's logs as TensorFlow makes
them. A user's own level of 1 to 3 is honoured for those first lines too:
they are set aside the same way and only the records at or above the level
are written back (TensorFlow 2.21 prints its CUDA-probing INFO lines,
``cudart_stub.cc:31] Could not find cuda drivers``, whatever the level).
"""

import contextlib
import logging
import os
import re
import sys
import tempfile

LOGGER_NAME = "transformer_kit"


class _ConsoleHandler(logging.Handler):
    """INFO and below to one stream, WARNING and above to stderr.

    The streams are looked up at each record (not kept), so a handler made
    before a notebook, pytest or a test redirects `sys.stdout` still writes
    to the current one.

    Args:
        info_stream: `"stdout"` or `"stderr"`, where INFO and DEBUG go.
        only_when_unconfigured: emit only while no other handler would
            receive the record (the library default).
    """

    def __init__(self, info_stream, only_when_unconfigured):
        super().__init__()
        self.info_stream = info_stream
        self.only_when_unconfigured = only_when_unconfigured
        self.setFormatter(_MessageFormatter())

    def emit(self, record):
        if self.only_when_unconfigured and _configured_elsewhere(self):
            return
        stream = sys.stderr if record.levelno >= logging.WARNING else getattr(sys, self.info_stream)
        try:
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # logging must never break the caller
            self.handleError(record)


class _MessageFormatter(logging.Formatter):
    """The message alone; warnings and errors say so."""

    def format(self, record):
        message = super().format(record)
        if record.levelno >= logging.ERROR:
            return f"Error: {message}"
        if record.levelno >= logging.WARNING:
            return f"Warning: {message}"
        return message


def _configured_elsewhere(handler):
    logger = logging.getLogger(LOGGER_NAME)
    return bool(logging.getLogger().handlers) or any(h is not handler for h in logger.handlers)


def _our_handlers(logger):
    return [h for h in logger.handlers if isinstance(h, _ConsoleHandler)]


def install_default_handler():
    """Give the library the default described in the module docstring (idempotent).

    Called when `transformer_kit` is imported. A level the user already set
    on the ``"transformer_kit"`` logger is kept.
    """
    logger = logging.getLogger(LOGGER_NAME)
    if not _our_handlers(logger):
        logger.addHandler(_ConsoleHandler("stdout", only_when_unconfigured=True))
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


def configure_logging(level=logging.INFO):
    """Set up logging for the command line.

    Replaces the library default with one handler that always writes
    transformer_kit's messages to stderr, at `level` and above.

    Args:
        level: `logging.WARNING` (``--quiet``), `logging.INFO` (default) or
            `logging.DEBUG` (``--verbose``); a level name works too.
    """
    logger = logging.getLogger(LOGGER_NAME)
    for handler in _our_handlers(logger):
        logger.removeHandler(handler)
    logger.addHandler(_ConsoleHandler("stderr", only_when_unconfigured=False))
    logger.setLevel(level)


def quiet_tensorflow():
    """Keep TensorFlow's logs off the terminal, unless the user set ``TF_CPP_MIN_LOG_LEVEL``.

    Call it before anything imports TensorFlow; it then imports TensorFlow
    and Keras itself. A level the user set is kept, and TensorFlow's
    start-up lines below it are dropped (see the module docstring).
    Returns whether it quieted anything beyond the user's own level.
    """
    users_level = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    if users_level is not None:
        level = _as_level(users_level)
        if level and "tensorflow" not in sys.modules:
            _import_tensorflow_with_stderr_set_aside(keep_level=level)
        return False
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    for name in ("tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if "tensorflow" not in sys.modules:
        _import_tensorflow_with_stderr_set_aside()
    return True


def _as_level(value):
    try:
        return min(max(int(value), 0), 3)
    except ValueError:  # TensorFlow reads an unparsable level as 0
        return 0


def _import_tensorflow_with_stderr_set_aside(keep_level=None):
    """Import TensorFlow and Keras with descriptor 2 captured.

    Args:
        keep_level: `None` drops everything the import wrote; 1 to 3 writes
            back the lines that are not TensorFlow log records below that
            level (see `records_at_or_above`).
    """
    sys.stderr.flush()
    try:
        saved_stderr = os.dup(2)
    except OSError:  # no descriptor 2 at all: nothing to keep clean
        _import_tensorflow_and_keras()
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            _import_tensorflow_and_keras()
        except BaseException:
            os.dup2(saved_stderr, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)
        if keep_level is not None:
            captured.seek(0)
            sys.stderr.write(records_at_or_above(captured.read().decode(errors="replace"), keep_level))
            sys.stderr.flush()


# The severity letter of a TensorFlow C++ log record: absl's format
# ("I0000 00:00:1796396131.485445 4648 cudart_stub.cc:31] ...") and the older
# one ("2024-05-01 10:00:00.000000: W tensorflow/...").
_RECORD = re.compile(r"([IWEF])\d{4} \d\d:\d\d:\d\d|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: ([IWEF]) ")
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
# absl's own notice that INFO records follow before its logging is set up.
_ABSL_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def records_at_or_above(text, level):
    r"""The lines of `text` that are not TensorFlow log records below `level`.

    A record's continuation lines share its fate; other lines (a Python
    warning, say) are kept.

    Args:
        text: what TensorFlow wrote to stderr.
        level: ``TF_CPP_MIN_LOG_LEVEL``: 0 INFO, 1 WARNING, 2 ERROR, 3 FATAL.

    Returns:
        str, the kept lines.

    Example:

    >>> text = ("I0000 00:00:1796396131.485445    4648 cudart_stub.cc:31] Could not find cuda drivers\n"
    ...         "E0000 00:00:1796396142.553978    4699 cuda_platform.cc:52] failed call to cuInit\n"
    ...         "  details of the error\n")
    >>> print(records_at_or_above(text, 2), end="")
    E0000 00:00:1796396142.553978    4699 cuda_platform.cc:52] failed call to cuInit
      details of the error
    >>> records_at_or_above(text, 3)
    ''
    """
    kept, keep = [], True
    for line in text.splitlines(keepends=True):
        record = _RECORD.match(line)
        if record:
            keep = _SEVERITY[record.group(1) or record.group(2)] >= level
        elif line.startswith(_ABSL_NOTICE):
            keep = level == 0
        if keep:
            kept.append(line)
    return "".join(kept)


def _import_tensorflow_and_keras():
    import keras  # noqa: F401
    import tensorflow  # noqa: F401


@contextlib.contextmanager
def quiet_unless(verbose):
    """Silence the library's INFO messages for the duration of a call when `verbose` is 0.

    `TextClassifier(verbose=0)` means silent, whatever logging is configured.

    Example:

    >>> with quiet_unless(0):
    ...     logging.getLogger("transformer_kit.fitting").info("not shown")
    """
    logger = logging.getLogger(LOGGER_NAME)
    previous = logger.level
    if not verbose:
        logger.setLevel(max(logging.WARNING, previous))
    try:
        yield
    finally:
        logger.setLevel(previous)
