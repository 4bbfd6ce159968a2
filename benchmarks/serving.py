"""`transformer-kit serve` under load, overload and faults, on 127.0.0.1, against the SavedModel in-process.

Starts the server in a subprocess on an ephemeral loopback port and drives it
from this process with asyncio HTTP/1.1 clients (keep-alive connections, one
SST-2 test text per request). Every loop is bounded in requests and seconds.

1. Throughput: 1, 8 and 64 concurrent clients, closed loop: requests/s,
   p50/p99 latency, errors, and answers that do not match the text sent
   (each answer's probabilities against the SavedModel called in-process,
   to 1e-4). The reference: `serving_default` called in-process in batches of 256.
2. Overload: an open loop at 4x the rate the 64 clients sustained, for
   `--overload-seconds`: answers by status, the server's peak resident
   memory, and how long after the overload a single request is answered
   normally again (200 within 4x the 1-client p99).
3. Faults, while 16 clients keep sending good requests: 1,000 random,
   truncated or mistyped bodies, clients that disconnect mid-request, and a
   new version written (copied beside, renamed in) under load: 5xx other
   than 503, and lost or mismatched answers, must be zero.

Usage:
    python benchmarks/serving.py --export exports/sst2            # an existing export of an SST-2 model
    python benchmarks/serving.py --train                          # train the default model on SST-2 first
    python benchmarks/serving.py --export exports/sst2 --seconds 5 --overload-seconds 10   # quicker
"""

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TRANSFORMER_KIT_DATA", "/work/shared/data")) / "en"
MODEL = "sst2"


# ---------------------------------------------------------------- the server


class Server:
    def __init__(self, export, *options):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               "TF_CPP_MIN_LOG_LEVEL": "2"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "transformer_kit.serving", str(export), "--port", "0", "--model-name", MODEL,
             *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.stderr = []
        threading.Thread(target=lambda: self.stderr.extend(self.process.stderr), daemon=True).start()
        line = self.process.stdout.readline()
        if not line.startswith("Serving model"):
            self.process.kill()
            raise RuntimeError(f"the server did not start: {line} {''.join(self.stderr)[-2000:]}")
        self.port = int(line.split("http://127.0.0.1:")[1].split("/")[0])

    def rss_mb(self):
        import psutil

        return psutil.Process(self.process.pid).memory_info().rss / 2**20

    def stop(self):
        self.process.terminate()
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return None


# ----------------------------------------------------------- the HTTP client


class Connection:
    """One keep-alive HTTP/1.1 connection (reopened when the server closes it)."""

    def __init__(self, port):
        self.port, self.reader, self.writer = port, None, None

    async def request(self, body, path=f"/v1/models/{MODEL}:predict", timeout=60):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body))
        try:
            head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
            headers = head.decode("latin-1").lower()
            length = int(headers.split("content-length:")[1].split("\r\n")[0])
            data = await self.reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError):
            self.close()
            raise
        if "connection: close" in headers:
            self.close()
        return int(head.split(b" ", 2)[1]), data

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def body_of(text):
    return json.dumps({"instances": [text]}).encode()


class Tally:
    def __init__(self):
        self.latencies, self.statuses, self.mismatched, self.lost = [], {}, 0, 0

    def add(self, status, latency):
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status == 200:
            self.latencies.append(latency)


def matches(data, expected):
    answer = json.loads(data)["predictions"][0]["probabilities"]
    return np.allclose(answer, expected, atol=1e-4)


async def checked_request(connection, rng, texts, reference, tally):
    """Send one random text; count its status and latency in `tally`, and whether the answer is its own."""
    index = rng.randrange(len(texts))
    start = time.perf_counter()
    try:
        status, data = await connection.request(body_of(texts[index]))
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
        tally.lost += 1
        return
    tally.add(status, time.perf_counter() - start)
    if status == 200 and not matches(data, reference[index]):
        tally.mismatched += 1


async def closed_loop(port, clients, texts, reference, seconds, max_requests):
    """`clients` clients, each sending its next text once it has its answer."""
    tally, sent = Tally(), [0]
    deadline = time.perf_counter() + seconds

    async def client(seed):
        connection, rng = Connection(port), random.Random(seed)
        while time.perf_counter() < deadline and sent[0] < max_requests:
            sent[0] += 1
            await checked_request(connection, rng, texts, reference, tally)
        connection.close()

    start = time.perf_counter()
    await asyncio.gather(*(client(seed) for seed in range(clients)))
    return tally, time.perf_counter() - start


def summary(tally, elapsed):
    latencies = np.array(tally.latencies) * 1000
    answered = sum(tally.statuses.values())
    return {
        "requests": answered, "requests_per_s": round(answered / elapsed, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 2) if len(latencies) else None,
        "p99_ms": round(float(np.percentile(latencies, 99)), 2) if len(latencies) else None,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "errors": answered - tally.statuses.get(200, 0) + tally.lost, "mismatched": tally.mismatched,
    }


# ------------------------------------------------------------------ scenarios


def in_process_throughput(version_dir, texts, seconds):
    import tensorflow as tf

    serve = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    reference = np.concatenate([serve(text=tf.constant(texts[i:i + 256]))["probabilities"].numpy()
                                for i in range(0, len(texts), 256)])
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for i in range(0, len(texts), 256):
            serve(text=tf.constant(texts[i:i + 256]))
        done += len(texts)
    return reference, done / (time.perf_counter() - start)


async def overload(server, texts, rate, seconds, normal_ms, in_flight_cap=4096):
    """Open loop: a new connection and request every 1/rate s, whatever the answers do."""
    tally, tasks, peak_rss = Tally(), set(), [server.rss_mb()]
    stop_sampling = threading.Event()

    def sample():
        while not stop_sampling.wait(0.25):
            peak_rss.append(server.rss_mb())

    threading.Thread(target=sample, daemon=True).start()

    async def one(text):
        connection, start = Connection(server.port), time.perf_counter()
        try:
            status, _ = await connection.request(body_of(text), timeout=120)
            tally.add(status, time.perf_counter() - start)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            tally.lost += 1
        finally:
            connection.close()

    start, sent, skipped = time.perf_counter(), 0, 0
    while (now := time.perf_counter()) - start < seconds:
        due = int((now - start) * rate)
        while sent < due:
            sent += 1
            if len(tasks) >= in_flight_cap:  # the client's own bound, so that it cannot run out of sockets
                skipped += 1
                continue
            task = asyncio.ensure_future(one(texts[sent % len(texts)]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.sleep(0.001)
    offered_s = time.perf_counter() - start
    stopped = time.perf_counter()
    recovered_s = None
    probe = Connection(server.port)
    while time.perf_counter() - stopped < 60:
        t0 = time.perf_counter()
        try:
            status, _ = await probe.request(body_of(texts[0]), timeout=30)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            status = None
        if status == 200 and (time.perf_counter() - t0) * 1000 <= normal_ms:
            recovered_s = round(time.perf_counter() - stopped, 2)
            break
        await asyncio.sleep(0.05)
    probe.close()
    await asyncio.gather(*tasks, return_exceptions=True)
    stop_sampling.set()
    statuses = {str(k): v for k, v in sorted(tally.statuses.items())}
    return {"offered_per_s": round(rate, 1), "seconds": round(offered_s, 1), "sent": sent - skipped,
            "not_sent_client_cap": skipped, "statuses": statuses, "lost": tally.lost,
            "answered_200_per_s": round(tally.statuses.get(200, 0) / offered_s, 1),
            "peak_rss_mb": round(max(peak_rss)), "rss_before_mb": round(peak_rss[0]),
            "normal_again_after_s": recovered_s, "server_alive": server.process.poll() is None}


def bad_bodies(texts, count, seed=0):
    rng = random.Random(seed)
    bodies = []
    for i in range(count):
        kind = i % 5
        good = json.dumps({"instances": [texts[i % len(texts)]]}).encode()
        if kind == 0:
            bodies.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))
        elif kind == 1:
            bodies.append(good[:rng.randrange(1, len(good))])
        elif kind == 2:
            bodies.append(json.dumps({"instances": [rng.choice([1, None, [], {}, 2.5, True])]}).encode())
        elif kind == 3:
            bodies.append(json.dumps(rng.choice([{}, [], "x", {"inputs": {"txt": ["a"]}}, {"instances": []},
                                                 {"signature_name": "nope", "instances": ["a"]}])).encode())
        else:
            bodies.append(json.dumps({"signature_name": "serving_token_ids",
                                      "inputs": [[rng.randrange(-5, 10) for _ in range(rng.randrange(1, 4))]
                                                 for _ in range(2)]}).encode()[:-rng.randrange(0, 2) or None])
    return bodies


async def faults(server, export_base, texts, reference, bad_count=1000, disconnects=200, good_clients=16):
    good, bad, stop = Tally(), {}, asyncio.Event()

    async def good_client(seed):
        connection, rng = Connection(server.port), random.Random(seed)
        while not stop.is_set():
            await checked_request(connection, rng, texts, reference, good)
        connection.close()

    async def send_bad(bodies):
        connection = Connection(server.port)
        for body in bodies:
            try:
                status, _ = await connection.request(body)
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
                status = "lost"
            bad[status] = bad.get(status, 0) + 1
        connection.close()

    async def disconnect_midway(count):
        for i in range(count):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            body = body_of(texts[i % len(texts)])
            request = (b"POST /v1/models/%s:predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                       % (MODEL.encode(), len(body)) + body)
            writer.write(request[: len(request) // 2] if i % 2 else request)  # half a request, or leave unread
            await writer.drain()
            writer.close()

    def new_version():
        versions = sorted(int(p.name) for p in export_base.iterdir() if p.name.isdigit())
        staging = export_base / f".{versions[-1] + 1}.partial"
        shutil.copytree(export_base / str(versions[-1]), staging)
        staging.rename(export_base / str(versions[-1] + 1))
        return versions[-1] + 1

    clients = [asyncio.ensure_future(good_client(seed)) for seed in range(good_clients)]
    bodies = bad_bodies(texts, bad_count)
    await asyncio.gather(*(send_bad(bodies[i::4]) for i in range(4)), disconnect_midway(disconnects))
    written = new_version()
    deadline = time.perf_counter() + 120
    status = {}
    while time.perf_counter() < deadline:
        status = await get_status(server.port)
        if status == str(written):
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(2)  # keep sending on the new version a little
    stop.set()
    await asyncio.gather(*clients)
    bad_5xx = sum(v for k, v in bad.items() if isinstance(k, int) and k >= 500 and k != 503)
    good_5xx = sum(v for k, v in good.statuses.items() if k >= 500 and k != 503)
    return {"bad_bodies": bad_count, "bad_statuses": {str(k): v for k, v in sorted(bad.items(), key=str)},
            "disconnects": disconnects, "good_requests": sum(good.statuses.values()),
            "good_statuses": {str(k): v for k, v in sorted(good.statuses.items())},
            "good_lost": good.lost, "mismatched": good.mismatched, "5xx_other_than_503": bad_5xx + good_5xx,
            "new_version": written, "served_version_after": status, "server_alive": server.process.poll() is None}


async def get_status(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /v1/models/{MODEL} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    return json.loads(data.split(b"\r\n\r\n", 1)[1])["model_version_status"][0]["version"]


# ------------------------------------------------------------------------ main


def train_default(folder):
    from transformer_kit.classifier import TextClassifier

    classifier = TextClassifier(verbose=0).fit(DATA / "sst2_train.csv")
    return classifier.export(folder / MODEL).parent


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--export", type=Path, help="An export base directory of an SST-2 model.")
    parser.add_argument("--train", action="store_true", help="Train the default model on SST-2 first.")
    parser.add_argument("--seconds", type=float, default=15, help="Per concurrency level. Default: 15.")
    parser.add_argument("--max-requests", type=int, default=100_000, help="Per concurrency level.")
    parser.add_argument("--overload-seconds", type=float, default=60)
    parser.add_argument("--server-option", action="append", default=[], help="Passed to serve: --max-wait-ms=0.")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results_serving.json")
    args = parser.parse_args(argv)
    import pandas as pd

    texts = pd.read_csv(DATA / "sst2_test.csv")["text"].astype(str).tolist()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        if args.train:
            source = train_default(scratch / "trained")
        elif args.export:
            source = args.export
        else:
            parser.error("pass --export EXPORT_BASE or --train")
        versions = sorted(int(p.name) for p in source.iterdir() if p.name.isdigit())
        export = scratch / MODEL  # a copy, so that the fault test's new version lands in scratch
        shutil.copytree(source / str(versions[-1]), export / "1")

        reference, in_process = in_process_throughput(export / "1", texts, min(args.seconds, 10))
        results = {"texts": len(texts), "in_process_batch_256_texts_per_s": round(in_process, 1),
                   "server_options": args.server_option, "cpus": os.cpu_count(),
                   "load_average_at_start": [round(x, 2) for x in os.getloadavg()], "load": {}}
        print(f"in-process, batches of 256: {in_process:,.0f} texts/s", flush=True)

        server = Server(export, *args.server_option)
        try:
            for clients in (1, 8, 64):
                tally, elapsed = asyncio.run(closed_loop(server.port, clients, texts, reference, args.seconds,
                                                         args.max_requests))
                results["load"][clients] = row = summary(tally, elapsed)
                row["vs_in_process"] = round(row["requests_per_s"] / in_process, 3)
                print(f"{clients:>3} clients: {row}", flush=True)
            sustainable = results["load"][64]["requests_per_s"]
            normal_ms = 4 * results["load"][1]["p99_ms"]
            results["overload"] = asyncio.run(overload(server, texts, 4 * sustainable, args.overload_seconds,
                                                       normal_ms))
            results["overload"]["normal_ms"] = round(normal_ms, 1)
            print(f"overload: {results['overload']}", flush=True)
            results["faults"] = asyncio.run(faults(server, export, texts, reference))
            print(f"faults: {results['faults']}", flush=True)
        finally:
            results["exit_code_after_sigterm"] = server.stop()
        results["server_tracebacks"] = sum("Traceback" in line for line in server.stderr)
        results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.output.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
