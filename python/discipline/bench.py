"""Reference training-step throughput of PyTorch on this CPU, for the models in
discipline.models. Prints one JSON object per (model, batch): samples per second of a full SGD
step (forward, cross-entropy, backward, SGD with momentum and weight decay), median of 5
windows. The PyTorch side of the comparison with `discipline bench`.

    /usr/bin/python3 -m discipline.bench [--threads N] [--models mlp cnn resnet20] [--batches 128 512]

From the project's shared/reference/bench.py; same options and output.
"""
import argparse
import json
import os
import statistics
import time


def measure(name, bs, channels=1, size=28):
    """Samples per second of a training step of model `name` at batch `bs` (median of 5
    windows of about 20,000 samples each over 3, after 5 warm-up steps), and its parameters."""
    import torch
    import torch.nn.functional as F
    from .models import build
    torch.manual_seed(0)
    m = build(name, channels, 10, size)
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(bs, channels, size, size); y = torch.randint(0, 10, (bs,))

    def step():
        opt.zero_grad(set_to_none=True); F.cross_entropy(m(x), y).backward(); opt.step()
    for _ in range(5):
        step()
    windows = []
    for _ in range(5):
        n = max(3, int(20000 / bs)) // 3
        t = time.perf_counter()
        for _ in range(n):
            step()
        windows.append(bs * n / (time.perf_counter() - t))
    return statistics.median(windows), sum(q.numel() for q in m.parameters())


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m discipline.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--models", nargs="+", default=["mlp", "cnn", "resnet20"])
    p.add_argument("--batches", nargs="+", type=int, default=[128, 512])
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--size", type=int, default=28)
    a = p.parse_args(argv)
    # OpenBLAS (Debian's torch runs linear layers in it) keeps its own pool of a thread per core,
    # which torch.set_num_threads leaves alone: bound it before torch loads it.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(a.threads))
    import torch
    torch.set_num_threads(a.threads)
    for name in a.models:
        for bs in a.batches:
            rate, params = measure(name, bs, a.channels, a.size)
            print(json.dumps(dict(engine="pytorch " + torch.__version__, threads=a.threads, model=name, batch=bs,
                                  samples_per_s=round(rate, 1), params=params)), flush=True)


if __name__ == "__main__":
    main()
