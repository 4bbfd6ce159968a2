"""Start `transformer-kit serve` in a subprocess on an ephemeral port of 127.0.0.1, and talk HTTP to it."""

import http.client
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class ServerProcess:
    """A running server: `.port`, `.request(...)`, `.stop()` (SIGTERM, then SIGKILL if it hangs).

    Args:
        path: what to serve (export base, version or run directory).
        *options: more `transformer-kit serve` options.
        env: extra environment variables.
        start_timeout: seconds to wait for the "Serving model" line.
    """

    def __init__(self, path, *options, env=None, start_timeout=120):
        python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        environment = {**os.environ, "PYTHONPATH": python_path, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "transformer_kit.serving", str(path), "--port", "0", *options],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment,
        )
        self.stderr_lines = []
        self._lines = queue.Queue()
        threading.Thread(target=self._read, args=(self.process.stdout, self._lines.put, True), daemon=True).start()
        threading.Thread(target=self._read, args=(self.process.stderr, self.stderr_lines.append), daemon=True).start()
        self.port = None
        deadline = time.monotonic() + start_timeout
        while self.port is None:
            try:
                line = self._lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"the server did not start: {''.join(self.stderr_lines)[-3000:]}")
            if line.startswith("Serving model"):
                self.port = int(line.split("http://127.0.0.1:")[1].split("/")[0])

    @staticmethod
    def _read(stream, sink, mark_end=False):
        for line in stream:
            sink(line)
        if mark_end:
            sink(None)

    @property
    def stderr(self):
        return "".join(self.stderr_lines)

    def request(self, method, path, body=None, headers=None, timeout=60):
        """`(status, parsed JSON or text)`; `body` may be a dict (sent as JSON), str or bytes."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8")
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        if response.getheader("content-type", "").startswith("application/json"):
            return response.status, json.loads(data)
        return response.status, data.decode("utf-8", "replace")

    def predict(self, body, model="model", version=None, **kwargs):
        path = f"/v1/models/{model}" + (f"/versions/{version}" if version else "") + ":predict"
        return self.request("POST", path, body, **kwargs)

    def stop(self, timeout=60):
        """SIGTERM and wait; returns the exit code (killed and `None` if it does not stop in time)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.process.returncode

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
