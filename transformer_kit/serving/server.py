"""Run the server: find or make the export, bind the socket, serve until SIGTERM or Ctrl-C.

uvicorn answers `SIGTERM` and `SIGINT` by closing the listening socket,
finishing the requests in flight (up to `timeout_s` more), running the
application's shutdown (the batcher empties its queue), and returning;
`serve` then returns 0.
"""

import contextlib
import logging
import signal
import socket
import tempfile
from pathlib import Path

from transformer_kit.errors import RunDirectoryError

log = logging.getLogger(__name__)


def serve(path, host="127.0.0.1", port=8501, settings=None, announce=print):
    """Serve an export (or a run directory, exported first) over TensorFlow Serving's REST API.

    Args:
        path: an export's base directory (the highest version is served, newer
            ones are picked up), one version directory, or a run directory
            (exported to a temporary directory, removed on exit).
        host: str, default "127.0.0.1" (this machine only). "0.0.0.0" exposes
            it: set `settings.api_key` then.
        port: int, default 8501 (TF Serving's REST port); 0 picks a free one.
        settings: `ServingSettings`; its `model_name` defaults to the
            export's directory name.
        announce: callable(str), told the address once the server accepts.

    Returns:
        0 once stopped by SIGTERM or SIGINT.

    Example:

        serve("exports/sst2", port=8501)   # curl localhost:8501/v1/models/sst2
    """
    import uvicorn

    from transformer_kit.serving.app import ServingSettings, create_app
    from transformer_kit.serving.models import ModelRepository

    path = Path(path)
    with contextlib.ExitStack() as stack:
        if (path / "manifest.json").is_file():  # a run directory: export it first
            export_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="transformer-kit-serve-")))
            path = _export_run(path, export_dir / path.name)
        elif not path.exists():
            raise RunDirectoryError(f"{path} does not exist. Pass an export directory (from `transformer-kit "
                                    "export`), one of its numbered versions, or a run directory.")
        settings = settings or ServingSettings(model_name="")
        repository = ModelRepository(path, poll_s=settings.poll_s)
        if not settings.model_name:
            base = repository.base_dir
            settings.model_name = base.name if base.name and not base.name.isdigit() else "model"
        app = create_app(repository, settings)
        # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
        # without it Nagle's algorithm meets the client's delayed ACK: ~40 ms added to every keep-alive answer.
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM,
                             socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            raise RunDirectoryError(f"cannot listen on {host}:{port} ({error.strerror}); "
                                    "choose another --port.") from None
        sock.listen(2048)
        stack.callback(sock.close)
        bound_port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                timeout_graceful_shutdown=settings.timeout_s + 5, backlog=2048)
        server = _server_class(uvicorn)(config)
        url = f"http://{'[' + host + ']' if ':' in host else host}:{bound_port}"
        announce(f"Serving model '{settings.model_name}' version {repository.current.number} at {url}/ "
                 f"(REST: {url}/v1/models/{settings.model_name}:predict). Stop with Ctrl-C or SIGTERM.")
        server.run(sockets=[sock])
        if not server.started:
            raise RunDirectoryError(f"the server on {url} failed to start; see the messages above.")
    return 0


def _server_class(uvicorn):
    class Server(uvicorn.Server):
        """uvicorn's server, except that a stop asked for by SIGTERM or SIGINT ends with exit status 0.

        uvicorn (0.29 on) raises the signal again once it has shut down, so the
        process would end "killed by SIGTERM" although it stopped cleanly.
        """

        @contextlib.contextmanager
        def capture_signals(self):
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server


def _export_run(run_dir, export_dir):
    from transformer_kit.classifier import TextClassifier

    log.info("%s is a run directory: exporting it to %s to serve it", run_dir, export_dir)
    return TextClassifier.load(run_dir, verbose=0).export(export_dir).parent
