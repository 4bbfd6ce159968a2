"""`transformer-kit serve`: the parser of the command; `transformer_kit.serving` runs it."""


def add_parser(add_command):
    """Add the `serve` command (`add_command` as in `build_parser`)."""
    from transformer_kit import serving  # its arguments only: TensorFlow and the server load when it runs

    serving.add_arguments(add_command(
        "serve",
        serving.run,
        help="Serve an export over TensorFlow Serving's REST API, with a page to try it.",
        description=(
            "Serve EXPORT_BASE_OR_RUN on http://HOST:PORT with TensorFlow Serving's REST API "
            "(/v1/models/NAME:predict, row and column formats, every signature), batching concurrent "
            "requests into one model call, with a page to try the model at / and Prometheus metrics at "
            "/metrics. A newly exported version is served without a restart. Stops cleanly on SIGTERM. "
            'Needs the serve extra: pip install "transformer_kit[serve]".'
        ),
        epilog="examples:\n  transformer-kit serve exports/sst2\n"
        "  curl -d '{\"instances\": [\"a gripping film\"]}' localhost:8501/v1/models/sst2:predict\n"
        "  KEY=secret transformer-kit serve exports/sst2 --host 0.0.0.0 --api-key-env KEY",
    ))
