"""The PyTorch yardstick for `discipline fit`'s done-when run: the same model, data, recipe and
batch size, timed end to end (data loading included), on the same machine.

    python3 -m pip install torch      # once; PyTorch is a yardstick, never a dependency
    python3 scripts/pytorch_reference_fit.py [--epochs 5] [--max-lr 0.1] [--threads 2]

Recipe: cnn of ../shared/reference/models.py, batch 128, SGD (momentum cycled 0.95 -> 0.85 ->
0.95 by OneCycleLR, weight decay 5e-4), OneCycleLR(max_lr) over all steps, inputs scaled to
[0, 1] and normalized with the training set's mean and std, no validation split.
"""
import argparse, gzip, json, os, sys, time
import numpy as np, torch, torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "shared", "reference"))
from models import build  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=5)
p.add_argument("--max-lr", type=float, default=0.1)
p.add_argument("--batch-size", type=int, default=128)
p.add_argument("--threads", type=int, default=os.cpu_count())
p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)
start = time.perf_counter()

def idx(name):
    data = gzip.open(os.path.join(a.data, name), "rb").read()
    ndim = data[3]; dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)

xtr = idx("train-images-idx3-ubyte.gz").astype(np.float32) / 255.0
ytr = torch.tensor(idx("train-labels-idx1-ubyte.gz").astype(np.int64))
xte = idx("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0
yte = torch.tensor(idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
mean, std = float(xtr.mean()), float(xtr.std())
xtr = torch.tensor((xtr - mean) / std).unsqueeze(1)
xte = torch.tensor((xte - mean) / std).unsqueeze(1)

model = build("cnn", 1, 10, 28)
opt = torch.optim.SGD(model.parameters(), lr=a.max_lr, momentum=0.9, weight_decay=5e-4)
steps_per_epoch = (len(xtr) + a.batch_size - 1) // a.batch_size
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.max_lr, total_steps=a.epochs * steps_per_epoch,
                                            base_momentum=0.85, max_momentum=0.95)
for epoch in range(a.epochs):
    model.train()
    order = torch.randperm(len(xtr))
    for i in range(steps_per_epoch):
        b = order[i * a.batch_size:(i + 1) * a.batch_size]
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(xtr[b]), ytr[b]).backward()
        opt.step(); sched.step()
    print(f"epoch {epoch + 1} done at {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
model.eval()
with torch.no_grad():
    out = torch.cat([model(xte[i:i + 1000]) for i in range(0, len(xte), 1000)])
print(json.dumps(dict(engine="pytorch " + torch.__version__, threads=a.threads, epochs=a.epochs,
                      test_loss=F.cross_entropy(out, yte).item(),
                      test_accuracy=(out.argmax(1) == yte).float().mean().item(),
                      seconds=round(time.perf_counter() - start, 1))))
