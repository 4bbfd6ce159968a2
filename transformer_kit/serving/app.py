"""The HTTP application: TensorFlow Serving's REST API, the page, `/metrics`, limits and the API key.

Routes (as TF Serving's, https://www.tensorflow.org/tfx/serving/api_rest):

- `GET /v1/models/NAME[/versions/N]`: version status.
- `GET /v1/models/NAME[/versions/N]/metadata`: the signatures.
- `POST /v1/models/NAME[/versions/N]:predict`: row or column format.
- `GET /`: a page to try the model; `GET /metrics`: Prometheus text format.

Nothing a request holds names a file or loads anything: the only model is the
one `ModelRepository` found at start-up and its newer versions.
"""

import asyncio
import contextlib
import dataclasses
import hmac
import json
import logging
import re
import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from transformer_kit.serving import rest
from transformer_kit.serving.batching import Batcher, Overloaded
from transformer_kit.serving.page import page_html
from transformer_kit.serving.rest import RestError

log = logging.getLogger(__name__)
_MODEL_URL = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?:(?P<metadata>/metadata)|:(?P<verb>[A-Za-z]+))?/?$"
)
# A body over the limit is still read (and dropped) up to this many times the limit, so that the
# client, still sending, gets its 413 instead of a reset connection; beyond it the connection closes.
_DRAIN_FACTOR = 16


@dataclasses.dataclass
class ServingSettings:
    """How the server batches and what it refuses.

    Attributes:
        model_name: str, the NAME in `/v1/models/NAME`.
        max_batch_size: int, default 64. The most texts in one model call.
        max_wait_ms: float, default 0. How long the first request of a batch waits for others to join
            it. At 0 batching is greedy: the requests that arrived while the model was busy form the
            next call, so batches grow with the load and a lone request never waits (a timed wait
            measured slower on a loaded 2-core machine: benchmarks/RESULTS.md).
        max_queued: int, default 1024. Texts waiting at most; more are answered 503.
        max_body_bytes: int, default 4 MiB. Larger request bodies are answered 413.
        max_texts: int, default 1024. The most examples one request may hold (400 beyond).
        timeout_s: float, default 30. A request not answered by then gets 504.
        poll_s: float, default 1. Seconds between looks for a new version.
        api_key: str or `None`. When set, every request but `GET /` must send it as
            `Authorization: Bearer KEY` or `X-API-Key: KEY` (401 otherwise).
    """

    model_name: str
    max_batch_size: int = 64
    max_wait_ms: float = 0.0
    max_queued: int = 1024
    max_body_bytes: int = 4 * 1024 * 1024
    max_texts: int = 1024
    timeout_s: float = 30.0
    poll_s: float = 1.0
    api_key: str | None = dataclasses.field(default=None, repr=False)  # never in a log line


class _Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("transformer_kit_serving_requests", "HTTP requests answered, by route and status code.",
                                ["route", "code"], registry=self.registry)
        self.latency = Histogram("transformer_kit_serving_request_latency_seconds",
                                 "Time from request to answer, by route.", ["route"], registry=self.registry,
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))
        self.batch_size = Histogram("transformer_kit_serving_batch_size", "Texts per model call.",
                                    registry=self.registry, buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024))
        self.queued = Gauge("transformer_kit_serving_queued_texts", "Texts waiting for the model.",
                            registry=self.registry)
        self.running = Gauge("transformer_kit_serving_running_texts", "Texts in the model now.",
                             registry=self.registry)
        self.version = Gauge("transformer_kit_serving_model_version", "The version being served.",
                             registry=self.registry)
        self.load_failures = Gauge("transformer_kit_serving_failed_versions",
                                   "Newer versions that could not be loaded.", registry=self.registry)


def _route_of(path):
    if path == "/":
        return "page"
    if path == "/metrics":
        return "metrics"
    match = _MODEL_URL.match(path)
    if match is None:
        return "other"
    return "predict" if match["verb"] else "metadata" if match["metadata"] else "status"


def _json(payload, status=200, headers=None):
    return Response(json.dumps(payload, ensure_ascii=False), status_code=status, media_type="application/json",
                    headers=headers)


def _error(status, message, headers=None):
    return _json({"error": message}, status, headers)


def create_app(repository, settings):
    """The ASGI application serving `repository` (a `ModelRepository`) with `settings` (`ServingSettings`).

    Example:

        app = create_app(ModelRepository("exports/sst2"), ServingSettings(model_name="sst2"))
        uvicorn.run(app, host="127.0.0.1", port=8501)
    """
    metrics = _Metrics()
    batcher = Batcher(settings.max_batch_size, settings.max_wait_ms / 1000, settings.max_queued,
                      on_batch=metrics.batch_size.observe)
    metrics.queued.set_function(lambda: batcher.queued_rows)
    metrics.running.set_function(lambda: batcher.running_rows)
    metrics.version.set_function(lambda: repository.current.number)
    metrics.load_failures.set_function(lambda: len(repository.failed))

    async def page(request):
        version = repository.current
        return HTMLResponse(page_html(settings.model_name, version.metadata.get("classes"),
                                      "explain" in version.inputs and not version.metadata.get("multi_label")))

    async def prometheus(request):
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def models(request):
        match = _MODEL_URL.match(request.url.path)
        if match is None:
            raise RestError(rest.NOT_FOUND, f"Malformed request: {request.method} {request.url.path[:200]}")
        version = _version_of(match)
        if match["verb"] is not None:
            if request.method != "POST":
                raise RestError(405, f"use POST for :{match['verb']}")
            if match["verb"] != "predict":
                raise RestError(rest.INVALID_ARGUMENT, f":{match['verb'][:40]} is not served: this server "
                                "implements :predict (use signature_name to choose a signature).")
            return _json(await predict(request, version))
        if request.method != "GET":
            raise RestError(405, "use GET for model status and metadata, POST for :predict")
        if match["metadata"]:
            return _json({
                "model_spec": {"name": settings.model_name, "signature_name": "", "version": str(version.number)},
                "metadata": {"signature_def": {"signature_def": version.signature_defs}},
            })
        return _json({"model_version_status": _version_status(version, all_versions=match["version"] is None)})

    def _version_of(match):
        if match["name"] != settings.model_name:
            raise RestError(rest.NOT_FOUND, f"Servable not found for request: Latest({match['name'][:200]}); "
                            f"this server serves '{settings.model_name}'.")
        if match["label"] is not None:
            raise RestError(rest.NOT_FOUND, "version labels are not served; use /versions/N or no version.")
        version = repository.current
        if match["version"] is not None and match["version"] != str(version.number):
            raise RestError(rest.NOT_FOUND, f"Servable not found for request: Specific({settings.model_name}, "
                            f"{match['version'][:40]}); version {version.number} is served.")
        return version

    def _version_status(version, all_versions):
        ok = {"error_code": "OK", "error_message": ""}
        status = [{"version": str(version.number), "state": "AVAILABLE", "status": ok}]
        if all_versions:
            status += [{"version": str(number), "state": "END",
                        "status": {"error_code": "UNKNOWN", "error_message": message}}
                       for number, message in sorted(dict(repository.failed).items()) if number > version.number]
        return status

    async def predict(request, version):
        request_json = rest.parse_body(await _read_body(request, settings.max_body_bytes))
        signature = rest.signature_name_of(request_json, version.inputs)
        inputs, row_format, rows = rest.named_inputs(request_json, version.inputs[signature], settings.max_texts)
        try:
            outputs = await asyncio.wait_for(
                batcher.submit(version, signature, inputs, rows, version.mergeable[signature]), settings.timeout_s)
        except Overloaded as error:
            raise RestError(rest.UNAVAILABLE, str(error)) from None
        except asyncio.TimeoutError:
            raise RestError(rest.DEADLINE_EXCEEDED, f"no answer within {settings.timeout_s:g} s (--timeout); "
                            "the server is busy, retry later or send fewer texts.") from None
        except Exception as error:  # noqa: BLE001 - the model refused these inputs
            if type(error).__name__ == "InvalidArgumentError":
                raise RestError(rest.INVALID_ARGUMENT, str(error).splitlines()[0][:500]) from None
            log.exception("The model failed on a request")
            raise RestError(500, f"the model failed: {type(error).__name__}: {str(error)[:300]}") from None
        return rest.answer(outputs, row_format)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        batcher.start()
        repository.start_watching()
        try:
            yield
        finally:
            await batcher.stop(settings.timeout_s)  # uvicorn got here once the requests in flight were answered
            repository.stop_watching()

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
        Route("/v1/{rest:path}", models, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]
    handlers = {
        RestError: lambda request, error: _error(error.status, error.message),
        HTTPException: lambda request, error: _error(error.status_code, f"{error.detail}: {request.method} "
                                                     f"{request.url.path[:200]}"),
        Exception: _internal_error,
    }
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers)
    return _Guard(app, settings, metrics)


def _internal_error(request, error):
    log.error("Unexpected error answering %s %s", request.method, request.url.path, exc_info=error)
    return _error(500, f"internal error: {type(error).__name__}")


async def _read_body(request, limit):
    """The body, or 413 when it is over `limit` bytes (the rest is read and dropped, within reason)."""
    declared = request.headers.get("content-length")
    too_large = RestError(rest.TOO_LARGE, f"the request body is over {limit} bytes (--max-body-bytes); "
                          "send fewer or shorter texts per request.")
    if declared is not None and declared.isdigit() and int(declared) > limit * _DRAIN_FACTOR:
        raise too_large
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size <= limit:
                chunks.append(chunk)
            elif size > limit * _DRAIN_FACTOR:
                break
    except ClientDisconnect:
        raise RestError(499, "the client closed the connection") from None
    if size > limit:
        raise too_large
    return b"".join(chunks)


class _Guard:
    """ASGI wrapper: the API key, `{"error": ...}` for every failure, and the request metrics."""

    def __init__(self, app, settings, metrics):
        self.app, self.settings, self.metrics = app, settings, metrics
        self._key = settings.api_key.encode() if settings.api_key else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        route, start, sent = _route_of(scope["path"]), time.perf_counter(), {}

        async def send_and_count(message):
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
            await send(message)

        if self._key is not None and route != "page" and not self._authorized(scope):
            response = _error(rest.UNAUTHENTICATED, "missing or wrong API key: send it as 'Authorization: "
                              "Bearer KEY' or 'X-API-Key: KEY'.", {"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send_and_count)
        else:
            try:
                await self.app(scope, receive, send_and_count)
            finally:
                self._count(route, sent.get("status", 500), start)
            return
        self._count(route, sent.get("status", 500), start)

    def _count(self, route, status, start):
        self.metrics.requests.labels(route, str(status)).inc()
        self.metrics.latency.labels(route).observe(time.perf_counter() - start)

    def _authorized(self, scope):
        headers = dict(scope["headers"])
        given = headers.get(b"x-api-key")
        bearer = headers.get(b"authorization", b"")
        if given is None and bearer.lower().startswith(b"bearer "):
            given = bearer[7:].strip()
        return given is not None and hmac.compare_digest(given, self._key)
