"""Dynamic batching: requests that arrive together share one model call.

Requests wait in one bounded queue. A single consumer takes the oldest,
gathers the later ones for the same version and signature (with the same
shape beyond the batch) until `max_batch_size` rows or `max_wait_s` seconds
(0 by default: whatever is queued when the model is free),
concatenates them, calls the model once in its own thread and hands each
request its own rows back. While the model runs, new requests queue up, so
the busier the server, the larger its batches. A full queue refuses new
requests (`Overloaded`) rather than growing memory.
"""

import asyncio
import collections
import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np

log = logging.getLogger(__name__)


class Overloaded(Exception):
    """The queue holds `max_queued` rows already: answer 503 and let the client retry."""


class _Job:
    __slots__ = ("version", "signature", "inputs", "rows", "key", "future")

    def __init__(self, version, signature, inputs, rows, mergeable, future):
        self.version, self.signature, self.inputs, self.rows, self.future = version, signature, inputs, rows, future
        shapes = tuple(sorted((name, array.shape[1:]) for name, array in inputs.items()))
        # A job that may not share a call gets a key no other job has.
        self.key = (id(version), signature, shapes) if mergeable else (id(self),)


class Batcher:
    """Gathers concurrent requests into model calls.

    Args:
        max_batch_size: int, the most rows in one model call (a larger single
            request is called alone).
        max_wait_s: float, how long the first request of a batch waits for
            others to join it.
        max_queued: int, the most rows waiting; more are refused with
            `Overloaded`.
        on_batch: optional callable(rows), told the size of every model call.

    Example (inside the server's event loop):

        batcher = Batcher(max_batch_size=64, max_wait_s=0.0, max_queued=1024)
        batcher.start()
        outputs = await batcher.submit(version, "serving_default", {"text": texts}, len(texts), True)
    """

    def __init__(self, max_batch_size=64, max_wait_s=0.0, max_queued=1024, on_batch=None):
        self.max_batch_size, self.max_wait_s, self.max_queued = max_batch_size, max_wait_s, max_queued
        self.on_batch = on_batch
        self.queued_rows = 0
        self.running_rows = 0  # in the model now
        self._pending = collections.deque()
        self._arrived = None
        self._task = None
        # One thread runs the model: TensorFlow spreads each call over the cores itself.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")

    def start(self):
        self._arrived = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, timeout_s=60.0):
        """Finish the queued requests (for at most `timeout_s` seconds), then stop."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self._pending and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
        self._executor.shutdown(wait=True)

    async def submit(self, version, signature, inputs, rows, mergeable):
        """Queue one request and wait for its outputs (name -> numpy array of its own rows)."""
        if self.queued_rows + rows > self.max_queued:
            raise Overloaded(f"the server is at capacity ({self.queued_rows} texts queued); retry shortly.")
        job = _Job(version, signature, inputs, rows, mergeable, asyncio.get_running_loop().create_future())
        self._pending.append(job)
        self.queued_rows += rows
        self._arrived.set()
        return await job.future

    async def _run(self):
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                self._arrived.clear()
                await self._arrived.wait()
            batch = []
            try:
                batch = await self._gather(loop)
                if batch:
                    await self._call(loop, batch)
            except Exception as error:  # noqa: BLE001 - the consumer must outlive any one batch
                log.exception("Batching failed; answering the batch with an error")
                for job in batch:
                    self._fail(job, error)

    async def _gather(self, loop):
        first = self._take(lambda job: True)
        if first is None:
            return []
        batch, rows = [first], first.rows
        deadline = loop.time() + self.max_wait_s
        while rows < self.max_batch_size:
            room = self.max_batch_size - rows
            job = self._take(lambda job: job.key == first.key and job.rows <= room)  # noqa: B023 - called at once
            if job is not None:
                batch.append(job)
                rows += job.rows
                continue
            remaining = deadline - loop.time()
            if remaining <= 0 or len(first.key) == 1:
                break
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:
                break
        return batch

    def _take(self, accept):
        """Remove and return the oldest live job that `accept`s, dropping abandoned ones on the way."""
        for job in list(self._pending):
            if job.future.done():  # timed out or cancelled while queued
                self._pending.remove(job)
                self.queued_rows -= job.rows
            elif accept(job):
                self._pending.remove(job)
                self.queued_rows -= job.rows
                return job
        return None

    async def _call(self, loop, batch):
        first = batch[0]
        merged = first.inputs if len(batch) == 1 else {
            name: np.concatenate([job.inputs[name] for job in batch]) for name in first.inputs}
        self.running_rows = sum(job.rows for job in batch)
        try:
            outputs = await loop.run_in_executor(self._executor, first.version.call, first.signature, merged)
        except Exception as error:  # noqa: BLE001 - a failed call is answered, never fatal
            self.running_rows = 0
            if len(batch) == 1:
                self._fail(first, error)
                return
            # One request's input broke the shared call: run each alone so that only it fails.
            log.warning("A batch of %d requests failed (%s); calling each alone", len(batch), error)
            for job in batch:
                await self._call(loop, [job])
            return
        rows, self.running_rows = self.running_rows, 0
        if self.on_batch is not None:
            self.on_batch(rows)
        if any(len(value) != rows for value in outputs.values()):
            for job in batch:
                self._fail(job, RuntimeError(f"the model answered {len(batch)} requests with a batch that is not "
                                             f"{rows} rows long"))
            return
        start = 0
        for job in batch:
            if not job.future.done():  # its client may have timed out meanwhile
                job.future.set_result({name: value[start:start + job.rows] for name, value in outputs.items()})
            start += job.rows

    @staticmethod
    def _fail(job, error):
        if not job.future.done():
            job.future.set_exception(error)
