"""The project's `cnn` on Fashion-MNIST in plain PyTorch, and the same script as a program that
discipline tunes: the ten lines marked `# discipline` are all it takes (README.md shows them).

Alone it holds out a 10% validation split (54,000/6,000, the same for every seed), normalizes
with the mean and std of the images it trains on, trains with SGD (momentum, weight decay)
under one-cycle (OneCycleLR) and measures the validation set after every epoch. `--final`
trains on all 60,000 images and measures the 10,000 test images instead; `--save-model PATH`
saves the state_dict (torch.save), which loads into discipline.models.build("cnn").

    /usr/bin/python3 examples/pytorch/fashion_mnist.py --epochs 5 --threads 2
    discipline tune --model cnn --command "/usr/bin/python3 examples/pytorch/fashion_mnist.py --threads 2" --out runs/tune

Under discipline (DISCIPLINE_SPEC set; `pip install ./python` for `import discipline`) the
spec's batch_size, seed, weight_decay, dropout, steps, final, save_model and
validation_batches replace the options of the same names, the schedule's learning rate and
momentum override the one-cycle's before every step, validation follows the spec's
validate_at, and the run ends early when discipline creates the stop file.
"""
import argparse, ctypes, gzip, json, math, os, time
from collections import OrderedDict
import torch, torch.nn as nn, torch.nn.functional as F
import discipline  # discipline


def parse():
    p = argparse.ArgumentParser(description="The project's cnn on Fashion-MNIST in PyTorch.")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--steps", type=int, help="optimizer steps (default: --epochs over the training images)")
    p.add_argument("--max-lr", type=float, default=0.1, help="one-cycle's peak learning rate")
    p.add_argument("--momentum", type=float, default=0.95, help="one-cycle's momentum at both ends (0.85 at the peak)")
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--dropout", type=float, default=0.0, help="dropout before the classifier")
    p.add_argument("--seed", type=int, default=0, help="seed of the initialization and the data order")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--validation-batches", type=int, help="batches of the validation split per measurement (default: all)")
    p.add_argument("--final", action="store_true", help="train on all 60,000 images and measure the test set")
    p.add_argument("--save-model", help="where to save the trained state_dict")
    p.add_argument("--limit", type=int, help="use only the first N training and N test images (quick runs)")
    return p.parse_args()


def set_threads(n):
    """torch.set_num_threads(n), and the same bound on OpenBLAS's own thread pool, which it
    leaves alone: Debian's torch runs linear layers in OpenBLAS, whose pool keeps a thread per
    core, so `--threads 1` ran two busy threads (and two such runs side by side, four on two
    cores)."""
    torch.set_num_threads(n)
    try:
        with open("/proc/self/maps") as maps:
            libraries = sorted({line.split()[-1] for line in maps if "libopenblas" in line})
    except OSError:  # not Linux: nothing to find this way
        libraries = []
    for library in libraries:
        try:
            ctypes.CDLL(library).openblas_set_num_threads(n)
        except (OSError, AttributeError):
            pass


def idx(data_dir, name):
    """The IDX file `name` of `data_dir` as a uint8 tensor of its dimensions; the raw file
    when present, else `name.gz`. Exits with a message naming the file if it is not IDX bytes."""
    path = os.path.join(data_dir, name)
    if not os.path.exists(path):
        path += ".gz"
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        data = bytearray(f.read())
    ndim = data[3] if len(data) >= 4 else 0
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    if ndim == 0 or data[:3] != b"\0\0\x08" or len(data) != 4 + 4 * ndim + math.prod(dims):
        raise SystemExit(f"{path}: not an IDX file of unsigned bytes")
    return torch.frombuffer(data, dtype=torch.uint8, offset=4 + 4 * ndim).reshape(dims)


def cnn(dropout=0.0):
    """The project's `cnn` (discipline.models, same state_dict keys): two conv blocks, 50,282
    parameters, and with dropout > 0 a Dropout before the classifier."""
    layers = [("0", nn.Conv2d(1, 32, 3, padding=1, bias=False)), ("1", nn.BatchNorm2d(32)), ("2", nn.ReLU()),
              ("3", nn.MaxPool2d(2)), ("4", nn.Conv2d(32, 64, 3, padding=1, bias=False)), ("5", nn.BatchNorm2d(64)),
              ("6", nn.ReLU()), ("7", nn.MaxPool2d(2)), ("8", nn.Flatten())]
    layers += [("dropout", nn.Dropout(dropout))] if dropout > 0 else []
    return nn.Sequential(OrderedDict(layers + [("9", nn.Linear(64 * 7 * 7, 10))]))


def batches(n, batch_size, seed):
    """Endless indices of each step's batch: a seeded shuffle per epoch, whose last batch may
    be smaller."""
    g = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(n, generator=g)
        for i in range(0, n, batch_size):
            yield order[i:i + batch_size]


def evaluate(model, x, y, batch_size, max_batches=None):
    """Mean cross-entropy and accuracy of `model` on the first `max_batches` batches of x, y
    (all of them if None), in eval mode."""
    n = len(x) if max_batches is None else min(len(x), max_batches * batch_size)
    loss = correct = 0.0
    model.eval()
    with torch.no_grad():
        for i in range(0, n, batch_size):
            out, t = model(x[i:i + batch_size]), y[i:i + batch_size]
            loss += F.cross_entropy(out, t, reduction="sum").item()
            correct += (out.argmax(1) == t).sum().item()
    model.train()
    return loss / n, correct / n


def main():
    a = parse()
    trial = discipline.Trial(honours=("dropout",), args=a)  # discipline
    set_threads(a.threads)
    torch.manual_seed(a.seed)
    x, y = idx(a.data_dir, "train-images-idx3-ubyte"), idx(a.data_dir, "train-labels-idx1-ubyte").long()
    x_test, y_test = idx(a.data_dir, "t10k-images-idx3-ubyte"), idx(a.data_dir, "t10k-labels-idx1-ubyte").long()
    if a.limit:
        x, y, x_test, y_test = x[:a.limit], y[:a.limit], x_test[:a.limit], y_test[:a.limit]
    split = torch.randperm(len(x), generator=torch.Generator().manual_seed(42))  # the same for every --seed
    hold = 0 if a.final else len(x) // 10
    train, val = split[hold:], split[:hold]
    mean, std = (x[train].float() / 255).mean().item(), (x[train].float() / 255).std(unbiased=False).item()
    def normalize(images):
        return ((images.float() / 255 - mean) / std).unsqueeze(1)
    x_train, y_train, x_val, y_val = normalize(x[train]), y[train], normalize(x[val]), y[val]
    x_test = normalize(x_test)
    if a.final:  # the final run holds nothing out: its curve is measured on the test split
        x_val, y_val = x_test, y_test
    trial.train_samples = len(y_train)  # discipline

    steps_per_epoch = math.ceil(len(y_train) / a.batch_size)
    steps = a.steps if a.steps is not None else a.epochs * steps_per_epoch
    model = cnn(a.dropout)
    opt = torch.optim.SGD(model.parameters(), lr=a.max_lr, momentum=a.momentum, weight_decay=a.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.max_lr, total_steps=max(steps, 1),
                                                base_momentum=0.85, max_momentum=a.momentum)
    order = batches(len(y_train), a.batch_size, a.seed)
    done, evaluating, start = 0, 0.0, time.perf_counter()
    for step in range(steps):
        trial.apply_schedule(opt, step)  # discipline
        b = next(order)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x_train[b]), y_train[b])
        loss.backward()
        opt.step()
        sched.step()
        done, value = step + 1, loss.item()
        trial.report_train(step, value, len(b))  # discipline
        validate = done % steps_per_epoch == 0 or done == steps
        validate = trial.should_validate(done, default=validate)  # discipline
        if validate:
            t = time.perf_counter()
            val_loss, val_accuracy = evaluate(model, x_val, y_val, a.batch_size, a.validation_batches)
            trial.report_val(done, val_loss, val_accuracy)  # discipline
            print(f"step {done}: train loss {value:.4f}, validation loss {val_loss:.4f}, "
                  f"accuracy {val_accuracy:.4f}", flush=True)
            evaluating += time.perf_counter() - t
        if not math.isfinite(value):
            print(f"step {done}: the loss is {value}, stopping", flush=True)
            break
        if trial.should_stop(done): break  # discipline
    training = time.perf_counter() - start - evaluating
    print(json.dumps(dict(steps=done, train_seconds=round(training, 3),
                          ms_per_step=round(1000 * training / max(done, 1), 3))), flush=True)
    if a.final:
        test_loss, test_accuracy = evaluate(model, x_test, y_test, 1000)
        trial.report_test(done, test_loss, test_accuracy)  # discipline
        print(json.dumps(dict(test_loss=test_loss, test_accuracy=test_accuracy)), flush=True)
    if a.save_model:
        torch.save(model.state_dict(), a.save_model)
    trial.end()  # discipline


if __name__ == "__main__":
    main()
