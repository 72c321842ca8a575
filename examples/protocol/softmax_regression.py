#!/usr/bin/env python3
"""A training program that speaks discipline's trial protocol with the standard library only.

Softmax regression on a synthetic, seeded 3-class problem, trained with SGD (momentum and L2
weight decay as PyTorch applies them). It shows the protocol without any helper (see
Docs/PROTOCOL.md): read the spec and schedule, set the learning rate and momentum before each
step, report `train`, `val`, `test` and `end` events, and stop when the stop file appears.
discipline's tests run it as `--command`; run alone it trains 300 steps at lr 0.1.

    discipline tune --command "python3 examples/protocol/softmax_regression.py" --budget 1m
"""
import json
import math
import os
import random
import sys
import time

FEATURES, CLASSES = 6, 3


def make_data(count, seed):
    """Points around three seeded centres, with label noise from overlap."""
    rng = random.Random(1234)
    centres = [[rng.gauss(0, 1.2) for _ in range(FEATURES)] for _ in range(CLASSES)]
    rng = random.Random(seed)
    data = []
    for _ in range(count):
        label = rng.randrange(CLASSES)
        data.append(([c + rng.gauss(0, 1.0) for c in centres[label]], label))
    return data


def loss_and_gradient(weights, batch, weight_decay):
    """Mean cross-entropy over the batch, its gradient, and the batch's accuracy."""
    grad = [[0.0] * (FEATURES + 1) for _ in range(CLASSES)]
    total, correct = 0.0, 0
    for x, y in batch:
        logits = [sum(w[i] * x[i] for i in range(FEATURES)) + w[FEATURES] for w in weights]
        top = max(logits)
        exps = [math.exp(min(50.0, z - top)) for z in logits]
        norm = sum(exps)
        probs = [e / norm for e in exps]
        total -= math.log(max(probs[y], 1e-300))
        correct += max(range(CLASSES), key=lambda k: logits[k]) == y
        for k in range(CLASSES):
            d = probs[k] - (1.0 if k == y else 0.0)
            for i in range(FEATURES):
                grad[k][i] += d * x[i]
            grad[k][FEATURES] += d
    n = len(batch)
    for k in range(CLASSES):
        for i in range(FEATURES + 1):
            grad[k][i] = grad[k][i] / n + weight_decay * weights[k][i]
    return total / n, grad, correct / n


def evaluate(weights, data):
    loss, _, accuracy = loss_and_gradient(weights, data, 0.0)
    return loss, accuracy


def main():
    spec_path = os.environ.get("DISCIPLINE_SPEC")
    spec, rows = {}, []
    if spec_path:
        with open(spec_path) as f:
            spec = json.load(f)
        if spec.get("protocol") != 1:
            sys.exit(f"{spec_path}: protocol {spec.get('protocol')} is not 1")
        with open(os.path.join(os.path.dirname(spec_path), spec["schedule"])) as f:
            for number, line in enumerate(f.read().splitlines()[1:], start=2):
                step, lr, momentum = line.split(",")
                rows.append((float(lr), float(momentum)))
    steps = len(rows) if spec_path else 300
    batch_size = spec.get("batch_size", 32)
    seed = spec.get("seed", 0)
    weight_decay = spec.get("weight_decay", 0.0)
    validate_at = set(spec.get("validate_at", [100, 200, 300]))
    final = spec.get("final", False)
    events = open(os.environ["DISCIPLINE_EVENTS"], "a") if spec_path else None
    stop_file = os.environ.get("DISCIPLINE_STOP")
    started = time.monotonic()

    def report(event, **fields):
        fields = {"event": event, **fields, "time": time.monotonic() - started}
        if events:
            events.write(json.dumps(fields) + "\n")
            events.flush()
        elif event != "train":
            print(fields)

    time.sleep(float(os.environ.get("SOFTMAX_STARTUP_SECONDS", "0")))
    train = make_data(1600, seed=7)
    validation, test = train[1200:], make_data(600, seed=8)
    if not final:
        train = train[:1200]
    report("start", protocol=1, honours=[], train_samples=len(train))
    rng = random.Random(seed)
    weights = [[rng.gauss(0, 0.01) for _ in range(FEATURES + 1)] for _ in range(CLASSES)]
    velocity = [[0.0] * (FEATURES + 1) for _ in range(CLASSES)]
    order, position = [], 0
    done = 0
    parent = int(os.environ.get("DISCIPLINE_PID", "0"))
    # For discipline's tests: a final run that turns slower than the trials measured, and a
    # program that starts slowly and validates slowly (a large split, whatever
    # validation_batches says), as real scripts do.
    slow_final = float(os.environ.get("SOFTMAX_SLOW_FINAL", "0")) if final else 0
    slow_validation = float(os.environ.get("SOFTMAX_VALIDATION_SECONDS", "0"))
    for k in range(steps):
        if stop_file and os.path.exists(stop_file):
            break
        if parent and k % 1000 == 0:
            try:
                os.kill(parent, 0)  # discipline died (killed): its trials will be resumed
            except ProcessLookupError:
                break
        if slow_final and k > 100:
            time.sleep(slow_final)
        if rows and k % 1000 == 0:  # discipline may shorten a final run: read it again
            with open(os.path.join(os.path.dirname(spec_path), "schedule.csv")) as f:
                lines = f.read().splitlines()[1:]
            if len(lines) != len(rows):
                rows = [(float(l.split(",")[1]), float(l.split(",")[2])) for l in lines]
                with open(spec_path) as f:
                    validate_at = set(json.load(f)["validate_at"])
                steps = len(rows)
        if k >= steps:
            break
        lr, momentum = rows[k] if rows else (0.1, 0.9)
        if position + batch_size > len(order):
            order, position = list(range(len(train))), 0
            rng.shuffle(order)
        batch = [train[i] for i in order[position:position + batch_size]]
        position += batch_size
        loss, grad, _ = loss_and_gradient(weights, batch, weight_decay)
        for c in range(CLASSES):
            for i in range(FEATURES + 1):
                velocity[c][i] = momentum * velocity[c][i] + grad[c][i]
                weights[c][i] -= lr * velocity[c][i]
        done = k + 1
        report("train", step=k, loss=loss if math.isfinite(loss) else float("nan"), samples=len(batch))
        if not math.isfinite(loss):
            break
        if done in validate_at:
            # A final run trains on all the data; its curve is measured on the test split.
            time.sleep(slow_validation)
            vloss, vaccuracy = evaluate(weights, test if final else validation)
            report("val", step=done, loss=vloss, accuracy=vaccuracy)
    if final or not spec_path:
        time.sleep(slow_validation)
        tloss, taccuracy = evaluate(weights, test)
        report("test", step=done, loss=tloss, accuracy=taccuracy)
        if spec.get("save_model"):
            with open(os.path.join(os.path.dirname(spec_path), spec["save_model"]), "w") as f:
                json.dump(weights, f)
    report("end", steps=done)


if __name__ == "__main__":
    main()
