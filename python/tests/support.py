"""Shared helpers of the tests: paths, spec directories, events, synthetic IDX data.

The tests run from the repository root without installing the package:
    /usr/bin/python3 -m unittest discover -s python/tests -v
"""
import gzip
import json
import os
import random
import struct
import sys
import tempfile

PYTHON_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
REPO = os.path.dirname(PYTHON_DIR)
EXAMPLE = os.path.join(REPO, "examples", "pytorch", "fashion_mnist.py")
FASHION = "/usr/share/datasets/fashion-mnist"
if PYTHON_DIR not in sys.path:
    sys.path.insert(0, PYTHON_DIR)

try:
    import torch
except ImportError:  # CI installs it; without it the torch tests are skipped
    torch = None


def make_spec(directory, steps=10, schedule=None, **fields):
    """Writes spec.json and schedule.csv into `directory`; returns the environment that
    discipline would give the program (DISCIPLINE_* plus PYTHONPATH for the package).
    `schedule`: the CSV text, default a linear lr ramp with momentum falling from 0.95."""
    spec = {"protocol": 1, "kind": "trial", "key": "test/trial", "batch_size": 16, "seed": 3,
            "weight_decay": 0.001, "dropout": 0.25, "augmentation": "none", "steps": steps,
            "schedule": "schedule.csv", "validate_at": [], "validation_batches": None,
            "final": False, "save_model": None, "max_seconds": None}
    spec.update(fields)
    with open(os.path.join(directory, "spec.json"), "w") as f:
        json.dump(spec, f, indent=2)
    if schedule is None:
        schedule = "step,lr,momentum\n" + "".join(
            "%d,%r,%r\n" % (i, 0.01 * (i + 1), round(0.95 - 0.001 * i, 6)) for i in range(steps))
    with open(os.path.join(directory, "schedule.csv"), "w") as f:
        f.write(schedule)
    return environment(directory)


def environment(directory, base=None):
    env = dict(os.environ if base is None else base)
    env.update(DISCIPLINE_SPEC=os.path.join(directory, "spec.json"),
               DISCIPLINE_EVENTS=os.path.join(directory, "events.jsonl"),
               DISCIPLINE_STOP=os.path.join(directory, "stop"), DISCIPLINE_DIR=directory)
    env["PYTHONPATH"] = PYTHON_DIR + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def plain_environment():
    """os.environ without any DISCIPLINE_* variable, with the package on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISCIPLINE_")}
    env["PYTHONPATH"] = PYTHON_DIR
    return env


def read_events(directory):
    """The events of events.jsonl, each line parsed (NaN/Infinity accepted)."""
    path = os.path.join(directory, "events.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f]


def write_idx(path, array_bytes, dims):
    """An IDX file of unsigned bytes (gzip if the name ends in .gz)."""
    data = bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(array_bytes)
    with (gzip.open if path.endswith(".gz") else open)(path, "wb") as f:
        f.write(data)


def fashion_dir():
    """The real Fashion-MNIST directory when it is installed, else a temporary directory of
    synthetic IDX files in the same layout (1,000 training and 200 test images: raw training
    files, gzip test files, so both readers run)."""
    names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    if all(os.path.exists(os.path.join(FASHION, n)) or os.path.exists(os.path.join(FASHION, n + ".gz")) for n in names):
        return FASHION
    d = tempfile.mkdtemp(prefix="fashion-")
    rng = random.Random(0)
    for prefix, n, ext in (("train", 1000, ""), ("t10k", 200, ".gz")):
        labels = [rng.randrange(10) for _ in range(n)]
        # images whose brightness depends on the label, so a few steps can learn something
        pixels = bytearray(min(255, 20 * label + rng.randrange(40)) for label in labels for _ in range(784))
        write_idx(os.path.join(d, "%s-images-idx3-ubyte%s" % (prefix, ext)), pixels, [n, 28, 28])
        write_idx(os.path.join(d, "%s-labels-idx1-ubyte%s" % (prefix, ext)), labels, [n])
    return d


def gentle_schedule(steps, lr=0.01, momentum=0.9):
    """schedule.csv text of `steps` rows: lr rising from lr/10 to lr, then falling, and a
    momentum that moves a little, so every row is distinct and training stays finite."""
    rows = []
    for i in range(steps):
        x = i / max(steps - 1, 1)
        rows.append("%d,%r,%r\n" % (i, round(lr * (0.1 + 0.9 * (1 - abs(2 * x - 1))), 9), round(momentum - 0.05 * x, 6)))
    return "step,lr,momentum\n" + "".join(rows)


def check_events(test, events, metrics=()):
    """Asserts what discipline's event checker asserts (Docs/PROTOCOL.md): `start` first with
    protocol 1; `train` steps 0, 1, 2, ... in order with a loss and positive samples; `val` and
    `test` steps within the steps done, a loss, accuracy in [0, 1] when present and only
    declared metrics; times in order; `end` last, once, with the count of train events.
    Returns the train events' count."""
    test.assertGreaterEqual(len(events), 2, events)
    start = events[0]
    test.assertEqual((start["event"], start["protocol"]), ("start", 1))
    test.assertIsInstance(start["honours"], list)
    declared = start.get("metrics", {})
    test.assertTrue(all(d in ("higher", "lower") for d in declared.values()), declared)
    test.assertEqual(sorted(declared), sorted(metrics))
    test.assertEqual(events[-1]["event"], "end")
    done = 0
    for e in events[1:-1]:
        kind = e["event"]
        test.assertIn(kind, ("train", "val", "test"), e)
        if kind == "train":
            test.assertEqual(e["step"], done, e)
            test.assertGreater(e["samples"], 0, e)
            test.assertIn("loss", e)
            done += 1
        else:
            test.assertTrue(1 <= e["step"] <= done, (e, done))
            test.assertIsInstance(e["loss"], float)
            if "accuracy" in e:
                test.assertTrue(0 <= e["accuracy"] <= 1, e)
            for name, value in e.get("metrics", {}).items():
                test.assertIn(name, declared, e)
                test.assertTrue(value is None or isinstance(value, (int, float)), e)
    test.assertEqual(events[-1]["steps"], done)
    times = [e["time"] for e in events]
    test.assertEqual(times, sorted(times))
    return done
