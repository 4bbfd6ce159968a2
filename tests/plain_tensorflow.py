"""Call an exported signature in a fresh Python that imports TensorFlow alone, as a server would."""

import json
import subprocess
import sys
import textwrap

import numpy as np

_SCRIPT = textwrap.dedent(
    """
    import importlib, json, sys
    import numpy as np
    import tensorflow as tf

    version_dir, signatures, texts_file, *requires = sys.argv[1:]
    for module in requires:  # e.g. tensorflow_text, as an export's metadata "load_requires" lists
        importlib.import_module(module)
    texts = json.loads(open(texts_file, encoding="utf-8").read())
    loaded = tf.saved_model.load(version_dir)
    decode = np.vectorize(lambda s: s.decode("utf-8"), otypes=[str])
    for signature in signatures.split(","):
        outputs = loaded.signatures[signature](text=tf.constant(texts))
        saved = {}
        for name, value in outputs.items():
            saved[name] = decode(value.numpy()) if value.dtype == tf.string else value.numpy()
            saved["dtype__" + name] = np.array(value.dtype.name)
        np.savez(f"outputs_{signature}.npz", **saved)
    assert "transformer_kit" not in sys.modules, "the export must not need transformer_kit"
    assert "keras_hub" not in sys.modules, "the export must not need keras_hub"
    """
)


def serve_in_plain_tensorflow(version_dir, texts, folder, signature="serving_default", requires=()):
    """Outputs of `signature` on `texts`, computed by a subprocess that never imports transformer_kit.

    Args:
        version_dir: the SavedModel version directory.
        texts: list of str, the `text` input.
        folder: a `pathlib.Path` to write the script and its files in.
        signature: str, the signature's name.
        requires: module names the subprocess imports before loading (and nothing else).

    Returns:
        `(outputs, dtypes)`: name -> numpy array (strings decoded), and name -> TensorFlow dtype name.
    """
    return serve_signatures_in_plain_tensorflow(version_dir, texts, folder, [signature], requires)[signature]


def serve_signatures_in_plain_tensorflow(version_dir, texts, folder, signatures, requires=()):
    """`serve_in_plain_tensorflow` for several signatures of one export, in one subprocess (one TF start-up).

    Returns:
        dict: signature name -> `(outputs, dtypes)`.
    """
    (folder / "texts.json").write_text(json.dumps(texts), encoding="utf-8")
    (folder / "serve.py").write_text(_SCRIPT)
    subprocess.run([sys.executable, "serve.py", str(version_dir), ",".join(signatures), "texts.json", *requires],
                   cwd=folder, check=True, capture_output=True)
    results = {}
    for signature in signatures:
        saved = np.load(folder / f"outputs_{signature}.npz")
        outputs = {name: saved[name] for name in saved.files if not name.startswith("dtype__")}
        dtypes = {name[len("dtype__"):]: str(saved[name]) for name in saved.files if name.startswith("dtype__")}
        results[signature] = (outputs, dtypes)
    return results
