"""PyTorch's MNIST example (pytorch/examples, mnist/main.py) on Fashion-MNIST, as people write
it: `train()` and `test()` per epoch over DataLoaders, Adadelta with StepLR, an `--epochs`
loop; and the same script adapted to discipline's helper (the lines marked `# discipline`).
It reads the IDX files itself (no torchvision) and validates on a full held-out split,
whatever the spec's `validation_batches` says: a slow start and slow passes, which discipline
measures and plans with.

    /usr/bin/python3 examples/pytorch/mnist_epochs.py --epochs 3                 # its own defaults
    /usr/bin/python3 examples/pytorch/mnist_epochs.py --minutes 8 --final        # as many epochs as fit
    discipline tune --budget 20m --out runs/mnist-epochs \
      --command "env PYTHONPATH=python /usr/bin/python3 examples/pytorch/mnist_epochs.py"

Under discipline the optimizer is SGD with momentum (the schedule sets its rate and momentum
before every step; Adadelta has no momentum to cycle), StepLR is off, the epoch loop runs until
the helper says stop, and validation follows the spec's `validate_at`.
"""
import argparse, math, os, time
import torch, torch.nn as nn, torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
import discipline  # discipline
from fashion_mnist import idx  # the IDX reader of the example beside this one


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        x = self.dropout1(torch.flatten(x, 1))
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


def dataset(directory, prefix):
    x = idx(directory, f"{prefix}-images-idx3-ubyte").float().div(255)
    y = idx(directory, f"{prefix}-labels-idx1-ubyte").long()
    return TensorDataset(x.sub(0.2860).div(0.3530).unsqueeze(1), y)  # Fashion-MNIST's mean, std


def train(args, model, loader, optimizer, epoch, trial, state):
    model.train()
    for batch_idx, (data, target) in enumerate(loader):
        trial.apply_schedule(optimizer, state["step"])  # discipline
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()
        trial.report_train(state["step"], loss.item(), len(target))  # discipline
        state["step"] += 1  # discipline
        if trial.should_validate(state["step"]):  # discipline
            trial.report_val(state["step"], *test(model, state["val"]))  # discipline
        if trial.should_stop(state["step"]) or time.monotonic() > state["deadline"]:  # discipline
            return True
        if batch_idx % args.log_interval == 0 and not trial.active:
            print(f"Train Epoch: {epoch} [{batch_idx * len(data)}/{len(loader.dataset)}]\tLoss: {loss.item():.6f}")
    return False


def test(model, loader):
    model.eval()
    loss = correct = 0
    with torch.no_grad():
        for data, target in loader:
            output = model(data)
            loss += F.nll_loss(output, target, reduction="sum").item()
            correct += output.argmax(dim=1).eq(target).sum().item()
    model.train()
    return loss / len(loader.dataset), correct / len(loader.dataset)


def main():
    p = argparse.ArgumentParser(description="PyTorch's MNIST example on Fashion-MNIST")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--test-batch-size", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=14)
    p.add_argument("--minutes", type=float, help="stop training after this many minutes (the epoch loop's own budget)")
    p.add_argument("--lr", type=float, default=1.0)
    p.add_argument("--gamma", type=float, default=0.7)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--log-interval", type=int, default=100)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--final", action="store_true", help="train on all 60,000 images (else hold out 6,000)")
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--weight-decay", type=float, default=0.0)
    args = p.parse_args()
    trial = discipline.Trial(args=args)  # discipline: batch_size, seed, weight_decay, final
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    full, test_set = dataset(args.data_dir, "train"), dataset(args.data_dir, "t10k")
    split = torch.randperm(len(full), generator=torch.Generator().manual_seed(42)).tolist()
    held = [] if args.final else split[:6000]
    train_set = torch.utils.data.Subset(full, split[len(held):])
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    val = DataLoader(torch.utils.data.Subset(full, held) if held else test_set, batch_size=args.test_batch_size)
    trial.train_samples = len(train_set)  # discipline
    model = Net()
    if trial.active:  # discipline: a momentum for the schedule to cycle
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=args.weight_decay)
    else:
        optimizer = torch.optim.Adadelta(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=args.gamma)
    deadline = time.monotonic() + 60 * args.minutes if args.minutes else math.inf
    state = {"step": 0, "val": val, "deadline": deadline}
    epoch = 1
    while epoch <= args.epochs or trial.active:  # discipline: until the helper says stop
        if train(args, model, train_loader, optimizer, epoch, trial, state):
            break
        if not trial.active:
            loss, accuracy = test(model, val)
            print(f"Epoch {epoch}: validation loss {loss:.4f}, accuracy {100 * accuracy:.2f}%", flush=True)
            scheduler.step()
        epoch += 1
    if args.final:
        loss, accuracy = test(model, DataLoader(test_set, batch_size=args.test_batch_size))
        trial.report_test(state["step"], loss, accuracy)  # discipline
        print(f"Test set: loss {loss:.4f}, accuracy {100 * accuracy:.2f}% after {state['step']} steps", flush=True)
    trial.end()  # discipline


if __name__ == "__main__":
    main()
