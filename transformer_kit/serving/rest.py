"""TensorFlow Serving's REST formats: request JSON -> named numpy inputs, outputs -> answer JSON.

Follows https://www.tensorflow.org/tfx/serving/api_rest: the row format
(`"instances"`: one item per example, a bare value when the signature has one
input, else an object naming every input) answers `{"predictions": [...]}`
(bare values when the signature has one output, else one object per example);
the column format (`"inputs"`: a bare value or an object of named inputs)
answers `{"outputs": ...}`. A string value may be given as `{"b64": "..."}`.
Every problem is a `RestError` with TF Serving's HTTP status and a message
that says what to send instead.
"""

import base64
import binascii
import json

import numpy as np

# TensorFlow Serving's HTTP status of each error kind (its canonical status codes mapped to HTTP).
INVALID_ARGUMENT, UNAUTHENTICATED, NOT_FOUND, TOO_LARGE, UNAVAILABLE, DEADLINE_EXCEEDED = 400, 401, 404, 413, 503, 504


class RestError(Exception):
    """A request the server answers with `{"error": message}` and HTTP `status`."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def parse_body(body):
    """The request's JSON object, or a 400 saying why it is not one."""
    try:
        request = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RestError(INVALID_ARGUMENT, f"JSON Parse error: {error}. Send a JSON object such as "
                        '{"instances": ["a text"]}.') from None
    if not isinstance(request, dict):
        raise RestError(INVALID_ARGUMENT, f"the request must be a JSON object, not {type(request).__name__}; "
                        'send {"instances": [...]} or {"inputs": ...}.')
    return request


def signature_name_of(request, signatures):
    """The request's `signature_name` (default `serving_default`), checked against the model's signatures."""
    name = request.get("signature_name", "serving_default")
    if not isinstance(name, str):
        raise RestError(INVALID_ARGUMENT, f"signature_name must be a string, not {json.dumps(name)[:80]}.")
    if name not in signatures:
        raise RestError(INVALID_ARGUMENT, f'Serving signature name: "{name[:200]}" not found in signature def. '
                        f"This model has: {', '.join(sorted(signatures))}.")
    return name


def named_inputs(request, specs, max_rows):
    """Row or column format -> ({input name: numpy array}, row format?, rows).

    Args:
        request: the parsed JSON object.
        specs: {input name: `tf.TensorSpec`} of the signature.
        max_rows: int, the most examples one request may hold.

    Returns:
        `(inputs, row_format, rows)`.
    """
    has_rows, has_columns = "instances" in request, "inputs" in request
    if has_rows == has_columns:
        raise RestError(INVALID_ARGUMENT, 'Missing \'instances\' or \'inputs\' key: send exactly one of '
                        '{"instances": ["text", ...]} (row format) or {"inputs": {"text": [...]}} (column format).')
    unknown = set(request) - {"instances", "inputs", "signature_name"}
    if unknown:
        raise RestError(INVALID_ARGUMENT, f"unknown key(s) {sorted(unknown)} in the request; "
                        "allowed: instances or inputs, and signature_name.")
    columns = _rows_to_columns(request["instances"], specs) if has_rows else _columns(request["inputs"], specs)
    inputs = {name: _as_array(value, specs[name], name) for name, value in columns.items()}
    rows = {len(array) for array in inputs.values()}
    if len(rows) != 1:
        raise RestError(INVALID_ARGUMENT, f"the inputs have different numbers of examples ({sorted(rows)}); "
                        "give every input one value per example.")
    (count,) = rows
    if count == 0:
        raise RestError(INVALID_ARGUMENT, "the request holds no example (an empty list); send at least one.")
    if count > max_rows:
        raise RestError(INVALID_ARGUMENT, f"the request holds {count} examples; this server takes at most "
                        f"{max_rows} per request (--max-texts). Split it into several requests.")
    return inputs, has_rows, count


def _rows_to_columns(instances, specs):
    if not isinstance(instances, list):
        raise RestError(INVALID_ARGUMENT, f"'instances' must be a list (one item per example), not "
                        f"{type(instances).__name__}.")
    names = sorted(specs)
    named = [isinstance(item, dict) and not _is_b64(item) for item in instances]
    if any(named) and not all(named):
        raise RestError(INVALID_ARGUMENT, "'instances' mixes objects and bare values; use one or the other.")
    if not all(named):
        if len(names) != 1:
            raise RestError(INVALID_ARGUMENT, f"this signature has several inputs ({', '.join(names)}): each "
                            "item of 'instances' must be an object naming all of them.")
        return {names[0]: instances}
    columns = {name: [] for name in names}
    for row, item in enumerate(instances):
        if set(item) != set(names):
            raise RestError(INVALID_ARGUMENT, f"instances[{row}] has keys {sorted(item)[:10]}; this signature "
                            f"takes exactly {names}.")
        for name in names:
            columns[name].append(item[name])
    return columns


def _columns(inputs, specs):
    names = sorted(specs)
    if isinstance(inputs, dict) and not _is_b64(inputs):
        if set(inputs) != set(names):
            raise RestError(INVALID_ARGUMENT, f"'inputs' has keys {sorted(inputs)[:10]}; this signature "
                            f"takes exactly {names}.")
        return inputs
    if len(names) != 1:
        raise RestError(INVALID_ARGUMENT, f"this signature has several inputs ({', '.join(names)}): 'inputs' "
                        "must be an object naming all of them.")
    return {names[0]: inputs}


def _is_b64(value):
    return isinstance(value, dict) and set(value) == {"b64"}


def _as_array(value, spec, name):
    """A nested JSON list -> numpy array of the spec's dtype and rank, or a 400 naming the input."""
    rank = len(spec.shape)
    if rank == 0 or not isinstance(value, list):
        raise RestError(INVALID_ARGUMENT, f"input '{name}' must be a list (one value per example) of rank "
                        f"{rank}, not {type(value).__name__}.")
    is_string = spec.dtype.name == "string"
    leaves, shape = [], []
    _flatten(value, rank, leaves, shape, 0, name)
    if is_string:
        converted = [_as_bytes(leaf, name) for leaf in leaves]
        array = np.empty(len(converted), dtype=object)
        array[:] = converted
    else:
        converted = [_as_number(leaf, spec.dtype, name) for leaf in leaves]
        array = np.asarray(converted, dtype=spec.dtype.as_numpy_dtype)
    array = array.reshape(shape)
    for axis, (expected, got) in enumerate(zip(spec.shape.as_list(), shape)):
        if expected is not None and expected != got and axis > 0:
            raise RestError(INVALID_ARGUMENT, f"input '{name}' has size {got} in dimension {axis}; "
                            f"the signature expects {expected}.")
    return array


def _flatten(value, rank, leaves, shape, depth, name):
    if depth == rank:
        if isinstance(value, list):
            raise RestError(INVALID_ARGUMENT, f"input '{name}' is nested deeper than its rank {rank}.")
        leaves.append(value)
        return
    if not isinstance(value, list):
        raise RestError(INVALID_ARGUMENT, f"input '{name}' must be nested {rank} list(s) deep; found "
                        f"{json.dumps(value)[:60]} at depth {depth}.")
    if len(shape) == depth:
        shape.append(len(value))
    elif shape[depth] != len(value):
        raise RestError(INVALID_ARGUMENT, f"input '{name}' is ragged: lists at depth {depth} have lengths "
                        f"{shape[depth]} and {len(value)}; pad them to one length.")
    for item in value:
        _flatten(item, rank, leaves, shape, depth + 1, name)


def _as_bytes(leaf, name):
    if isinstance(leaf, str):
        return leaf.encode("utf-8", "surrogatepass")
    if _is_b64(leaf) and isinstance(leaf["b64"], str):
        try:
            return base64.b64decode(leaf["b64"], validate=True)
        except (binascii.Error, ValueError):
            raise RestError(INVALID_ARGUMENT, f"input '{name}': {leaf['b64'][:40]!r} is not valid base64.") from None
    raise RestError(INVALID_ARGUMENT, f"input '{name}' takes strings; got {json.dumps(leaf)[:60]}.")


def _as_number(leaf, dtype, name):
    integer = dtype.is_integer
    valid = isinstance(leaf, int) if integer else isinstance(leaf, (int, float))
    if not valid or isinstance(leaf, bool):
        kind = "integers" if integer else "numbers"
        raise RestError(INVALID_ARGUMENT, f"input '{name}' takes {kind} ({dtype.name}); got {json.dumps(leaf)[:60]}.")
    if integer and not dtype.min <= leaf <= dtype.max:
        raise RestError(INVALID_ARGUMENT, f"input '{name}': {leaf} is out of range for {dtype.name}.")
    return leaf


def answer(outputs, row_format):
    """The JSON answer TF Serving gives for these outputs (name -> numpy array of the request's rows)."""
    values = {name: _jsonable(array) for name, array in outputs.items()}
    if not row_format:
        return {"outputs": next(iter(values.values())) if len(values) == 1 else values}
    if len(values) == 1:
        return {"predictions": next(iter(values.values()))}
    rows = len(next(iter(outputs.values())))
    return {"predictions": [{name: value[row] for name, value in values.items()} for row in range(rows)]}


def _jsonable(array):
    if array.dtype == object or array.dtype.kind == "S":
        return np.vectorize(lambda s: s.decode("utf-8", "replace"), otypes=[object])(array).tolist()
    return array.tolist()
