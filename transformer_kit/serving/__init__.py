"""`transformer-kit serve`: serve an export over TensorFlow Serving's REST API, with dynamic batching.

A client written for TensorFlow Serving (`POST /v1/models/NAME:predict` with
`instances` or `inputs`) works unchanged against this server, and back. The
server loads the export with plain `tf.saved_model.load`, serves its highest
version, picks up newer ones without a restart, gathers concurrent requests
into one model call, refuses what it cannot take (413, 503, 504) and stops
cleanly on SIGTERM. It needs the `serve` extra: `pip install "transformer_kit[serve]"`.

Modules: `models` (versions), `rest` (the JSON formats), `batching`, `app`
(routes, limits, API key, metrics), `page` (`GET /`), `server` (uvicorn).
Importing this package imports neither TensorFlow nor the server library.

Example:

    transformer-kit serve exports/sst2 --port 8501
    curl -d '{"instances": ["a gripping film"]}' localhost:8501/v1/models/sst2:predict
"""

import os

from transformer_kit.errors import TransformerKitError


def add_arguments(parser):
    """Add `serve`'s arguments to an argparse parser (the CLI's `serve` command)."""
    parser.add_argument("path", metavar="EXPORT_BASE_OR_RUN",
                        help="An export directory (its highest numbered version is served and newer ones are "
                        "picked up), one version directory, or a run directory (exported to a temporary "
                        "directory first).")
    parser.add_argument("--port", type=int, default=8501, help="TCP port; 0 picks a free one. Default: %(default)s.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="Address to listen on. Default: %(default)s (this machine only); 0.0.0.0 exposes "
                        "the server, so set --api-key-env too.")
    parser.add_argument("--model-name", metavar="NAME", help="NAME in /v1/models/NAME. Default: the export "
                        "directory's name.")
    parser.add_argument("--api-key-env", metavar="VAR", help="Require the API key held in environment variable "
                        "VAR on every request but the page (header 'Authorization: Bearer KEY' or 'X-API-Key: KEY').")
    group = parser.add_argument_group("batching and limits")
    group.add_argument("--max-batch-size", type=int, default=64, metavar="N",
                       help="Most texts in one model call. Default: %(default)s.")
    group.add_argument("--max-wait-ms", type=float, default=0.0, metavar="MS",
                       help="How long the first request of a batch waits for others to join it. Default: "
                       "%(default)s: greedy, the requests that arrived while the model was busy form the next call.")
    group.add_argument("--max-queued", type=int, default=1024, metavar="N",
                       help="Most texts waiting; more are answered 503. Default: %(default)s.")
    group.add_argument("--max-body-bytes", type=int, default=4 * 1024 * 1024, metavar="BYTES",
                       help="Larger request bodies are answered 413. Default: %(default)s (4 MiB).")
    group.add_argument("--max-texts", type=int, default=1024, metavar="N",
                       help="Most texts in one request (400 beyond). Default: %(default)s.")
    group.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                       help="A request not answered by then gets 504. Default: %(default)s.")
    group.add_argument("--poll-interval", type=float, default=1.0, metavar="SECONDS",
                       help="Seconds between looks for a new version. Default: %(default)s.")


def run(args):
    """Run `transformer-kit serve` with parsed arguments; returns the exit code."""
    try:
        import prometheus_client  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as error:
        raise TransformerKitError(f"serving needs the serve extra ({error.name} is not installed): "
                                  "pip install \"transformer_kit[serve]\"") from None
    ranges = {"port": (0, 65535), "max_batch_size": (1, None), "max_queued": (1, None), "max_body_bytes": (1, None),
              "max_texts": (1, None), "max_wait_ms": (0, None), "timeout": (1e-3, None), "poll_interval": (1e-3, None)}
    for name, (low, high) in ranges.items():
        value = getattr(args, name)
        if value < low or (high is not None and value > high):
            limit = f"from {low} to {high}" if high is not None else f"at least {low:g}"
            raise ValueError(f"--{name.replace('_', '-')} {value:g} is out of range: give a value {limit}.")
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            raise TransformerKitError(f"--api-key-env {args.api_key_env}: that environment variable is empty or "
                                      "unset; export it with the key clients will send.")
    return serve(args.path, args.host, args.port, model_name=args.model_name, max_batch_size=args.max_batch_size,
                 max_wait_ms=args.max_wait_ms, max_queued=args.max_queued, max_body_bytes=args.max_body_bytes,
                 max_texts=args.max_texts, timeout_s=args.timeout, poll_s=args.poll_interval, api_key=api_key)


def serve(path, host="127.0.0.1", port=8501, model_name=None, **settings):
    """Serve an export until SIGTERM or Ctrl-C; what `transformer-kit serve` runs.

    Args:
        path: an export's base directory, one of its versions, or a run directory.
        host: str, default "127.0.0.1" (this machine only).
        port: int, default 8501; 0 picks a free one (printed).
        model_name: str, the NAME in `/v1/models/NAME`; default: the export directory's name.
        **settings: the fields of `transformer_kit.serving.app.ServingSettings`
            (`max_batch_size`, `max_wait_ms`, `max_queued`, `max_body_bytes`,
            `max_texts`, `timeout_s`, `poll_s`, `api_key`).

    Returns:
        0 once stopped.

    Example:

        from transformer_kit.serving import serve
        serve("exports/sst2", port=8501, max_batch_size=128)
    """
    from transformer_kit.serving.app import ServingSettings
    from transformer_kit.serving.server import serve as run_server

    return run_server(path, host, port, ServingSettings(model_name=model_name or "", **settings),
                      announce=lambda line: print(line, flush=True))
