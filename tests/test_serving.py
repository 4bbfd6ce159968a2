"""Tests for `transformer_kit.serving`: a server in a subprocess on 127.0.0.1, spoken to over HTTP.

The HTTP behaviour (formats, errors, limits, batching, versions, signals) is
tested against a toy SavedModel with an export's signatures (tests/toy_saved_model.py),
built without training; the real export's signatures and the page are tested
by the slow tests at the end.
"""

import base64
import json
import os
import re
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the serve extra is not installed (pip install 'transformer_kit[serve]')")
pytest.importorskip("uvicorn", reason="the serve extra is not installed (pip install 'transformer_kit[serve]')")
pytest.importorskip("prometheus_client", reason="the serve extra is not installed")

from serving_process import ServerProcess  # noqa: E402
from toy_saved_model import CLASSES, expected_probabilities, save_toy  # noqa: E402

TEXTS = ["a", "wonderful film", "", "dreadful " * 12, "这部电影很好看 😀"]


@pytest.fixture(scope="module")
def toy_export(tmp_path_factory):
    base = tmp_path_factory.mktemp("toy") / "model"
    base.mkdir()
    save_toy(base / "1")
    return base


def start(request, path, *options, **kwargs):
    """A server that is stopped (killed if need be) when the test ends, whatever happens."""
    server = ServerProcess(path, *options, **kwargs)
    request.addfinalizer(server.kill)
    return server


@pytest.fixture(scope="module")
def server(request, toy_export):
    return start(request, toy_export, "--max-wait-ms", "20", "--max-texts", "64")


def metric(server, name, labels=""):
    """The value of one sample of /metrics (0 when absent)."""
    status, text = server.request("GET", "/metrics")
    assert status == 200
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def test_status_and_metadata_are_shaped_as_tensorflow_serving_shapes_them(server):
    assert server.request("GET", "/v1/models/model") == (200, {"model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]})
    status, metadata = server.request("GET", "/v1/models/model/versions/1/metadata")
    assert status == 200
    assert metadata["model_spec"] == {"name": "model", "signature_name": "", "version": "1"}
    signatures = metadata["metadata"]["signature_def"]["signature_def"]
    assert set(signatures) == {"serving_default", "serving_columns", "serving_token_ids", "explain", "spin"}
    text_input = signatures["serving_default"]["inputs"]["text"]
    assert text_input["dtype"] == "DT_STRING" and text_input["tensor_shape"] == {"dim": [{"size": "-1"}]}
    assert signatures["serving_default"]["method_name"] == "tensorflow/serving/predict"
    assert signatures["serving_token_ids"]["inputs"]["token_ids"]["dtype"] == "DT_INT64"


def test_row_format_answers_one_object_per_text_equal_to_the_model(server):
    status, answer = server.predict({"instances": TEXTS})
    assert status == 200
    predictions = answer["predictions"]
    assert [set(p) for p in predictions] == [{"probabilities", "label", "label_id", "score"}] * len(TEXTS)
    expected = expected_probabilities(TEXTS)
    np.testing.assert_allclose([p["probabilities"] for p in predictions], expected, atol=1e-6)
    assert [p["label"] for p in predictions] == [CLASSES[i] for i in expected.argmax(axis=1)]
    assert [p["label_id"] for p in predictions] == expected.argmax(axis=1).tolist()


def test_row_format_takes_named_objects_and_base64(server):
    named = server.predict({"instances": [{"text": t} for t in TEXTS]})
    b64 = server.predict({"instances": [{"b64": base64.b64encode(t.encode()).decode()} for t in TEXTS]})
    plain = server.predict({"instances": TEXTS})
    assert named == plain == b64


def test_column_format_answers_one_list_per_output(server):
    status, answer = server.predict({"inputs": {"text": TEXTS}})
    assert status == 200
    outputs = answer["outputs"]
    np.testing.assert_allclose(outputs["probabilities"], expected_probabilities(TEXTS), atol=1e-6)
    assert outputs["label_id"] == expected_probabilities(TEXTS).argmax(axis=1).tolist()
    assert server.predict({"inputs": TEXTS}) == (200, answer)  # a bare value for a one-input signature


def test_every_signature_in_both_formats(server):
    titles, bodies = ["good", "", "a b"], ["film", "x", ""]
    joined = [f"{t}\n{b}" for t, b in zip(titles, bodies)]
    rows = server.predict({"signature_name": "serving_columns",
                           "instances": [{"title": t, "body": b} for t, b in zip(titles, bodies)]})
    columns = server.predict({"signature_name": "serving_columns", "inputs": {"title": titles, "body": bodies}})
    np.testing.assert_allclose([p["probabilities"] for p in rows[1]["predictions"]],
                               expected_probabilities(joined), atol=1e-6)
    np.testing.assert_allclose(columns[1]["outputs"]["probabilities"], expected_probabilities(joined), atol=1e-6)

    ids = [[1, 2, 3, 0], [50, 0, 0, 0]]
    status, answer = server.predict({"signature_name": "serving_token_ids", "inputs": {"token_ids": ids}})
    assert status == 200
    positive = 1 / (1 + np.exp(-np.array([0.06, 0.5])))
    np.testing.assert_allclose(np.array(answer["outputs"]["probabilities"])[:, 1], positive, atol=1e-6)
    assert server.predict({"signature_name": "serving_token_ids", "instances": ids})[1]["predictions"][1][
        "probabilities"] == answer["outputs"]["probabilities"][1]

    status, answer = server.predict({"signature_name": "explain", "instances": ["good film", "ok"]})
    assert status == 200
    assert [p["tokens"] for p in answer["predictions"]] == [["good", "film"], ["ok", ""]]
    np.testing.assert_allclose([p["attributions"] for p in answer["predictions"]], [[0.4, 0.4], [0.2, 0.0]],
                               atol=1e-6)
    # One output: bare values, as TF Serving answers.
    assert server.predict({"signature_name": "spin", "instances": [3, 4]}) == (200, {"predictions": [3, 4]})
    assert server.predict({"signature_name": "spin", "inputs": [3, 4]}) == (200, {"outputs": [3, 4]})


@pytest.mark.parametrize("body, status, message", [
    ('{"instances": ["a"', 400, "JSON Parse error"),
    ("not json at all", 400, "JSON Parse error"),
    (b"\xff\xfe\x00", 400, "JSON Parse error"),
    ('["a"]', 400, "must be a JSON object"),
    ("{}", 400, "Missing 'instances' or 'inputs'"),
    ('{"text": ["a"]}', 400, "Missing 'instances' or 'inputs'"),
    ('{"instances": ["a"], "inputs": ["a"]}', 400, "exactly one of"),
    ('{"instances": []}', 400, "no example"),
    ('{"inputs": {"text": []}}', 400, "no example"),
    ('{"instances": "a"}', 400, "must be a list"),
    ('{"instances": [1, 2]}', 400, "takes strings"),
    ('{"instances": [null]}', 400, "takes strings"),
    ('{"instances": [["a"]]}', 400, "nested deeper"),
    ('{"instances": [{"txt": "a"}]}', 400, "takes exactly ['text']"),
    ('{"instances": [{"text": "a"}, "b"]}', 400, "mixes objects"),
    ('{"inputs": {"text": ["a"], "more": ["b"]}}', 400, "takes exactly ['text']"),
    ('{"instances": [{"b64": "***"}]}', 400, "not valid base64"),
    ('{"signature_name": "nope", "instances": ["a"]}', 400, 'signature name: "nope" not found'),
    ('{"signature_name": 3, "instances": ["a"]}', 400, "signature_name must be a string"),
    ('{"signature_name": "serving_token_ids", "inputs": [[1, 2], [3]]}', 400, "ragged"),
    ('{"signature_name": "serving_token_ids", "inputs": [[1.5]]}', 400, "takes integers"),
    ('{"signature_name": "serving_token_ids", "inputs": [[true]]}', 400, "takes integers"),
    ('{"signature_name": "serving_token_ids", "inputs": [[99999999999999999999999]]}', 400, "out of range"),
    ('{"signature_name": "serving_columns", "inputs": ["a"]}', 400, "several inputs"),
    ('{"signature_name": "serving_columns", "inputs": {"title": ["a"], "body": ["b", "c"]}}', 400,
     "different numbers of examples"),
    ('{"instances": ["a"], "extra": 1}', 400, "unknown key"),
    (json.dumps({"instances": ["a"] * 65}), 400, "at most 64 per request"),
])
def test_bad_requests_get_a_clear_4xx_and_the_server_keeps_serving(server, body, status, message):
    got_status, answer = server.predict(body)
    assert got_status == status
    assert message in answer["error"]
    assert server.predict({"instances": ["still here"]})[0] == 200


@pytest.mark.parametrize("method, path, status, message", [
    ("GET", "/v1/models/other", 404, "Servable not found for request: Latest(other)"),
    ("POST", "/v1/models/other:predict", 404, "Servable not found"),
    ("POST", "/v1/models/model/versions/7:predict", 404, "Specific(model, 7)"),
    ("GET", "/v1/models/model/versions/7", 404, "Specific(model, 7)"),
    ("POST", "/v1/models/model/labels/stable:predict", 404, "labels are not served"),
    ("POST", "/v1/models/model:classify", 400, "implements :predict"),
    ("GET", "/v1/models/model:predict", 405, "use POST"),
    ("POST", "/v1/models/model/metadata", 405, "use GET"),
    ("GET", "/v1/nothing/here", 404, "Malformed request"),
    ("GET", "/etc/passwd", 404, "Not Found"),
])
def test_unknown_models_versions_and_routes_get_404(server, method, path, status, message):
    got_status, answer = server.request(method, path, b"{}" if method == "POST" else None)
    assert (got_status, message in answer["error"]) == (status, True), answer


def test_a_body_over_the_limit_gets_413_and_the_server_keeps_serving(server):
    body = json.dumps({"instances": ["x" * 1000] * 10_000})  # 10 MB
    status, answer = server.predict(body)
    assert status == 413
    assert "--max-body-bytes" in answer["error"]
    assert server.predict({"instances": ["ok"]})[0] == 200


def test_clients_that_disconnect_mid_request_do_not_hurt_the_server(server):
    for cut in (10, 100):
        with socket.create_connection(("127.0.0.1", server.port)) as connection:
            body = json.dumps({"instances": ["x"] * 50}).encode()
            connection.sendall(b"POST /v1/models/model:predict HTTP/1.1\r\nHost: x\r\nContent-Type: "
                               b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:cut])
    with socket.create_connection(("127.0.0.1", server.port)) as connection:  # leaves before the answer
        connection.sendall(b"POST /v1/models/model:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n"
                           b'{"instances": ["a"]}')
    assert server.predict({"instances": ["ok"]})[0] == 200
    assert server.process.poll() is None


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(server):
    texts = [[f"text number {i} " + "x" * i] for i in range(32)]
    calls_before = metric(server, "transformer_kit_serving_batch_size_count")
    texts_before = metric(server, "transformer_kit_serving_batch_size_sum")
    barrier = threading.Barrier(len(texts))

    def send(batch):
        barrier.wait()
        return server.predict({"instances": batch})

    with ThreadPoolExecutor(len(texts)) as pool:
        answers = list(pool.map(send, texts))
    for batch, (status, answer) in zip(texts, answers):
        assert status == 200
        np.testing.assert_allclose(answer["predictions"][0]["probabilities"], expected_probabilities(batch)[0],
                                   atol=1e-6)
    calls = metric(server, "transformer_kit_serving_batch_size_count") - calls_before
    assert metric(server, "transformer_kit_serving_batch_size_sum") - texts_before == len(texts)
    assert calls < len(texts), "no two requests shared a model call"


def test_metrics_count_requests_by_code_and_time_them(server):
    before = metric(server, "transformer_kit_serving_requests_total", '{code="400",route="predict"}')
    server.predict("{")
    text = server.request("GET", "/metrics")[1]
    assert metric(server, "transformer_kit_serving_requests_total", '{code="400",route="predict"}') == before + 1
    assert 'transformer_kit_serving_request_latency_seconds_bucket{le="0.1",route="predict"}' in text
    assert "transformer_kit_serving_model_version 1.0" in text


def wait_until_in_the_model(server, timeout=60):
    deadline = time.monotonic() + timeout
    while metric(server, "transformer_kit_serving_running_texts") < 1:
        assert time.monotonic() < deadline, "the request never reached the model"
        time.sleep(0.05)


def test_a_full_queue_answers_503_then_serves_again(request, toy_export):
    server = start(request, toy_export, "--max-queued", "2", "--max-batch-size", "1")
    busy = ThreadPoolExecutor(1).submit(server.predict, {"signature_name": "spin", "instances": [200_000]})
    wait_until_in_the_model(server)  # the next requests queue behind it
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda i: server.predict({"instances": [str(i)]}), range(6)))
    statuses = sorted(status for status, _ in answers)
    assert busy.result()[0] == 200
    assert statuses.count(503) >= 1 and set(statuses) <= {200, 503}, statuses
    assert all("at capacity" in answer["error"] for status, answer in answers if status == 503)
    assert server.predict({"instances": ["ok"]})[0] == 200


def test_a_request_past_the_timeout_gets_504(request, toy_export):
    server = start(request, toy_export, "--timeout", "0.3")
    status, answer = server.predict({"signature_name": "spin", "instances": [200_000]})
    assert status == 504 and "--timeout" in answer["error"]
    deadline = time.monotonic() + 60  # once the model is done with the abandoned call, answers come again
    while server.predict({"instances": ["ok"]})[0] != 200:
        assert time.monotonic() < deadline, "the server never answered again after a timeout"
        time.sleep(0.5)


def test_sigterm_finishes_the_request_in_flight_then_exits_0(request, toy_export):
    server = start(request, toy_export)
    in_flight = ThreadPoolExecutor(1).submit(server.predict, {"signature_name": "spin", "instances": [150_000]})
    wait_until_in_the_model(server)
    server.process.send_signal(signal.SIGTERM)
    assert in_flight.result(timeout=120) == (200, {"predictions": [150_000]})
    assert server.process.wait(60) == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()


def test_api_key_is_required_when_set(request, toy_export):
    server = start(request, toy_export, "--api-key-env", "SERVE_TEST_KEY", env={"SERVE_TEST_KEY": "s3cret"})
    status, answer = server.predict({"instances": ["a"]})
    assert status == 401 and "API key" in answer["error"]
    assert server.predict({"instances": ["a"]}, headers={"X-API-Key": "wrong"})[0] == 401
    assert server.request("GET", "/metrics")[0] == 401
    assert server.predict({"instances": ["a"]}, headers={"X-API-Key": "s3cret"})[0] == 200
    assert server.predict({"instances": ["a"]}, headers={"Authorization": "Bearer s3cret"})[0] == 200
    assert server.request("GET", "/")[0] == 200  # the page holds no data; its calls send the key


def test_a_new_version_is_served_without_restart_and_a_broken_one_is_ignored(request, tmp_path):
    base = tmp_path / "model"
    base.mkdir()
    save_toy(base / "1")
    server = start(request, base, "--poll-interval", "0.2")
    save_toy(base / "2", bias=5.0)
    deadline = time.monotonic() + 60
    while server.request("GET", "/v1/models/model")[1]["model_version_status"][0]["version"] != "2":
        assert time.monotonic() < deadline, "version 2 was not picked up"
        time.sleep(0.2)
    status, answer = server.predict({"instances": ["ab"]}, version=2)
    np.testing.assert_allclose(answer["predictions"][0]["probabilities"], expected_probabilities(["ab"], 5.0)[0],
                               atol=1e-6)
    assert server.predict({"instances": ["ab"]}, version=1)[0] == 404  # as TF Serving: the latest only

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
    broken.rename(base / "3")
    deadline = time.monotonic() + 60
    while "Version 3" not in server.stderr:
        assert time.monotonic() < deadline, "the broken version 3 was never tried"
        time.sleep(0.2)
    assert "cannot be loaded; still serving the one before" in server.stderr
    status, answer = server.request("GET", "/v1/models/model")
    assert [(v["version"], v["state"]) for v in answer["model_version_status"]] == [("2", "AVAILABLE"), ("3", "END")]
    assert server.predict({"instances": ["ab"]})[1] == answer_of(server, ["ab"], version=2)


def answer_of(server, texts, version):
    return server.predict({"instances": texts}, version=version)[1]


def test_serve_refuses_a_missing_directory_and_an_unset_api_key(tmp_path, toy_export):
    from transformer_kit.cli import main

    assert main(["serve", str(tmp_path / "missing"), "--port", "0"]) == 2
    os.environ.pop("SERVE_TEST_UNSET", None)
    assert main(["serve", str(toy_export), "--api-key-env", "SERVE_TEST_UNSET"]) == 2
    assert main(["serve", str(toy_export), "--port", "70000"]) == 2
    assert main(["serve", str(toy_export), "--max-batch-size", "0"]) == 2


# ------------------------------------------------------------------ slow: a real export, and the page


@pytest.fixture(scope="module")
def served_classifier(request, tmp_path_factory):
    """A tiny classifier trained on title + body (so it has all four signatures), saved, exported and served."""
    import pandas as pd

    from keyword_data import TINY, keyword_dataset
    from transformer_kit.classifier import TextClassifier

    texts, labels = keyword_dataset(210)
    halves = [text.split(" ") for text in texts]
    frame = pd.DataFrame({"title": [" ".join(h[: len(h) // 2]) for h in halves],
                          "body": [" ".join(h[len(h) // 2:]) for h in halves], "label": labels})
    classifier = TextClassifier(text_column=["title", "body"], **{**TINY, "epochs": 2}).fit(frame)
    folder = tmp_path_factory.mktemp("served")
    classifier.save(folder / "run")
    version_dir = classifier.export(folder / "sst2")
    server = start(request, folder / "sst2")
    return classifier, version_dir, server


def direct_outputs(version_dir, signature, inputs):
    import tensorflow as tf

    function = tf.saved_model.load(str(version_dir)).signatures[signature]
    specs = function.structured_input_signature[1]
    outputs = function(**{name: tf.constant(value, specs[name].dtype) for name, value in inputs.items()})
    return {name: value.numpy() for name, value in outputs.items()}


def assert_same_outputs(served, direct):
    assert set(served) == set(direct)
    for name, expected in direct.items():
        if expected.dtype == object:
            assert np.asarray(served[name]).tolist() == np.vectorize(lambda s: s.decode())(expected).tolist(), name
        else:
            np.testing.assert_allclose(np.asarray(served[name]), expected, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("signature, inputs", [
    ("serving_default", {"text": ["a wonderful film", "", "dreadful " * 40, "😀 unseen words"]}),
    ("serving_columns", {"title": ["wonderful", "", "the plot"], "body": ["film", "dreadful acting", ""]}),
    ("serving_token_ids", {"token_ids": [[2, 3, 4, 0], [5, 0, 0, 0], [99999, 1, 2, 3]]}),
    ("explain", {"text": ["a wonderful film", "dreadful, dreadful plot", ""]}),
])
def test_each_signature_of_a_real_export_equals_the_saved_model_called_directly(served_classifier, signature,
                                                                                 inputs):
    _, version_dir, server = served_classifier
    direct = direct_outputs(version_dir, signature, inputs)
    status, columns = server.predict({"signature_name": signature, "inputs": inputs}, model="sst2")
    assert status == 200, columns
    assert_same_outputs(columns["outputs"], direct)

    rows = [dict(zip(inputs, values)) for values in zip(*inputs.values())]
    instances = [row["text"] for row in rows] if list(inputs) == ["text"] else rows
    status, answer = server.predict({"signature_name": signature, "instances": instances}, model="sst2", version=1)
    assert status == 200, answer
    assert_same_outputs({name: [p[name] for p in answer["predictions"]] for name in direct}, direct)


def test_a_run_directory_is_exported_then_served(request, served_classifier):
    classifier, _, _ = served_classifier
    server = start(request, served_classifier[1].parent.parent / "run", "--model-name", "run")
    texts = ["a wonderful film\nreally", "dreadful\n"]
    status, answer = server.predict({"instances": texts}, model="run")
    assert status == 200
    np.testing.assert_allclose([p["probabilities"] for p in answer["predictions"]],
                               classifier.predict_proba(texts).to_numpy(), atol=1e-5)
    assert server.stop() == 0


def test_the_page_shows_labels_bars_and_shaded_tokens_in_a_real_browser(served_classifier):
    import shutil
    from pathlib import Path

    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the dev extra has it)")
    browser, driver_path = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if not browser or not driver_path:
        pytest.skip("no headless browser: install Debian's chromium and chromium-driver "
                    "(apt-get install chromium chromium-driver) to run the page test")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _, version_dir, server = served_classifier
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    try:
        driver.get(f"http://127.0.0.1:{server.port}/")
        assert driver.title.startswith("sst2")
        box = driver.find_element(By.ID, "text")
        box.clear()
        text = "a wonderful film with a dreadful ending"
        box.send_keys(text)
        driver.find_element(By.ID, "predict").click()
        WebDriverWait(driver, 60).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state"))
        assert driver.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "done", (
            driver.find_element(By.ID, "error").text)

        direct = direct_outputs(version_dir, "explain", {"text": [text]})
        probabilities = direct["probabilities"][0]
        rows = driver.find_elements(By.CSS_SELECTOR, "#labels .row")
        shown = {row.get_attribute("data-label"): row.find_element(By.CLASS_NAME, "value").text for row in rows}
        assert shown == {name: f"{100 * p:.1f}%" for name, p in zip(["negative", "positive"], probabilities)}
        assert rows[0].get_attribute("data-label") == direct["label"][0].decode()  # the top label first
        for row in rows:  # each bar is filled in proportion to its probability
            filled = row.find_element(By.CLASS_NAME, "fill").size["width"] / row.find_element(
                By.CLASS_NAME, "bar").size["width"]
            assert abs(100 * filled - float(row.find_element(By.CLASS_NAME, "value").text[:-1])) < 1.0
        tokens = driver.find_elements(By.CSS_SELECTOR, "#tokens span")
        assert [t.text for t in tokens] == [t.decode() for t in direct["tokens"][0] if t]
        assert all(t.value_of_css_property("background-color").startswith("rgba") for t in tokens)
        artifacts = Path(os.environ.get("TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "test-artifacts"))
        artifacts.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(artifacts / "serve_page.png"))
    finally:
        driver.quit()


# ------------------------------------------------------------------ the batcher alone, in-process


class RecordingModel:
    """Doubles each number; refuses a batch holding -1; records the size of every call."""

    def __init__(self):
        self.calls = []

    def call(self, signature, inputs):
        values = inputs["x"]
        self.calls.append(len(values))
        time.sleep(0.05)  # long enough for the other requests to queue behind this call
        if (values == -1).any():
            raise ValueError("-1 is refused")
        return {"y": values * 2}


def run_batcher(requests, **settings):
    """Submit `requests` (lists of numbers) concurrently; returns (answers or exceptions, model)."""
    import asyncio

    from transformer_kit.serving.batching import Batcher

    model = RecordingModel()

    async def main():
        batcher = Batcher(**settings)
        batcher.start()
        jobs = [batcher.submit(model, "s", {"x": np.array(r)}, len(r), True) for r in requests]
        answers = await asyncio.gather(*jobs, return_exceptions=True)
        await batcher.stop()
        return answers

    return asyncio.run(main()), model


def test_the_batcher_merges_requests_and_gives_each_its_own_rows():
    requests = [[i] * (1 + i % 3) for i in range(20)]
    answers, model = run_batcher(requests, max_batch_size=8)
    for request, answer in zip(requests, answers):
        np.testing.assert_array_equal(answer["y"], np.array(request) * 2)
    assert sum(model.calls) == sum(map(len, requests))
    assert max(model.calls) <= 8 and len(model.calls) < len(requests)


def test_one_bad_request_fails_alone_when_its_batch_fails():
    answers, model = run_batcher([[1], [2], [-1], [3]], max_batch_size=8)
    assert isinstance(answers[2], ValueError)
    assert [a["y"].tolist() for i, a in enumerate(answers) if i != 2] == [[2], [4], [6]]


def test_the_batcher_refuses_beyond_its_queue():
    from transformer_kit.serving.batching import Overloaded

    answers, _ = run_batcher([[1]] * 10, max_batch_size=1, max_queued=3)
    refused = [a for a in answers if isinstance(a, Overloaded)]
    assert 1 <= len(refused) <= 7 and all(isinstance(a, dict) or a in refused for a in answers)
