"""fastai's usual workflow (lr_find, then fit_one_cycle for as many epochs as fit in a wall-clock
budget), written in plain PyTorch: the other side of `discipline tune`'s comparison.

Why: issue #17 asks that "each tune beats the fastai workflow on the same network and data by at
least 0.5 points at the same 20 minutes". fastai itself is not installed (and would bring its own
data pipeline); this script reproduces what a fastai user gets from
`learn.lr_find()` + `learn.fit_one_cycle(n, lr)` with fastai's defaults, on the project's `cnn`
(../shared/reference/models.py) and the same Fashion-MNIST IDX files, normalized with the
training set's mean and std, exactly as scripts/pytorch_reference_fit.py loads them.

    /usr/bin/python3 scripts/fastai_workflow.py --budget 1200 --lr valley --out runs/fastai.jsonl
    /usr/bin/python3 scripts/fastai_workflow.py --budget 1200 --lr 1e-3  --out runs/fastai.jsonl

(`/usr/bin/python3` is Debian's interpreter with PyTorch 1.13; the `python3` on PATH may lack it.)
Against: `discipline tune --dataset fashion-mnist --model cnn --budget 20m` on the same machine,
with the same number of threads (`--threads`, default 2).

What it does, as fastai does by default (fastai/callback/schedule.py, fastai/optimizer.py):
 1. lr_find: from the fresh model, lr = 1e-7 * (10/1e-7)**(i/100) for batches i = 0..99 at batch
    64, Adam (beta1 0.9) as below; the training loss smoothed by an exponential moving average
    (beta 0.98, bias-corrected, fastai's AvgSmoothLoss); stops once the smoothed loss exceeds 4x
    its minimum; weights (and BatchNorm statistics) restored afterwards. Suggestion: fastai's
    `valley` on the recorded curve without its first num_it//10 and last 5 points (and cut at a
    first NaN), as `Learner.lr_find` does. `valley` is copied in behaviour, quirks included: the
    "valley" is the longest decreasing subsequence of the smoothed losses; its start is taken as
    end - length (one before the subsequence's first point) and the suggestion is the point
    int(len/3) + int(len/6) after that start.
 2. fit_one_cycle(epochs, lr): fastai's Adam = AdamW here (decoupled weight decay wd 0.01, not
    applied to BatchNorm parameters nor biases: Learner's wd_bn_bias=False; eps 1e-5; betas
    (mom, 0.99)); before batch k of `total`, pos = k/total, lr = combined_cos(0.25, lr/25, lr,
    lr/1e5)(pos) and beta1 = combined_cos(0.25, 0.95, 0.85, 0.95)(pos), both phases cosine.
    Batch 64, shuffled, the last partial batch dropped (fastai's train DataLoader).
 3. Epochs: the budget (--budget seconds, default 1200) counts everything from the script's start:
    data loading, lr_find, the timing below, training and each epoch's test evaluation. After
    lr_find, 100 training steps on a throwaway copy of the model time a step (the last 90 are
    measured) and a forward pass over 2,000 test images times an evaluation (x5); the plan is the
    largest whole number of epochs whose estimate, plus --margin, ends within the budget (at
    least 1). No validation split: the test set is fastai's `valid` set, evaluated after every
    epoch (as in the usual Fashion-MNIST notebooks); the final and the best epoch are reported.
 4. --lr valley (default) trains at the suggestion; --lr 1e-3 (fastai's defaults.lr) or any other
    number trains at that rate, lr_find still running (as a user would, so the time is spent
    alike) unless --skip-lr-find.
Output: per-epoch progress lines on stderr (fastai's table: train_loss is the smoothed loss at
the epoch's end), one JSON line on stdout at the end, appended to --out too.
Unit tests of the pure parts (valley, schedule): python/tests/test_fastai_workflow.py.
"""
import argparse
import copy
import gzip
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "reference"))
FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
DEFAULT_LR = 1e-3            # fastai's defaults.lr
MOMS = (0.95, 0.85, 0.95)    # Learner's moms
SQR_MOM, EPS, WD = 0.99, 1e-5, 0.01   # fastai's Adam
PCT_START, DIV, DIV_FINAL = 0.25, 25.0, 1e5   # fit_one_cycle's defaults


# ---- pure parts (no torch): tested by python/tests/test_fastai_workflow.py ----

def sched_cos(start, end, pos):
    """fastai's SchedCos: cosine from `start` (pos 0) to `end` (pos 1)."""
    return start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2


def combined_cos(pct, start, middle, end):
    """fastai's combined_cos: cosine `start`->`middle` over [0, pct), `middle`->`end` over [pct, 1]."""
    def f(pos):
        if pos < pct:
            return sched_cos(start, middle, pos / pct)
        return sched_cos(middle, end, (pos - pct) / (1 - pct))
    return f


def one_cycle(step, total, lr_max, pct_start=PCT_START, div=DIV, div_final=DIV_FINAL, moms=MOMS):
    """(lr, beta1) before batch `step` (0-based) of `total`, as fit_one_cycle's ParamScheduler
    sets them (pos = pct_train = step/total)."""
    pos = step / total
    lr = combined_cos(pct_start, lr_max / div, lr_max, lr_max / div_final)(pos)
    mom = combined_cos(pct_start, *moms)(pos)
    return lr, mom


def lr_find_lr(i, num_it=100, start_lr=1e-7, end_lr=10.0):
    """LRFinder's rate for batch i (0-based): SchedExp(start, end)(i/num_it)."""
    return start_lr * (end_lr / start_lr) ** (i / num_it)


def valley(lrs, losses):
    """fastai's SuggestionMethod.Valley: (suggested lr, its index). Same algorithm and quirks."""
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n          # length of the longest decreasing subsequence ending at i
    for i in range(1, n):
        for j in range(0, i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return float(lrs[idx]), idx


def suggestion_window(lrs, losses, num_it=100):
    """What Learner.lr_find passes to the suggestion: [num_it//10:-5], cut at the first NaN."""
    lrs, losses = list(lrs[num_it // 10:-5]), list(losses[num_it // 10:-5])
    for k, v in enumerate(losses):
        if v != v:
            return lrs[:k], losses[:k]
    return lrs, losses


def plan_epochs(budget, elapsed, seconds_per_epoch, margin):
    """The largest whole number of epochs that ends within the budget (at least 1)."""
    return max(1, int((budget - elapsed) / (seconds_per_epoch * (1 + margin))))


# ---- the run ----

def fail(message, code=2):
    print(f"fastai_workflow: error: {message}", file=sys.stderr)
    sys.exit(code)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="fastai's lr_find + fit_one_cycle in plain PyTorch, within a budget")
    p.add_argument("--budget", type=float, default=1200, help="wall-clock seconds from the script's start (default 1200)")
    p.add_argument("--lr", default="valley", help="'valley' (lr_find's suggestion, default) or a number, e.g. 1e-3")
    p.add_argument("--skip-lr-find", action="store_true", help="with a numeric --lr: do not run lr_find")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64, help="fastai's default bs")
    p.add_argument("--margin", type=float, default=0.02, help="safety fraction on the epoch estimate (default 0.02)")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--model", default="cnn")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="append the final JSON line to this file too")
    a = p.parse_args(argv)
    if a.lr != "valley":
        try:
            a.lr = float(a.lr)
        except ValueError:
            p.error(f"--lr: 'valley' or a number, not {a.lr!r}")
        if not a.lr > 0:
            p.error("--lr must be positive")
    elif a.skip_lr_find:
        p.error("--skip-lr-find needs a numeric --lr (the valley suggestion comes from lr_find)")
    if a.budget <= 0 or a.threads < 1 or a.batch_size < 1 or a.margin < 0:
        p.error("--budget, --threads and --batch-size must be positive, --margin not negative")
    return a


def main(argv=None):
    start = time.perf_counter()
    a = parse_args(argv)
    missing = [f for f in FILES if not os.path.isfile(os.path.join(a.data, f))]
    if missing:
        fail(f"Fashion-MNIST IDX files missing in {a.data}: {', '.join(missing)} (--data DIR)")
    if not os.path.isfile(os.path.join(REFERENCE, "models.py")):
        fail(f"{os.path.join(REFERENCE, 'models.py')} not found: the reference models (shared/reference)")
    try:
        import numpy as np
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
    except ImportError as e:
        fail(f"{sys.executable} cannot import {e.name or 'torch'} ({e}). Run with Debian's interpreter, "
             f"which has PyTorch 1.13: /usr/bin/python3 {' '.join(sys.argv)}")
    sys.path.insert(0, REFERENCE)
    from models import build

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    def idx(name):
        data = gzip.open(os.path.join(a.data, name), "rb").read()
        ndim = data[3]
        dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
        return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)

    try:
        xtr = idx(FILES[0]).astype(np.float32) / 255.0
        ytr = torch.tensor(idx(FILES[1]).astype(np.int64))
        xte = idx(FILES[2]).astype(np.float32) / 255.0
        yte = torch.tensor(idx(FILES[3]).astype(np.int64))
    except (OSError, ValueError, IndexError) as e:
        fail(f"cannot read the IDX files in {a.data}: {e}")
    mean, std = float(xtr.mean()), float(xtr.std())
    xtr = torch.tensor((xtr - mean) / std).unsqueeze(1)
    xte = torch.tensor((xte - mean) / std).unsqueeze(1)
    n, bs = len(xtr), a.batch_size
    steps_per_epoch = n // bs          # fastai's train DataLoader: shuffle=True, drop_last=True
    if steps_per_epoch < 1:
        fail(f"--batch-size {bs} is larger than the training set ({n})")

    def batches():
        """Shuffled training batches, the last partial one dropped, epoch after epoch."""
        while True:
            order = torch.randperm(n)
            for i in range(steps_per_epoch):
                b = order[i * bs:(i + 1) * bs]
                yield xtr[b], ytr[b]

    def make_opt(model, lr, mom):
        """fastai's Adam under a Learner: decoupled wd, none on BatchNorm parameters and biases."""
        norm, decay = [], []
        for m in model.modules():
            if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm)):
                norm += list(m.parameters(recurse=False))
        norm_ids = {id(p) for p in norm}
        no_decay = list(norm)
        for name, p in model.named_parameters():
            if id(p) in norm_ids:
                continue
            (no_decay if name.endswith("bias") else decay).append(p)
        return torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
                                 lr=lr, betas=(mom, SQR_MOM), eps=EPS)

    def set_hypers(opt, lr, mom):
        for g in opt.param_groups:
            g["lr"] = lr
            g["betas"] = (mom, SQR_MOM)

    def train_step(model, opt, x, y):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    def evaluate(model, x, y):
        model.eval()
        with torch.no_grad():
            out = torch.cat([model(x[i:i + 1000]) for i in range(0, len(x), 1000)])
        model.train()
        return F.cross_entropy(out, y).item(), (out.argmax(1) == y).float().mean().item()

    def log(msg):
        print(f"[{time.perf_counter() - start:7.1f} s] {msg}", file=sys.stderr, flush=True)

    model = build(a.model, 1, 10, 28)
    model.train()
    data = batches()
    log(f"data loaded: {n} train, {len(xte)} test images, mean {mean:.4f} std {std:.4f}; "
        f"torch {torch.__version__}, {a.threads} threads")

    # 1. lr_find
    suggestion, lr_find_seconds, lr_find_steps, lr_note = None, 0.0, 0, None
    if not a.skip_lr_find:
        t0 = time.perf_counter()
        saved = copy.deepcopy(model.state_dict())
        num_it, beta = 100, 0.98
        opt = make_opt(model, lr_find_lr(0, num_it), 0.9)
        lrs, losses, avg, best = [], [], 0.0, float("inf")
        for i in range(num_it):
            lr = lr_find_lr(i, num_it)
            set_hypers(opt, lr, 0.9)
            loss = train_step(model, opt, *next(data))
            avg = beta * avg + (1 - beta) * loss
            smooth = avg / (1 - beta ** (i + 1))
            lrs.append(lr)
            losses.append(smooth)
            if smooth < best:
                best = smooth
            if smooth > 4 * best:
                break
        model.load_state_dict(saved)
        del opt
        lr_find_seconds, lr_find_steps = time.perf_counter() - t0, len(lrs)
        w_lrs, w_losses = suggestion_window(lrs, losses, num_it)
        if w_losses:
            suggestion, _ = valley(w_lrs, w_losses)
            log(f"lr_find: {lr_find_steps} steps in {lr_find_seconds:.1f} s (min smoothed loss {best:.3f} at "
                f"lr {lrs[losses.index(best)]:.2e}); valley suggestion {suggestion:.2e}")
        else:
            lr_note = f"lr_find stopped after {lr_find_steps} steps: too few points for a suggestion"
            log(f"lr_find: {lr_note}")
    if a.lr == "valley":
        if suggestion is None:
            lr_max, lr_note = DEFAULT_LR, (lr_note or "") + f"; fell back to fastai's default {DEFAULT_LR}"
            log(f"warning: {lr_note}")
        else:
            lr_max = suggestion
        variant = "valley"
    else:
        lr_max, variant = a.lr, ("default-lr" if a.lr == DEFAULT_LR else "fixed-lr")

    # Timing: ~100 steps on a throwaway copy; an evaluation from 2,000 test images.
    t0 = time.perf_counter()
    probe = copy.deepcopy(model)
    popt = make_opt(probe, lr_max / DIV, MOMS[0])
    warm, timed = 10, 90
    for i in range(warm + timed):
        if i == warm:
            t1 = time.perf_counter()
        train_step(probe, popt, *next(data))
    step_seconds = (time.perf_counter() - t1) / timed
    t1 = time.perf_counter()
    evaluate(probe, xte[:2000], yte[:2000])
    eval_seconds = (time.perf_counter() - t1) * len(xte) / 2000
    del probe, popt
    timing_seconds = time.perf_counter() - t0
    epoch_seconds = steps_per_epoch * step_seconds + eval_seconds
    elapsed = time.perf_counter() - start
    epochs = plan_epochs(a.budget, elapsed, epoch_seconds, a.margin)
    fits = elapsed + epochs * epoch_seconds <= a.budget
    log(f"plan: {epochs} epoch(s) of {steps_per_epoch} steps at batch {bs} "
        f"({step_seconds * 1000:.1f} ms/step, {eval_seconds:.1f} s/test evaluation, ~{epoch_seconds:.1f} s/epoch; "
        f"{elapsed:.1f} s spent of {a.budget:.0f} s, estimated end at {elapsed + epochs * epoch_seconds:.0f} s"
        f"{'' if fits else ' - over budget: not even one epoch fits'}); fit_one_cycle({epochs}, lr_max={lr_max:.2e})")

    # 2. fit_one_cycle(epochs, lr_max)
    data = batches()        # a fresh epoch: fastai's fit starts its own
    total = epochs * steps_per_epoch
    opt = make_opt(model, *one_cycle(0, total, lr_max))
    step, avg, beta, history = 0, 0.0, 0.98, []
    log("epoch  train_loss  test_loss  accuracy  time")
    for epoch in range(epochs):
        t0 = time.perf_counter()
        for _ in range(steps_per_epoch):
            set_hypers(opt, *one_cycle(step, total, lr_max))
            loss = train_step(model, opt, *next(data))
            step += 1
            avg = beta * avg + (1 - beta) * loss
        smooth = avg / (1 - beta ** step)
        test_loss, acc = evaluate(model, xte, yte)
        history.append(dict(epoch=epoch + 1, train_loss=smooth, test_loss=test_loss, test_accuracy=acc))
        log(f"{epoch + 1:5d}  {smooth:10.4f}  {test_loss:9.4f}  {acc:8.4f}  {time.perf_counter() - t0:.1f} s")

    seconds = time.perf_counter() - start
    best = max(history, key=lambda h: h["test_accuracy"])
    result = dict(workflow="fastai", variant=variant, lr=lr_max, lr_find_suggestion=suggestion,
                  epochs=epochs, test_accuracy=history[-1]["test_accuracy"], test_loss=history[-1]["test_loss"],
                  best_epoch_accuracy=best["test_accuracy"], best_epoch=best["epoch"],
                  seconds=round(seconds, 1), budget=a.budget, within_budget=seconds <= a.budget,
                  threads=a.threads, torch=torch.__version__, model=a.model, dataset="fashion-mnist",
                  batch_size=bs, seed=a.seed, lr_find_seconds=round(lr_find_seconds, 1),
                  lr_find_steps=lr_find_steps, timing_seconds=round(timing_seconds, 1),
                  estimated_epoch_seconds=round(epoch_seconds, 2), history=history)
    if lr_note:
        result["note"] = lr_note.lstrip("; ")
    line = json.dumps(result)
    print(line, flush=True)
    if a.out:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
            with open(a.out, "a") as f:
                f.write(line + "\n")
        except OSError as e:
            fail(f"cannot append to {a.out}: {e}")
    if not result["within_budget"]:
        log(f"warning: {seconds:.1f} s, over the {a.budget:.0f} s budget")
    return result


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        fail("interrupted", 130)
