"""The page at `GET /`: type a text, see the predicted labels with probability bars and the shaded tokens.

A single self-contained HTML document (no external scripts, styles or
fonts): it calls the server's own REST API, `serving_default` for the
probabilities and, for single-label exports, `explain` for the tokens.
"""

import html
import json

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__ — transformer_kit</title>
<style>
 body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
 textarea { width: 100%; box-sizing: border-box; font: inherit; padding: .5rem; }
 button { font: inherit; padding: .3rem 1.2rem; margin-top: .5rem; }
 .row { display: flex; align-items: center; gap: .6rem; margin: .25rem 0; }
 .name { width: 10rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
 .bar { flex: 1; background: #eee; height: 1.1rem; border-radius: 3px; }
 .fill { display: block; background: #3b7dd8; height: 100%; border-radius: 3px; }
 .top .fill { background: #1f9d55; }
 .value { width: 4rem; text-align: right; font-variant-numeric: tabular-nums; }
 #tokens span { padding: 0 .15rem; margin: 0 .05rem; border-radius: 3px; }
 #error { color: #b00020; white-space: pre-wrap; }
 small { color: #666; }
</style></head>
<body>
<h1>__TITLE__</h1>
<p><small>Model <code>__TITLE__</code>, served with TensorFlow Serving's REST API at
<code>/v1/models/__TITLE__:predict</code>.</small></p>
<label for="text">Text</label>
<textarea id="text" rows="4">a gripping, funny and moving film</textarea>
<details><summary><small>API key</small></summary>
<input id="key" type="password" autocomplete="off" placeholder="only if the server asks for one"></details>
<button id="predict" type="button">Predict</button>
<div id="error" role="alert"></div>
<section id="result" hidden>
 <h2>Labels</h2><div id="labels"></div>
 <div id="explained" hidden><h2>Why <span id="why"></span></h2><p id="tokens"></p>
 <p><small>Green tokens push towards the predicted label, red ones away from it.</small></p></div>
</section>
<script>
const MODEL = __MODEL__, CLASSES = __CLASSES__, EXPLAIN = __EXPLAIN__;
const $ = (id) => document.getElementById(id);

async function call(body) {
  const headers = {"Content-Type": "application/json"};
  if ($("key").value) headers["X-API-Key"] = $("key").value;
  const response = await fetch("/v1/models/" + encodeURIComponent(MODEL) + ":predict",
                               {method: "POST", headers, body: JSON.stringify(body)});
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer.predictions[0];
}

function showLabels(prediction) {
  const probabilities = prediction.probabilities;
  const names = CLASSES || probabilities.map((_, i) => String(i));
  const order = probabilities.map((p, i) => i).sort((a, b) => probabilities[b] - probabilities[a]);
  $("labels").replaceChildren(...order.map((i, rank) => {
    const row = document.createElement("div");
    row.className = "row" + (rank === 0 ? " top" : "");
    row.dataset.label = names[i];
    row.innerHTML = '<span class="name"></span><span class="bar"><span class="fill"></span></span>' +
                    '<span class="value"></span>';
    row.querySelector(".name").textContent = names[i];
    row.querySelector(".fill").style.width = (100 * probabilities[i]).toFixed(1) + "%";
    row.querySelector(".value").textContent = (100 * probabilities[i]).toFixed(1) + "%";
    return row;
  }));
}

function showTokens(explanation) {
  const scale = Math.max(1e-9, ...explanation.attributions.map(Math.abs));
  const spans = [];
  explanation.tokens.forEach((token, i) => {
    if (!token) return;
    const a = explanation.attributions[i] / scale, span = document.createElement("span");
    span.textContent = token;
    span.title = explanation.attributions[i].toFixed(4);
    span.style.background = a >= 0 ? `rgba(31,157,85,${a.toFixed(3)})` : `rgba(200,40,40,${(-a).toFixed(3)})`;
    spans.push(span, document.createTextNode(" "));
  });
  $("why").textContent = explanation.label;
  $("tokens").replaceChildren(...spans);
  $("explained").hidden = false;
}

async function predict() {
  $("error").textContent = "";
  $("predict").disabled = true;
  try {
    const text = $("text").value;
    showLabels(await call({instances: [text]}));
    $("result").hidden = false;
    if (EXPLAIN) showTokens(await call({signature_name: "explain", instances: [text]}));
    document.body.dataset.state = "done";
  } catch (error) {
    $("error").textContent = error.message;
    document.body.dataset.state = "error";
  } finally {
    $("predict").disabled = false;
  }
}
$("predict").addEventListener("click", predict);
$("text").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) predict(); });
</script>
</body></html>
"""


def _script_json(value):
    # Inside <script>, "</" could end the element early: escape "<".
    return json.dumps(value).replace("<", "\\u003c")


def page_html(model_name, classes, explain):
    """The page for one model.

    Args:
        model_name: str, the NAME in `/v1/models/NAME`.
        classes: list of class names (the columns of `probabilities`), or `None`.
        explain: bool, whether to call the `explain` signature for shaded tokens.

    Returns:
        str, the HTML document.

    Example:

    >>> "/v1/models/sst2:predict" in page_html("sst2", ["negative", "positive"], True)
    True
    """
    return (_PAGE.replace("__TITLE__", html.escape(model_name)).replace("__MODEL__", _script_json(model_name))
            .replace("__CLASSES__", _script_json(classes)).replace("__EXPLAIN__", _script_json(bool(explain))))
