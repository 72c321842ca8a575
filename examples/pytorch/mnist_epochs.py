"""PyTorch's MNIST example (pytorch/examples, mnist/main.py) on Fashion-MNIST, as people write
it: `train()` and `test()` per epoch over DataLoaders, Adadelta with StepLR, an `--epochs`
loop, a train/test split only. It reads the IDX files itself (torchvision may be absent).

    PYTHONPATH=python /usr/bin/python3 examples/pytorch/mnist_epochs.py               # 14 epochs, its own defaults
    PYTHONPATH=python /usr/bin/python3 examples/pytorch/mnist_epochs.py --minutes 20  # as many epochs as fit in 20 minutes
    discipline tune --budget 20m --out runs/mnist-epochs \\
      --command "env PYTHONPATH=python /usr/bin/python3 examples/pytorch/mnist_epochs.py --threads 1"

The lines marked `# discipline` adapt it (README.md shows the diff); without them
(`grep -v '# discipline$'`) it is the plain script. Under discipline the spec's batch_size,
seed and weight_decay replace the options, the trial trains on 90% of the training images and
validates on the other 10% (the final run: on all of them, measuring the test set), the
optimizer is SGD with momentum (Adadelta has no momentum for the schedule to cycle), the
schedule sets its rate and momentum before every optimizer step, and the run ends from inside
`optimizer.step()` when the spec's steps are done or discipline says stop.
"""
import argparse, math, time
import torch, torch.nn as nn, torch.nn.functional as F, torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, TensorDataset
from fashion_mnist import idx, set_threads  # the IDX reader and thread bound of the example beside this one
import discipline  # discipline


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
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def train(args, model, device, train_loader, optimizer, epoch, deadline):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print(f"Train Epoch: {epoch} [{batch_idx * len(data)}/{len(train_loader.dataset)}]\tLoss: {loss.item():.6f}")
        if time.monotonic() > deadline:
            break


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()  # sum up batch loss
            pred = output.argmax(dim=1, keepdim=True)  # get the index of the max log-probability
            correct += pred.eq(target.view_as(pred)).sum().item()
    test_loss /= len(test_loader.dataset)
    print(f"Test set: Average loss: {test_loss:.4f}, Accuracy: {correct}/{len(test_loader.dataset)} "
          f"({100. * correct / len(test_loader.dataset):.2f}%)", flush=True)


def dataset(directory, prefix, limit=None):
    x = idx(directory, f"{prefix}-images-idx3-ubyte")[:limit].float().div(255)
    y = idx(directory, f"{prefix}-labels-idx1-ubyte")[:limit].long()
    return TensorDataset(x.sub(0.2860).div(0.3530).unsqueeze(1), y)  # Fashion-MNIST's mean and std


def main():
    parser = argparse.ArgumentParser(description="PyTorch's MNIST example on Fashion-MNIST")
    parser.add_argument("--batch-size", type=int, default=64, help="input batch size for training (default: 64)")
    parser.add_argument("--test-batch-size", type=int, default=1000, help="input batch size for testing (default: 1000)")
    parser.add_argument("--epochs", type=int, default=14, help="number of epochs to train (default: 14)")
    parser.add_argument("--minutes", type=float, help="stop training after this many minutes (default: no limit)")
    parser.add_argument("--lr", type=float, default=1.0, help="learning rate (default: 1.0)")
    parser.add_argument("--gamma", type=float, default=0.7, help="learning rate step gamma (default: 0.7)")
    parser.add_argument("--weight-decay", type=float, default=0.0, help="weight decay (default: 0)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    parser.add_argument("--log-interval", type=int, default=100, help="batches between training logs")
    parser.add_argument("--save-model", action="store_true", help="save the trained model as mnist_cnn.pt")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default: 2)")
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--limit", type=int, help="use only the first N training and N test images (quick runs)")
    args = parser.parse_args()
    trial = discipline.Trial(args=args)  # discipline
    set_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    dataset1 = dataset(args.data_dir, "train", args.limit)
    dataset2 = dataset(args.data_dir, "t10k", args.limit)
    dataset1 = trial.hold_out(dataset1, test=dataset2)  # discipline
    train_loader = DataLoader(dataset1, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(dataset2, batch_size=args.test_batch_size)

    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    if trial.active: optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=args.weight_decay)  # discipline
    F.nll_loss = trial.criterion(F.nll_loss)  # discipline
    trial.attach(optimizer, model)  # discipline

    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    deadline = time.monotonic() + 60 * args.minutes if args.minutes else math.inf
    for epoch in range(1, args.epochs + 1):
        start = time.monotonic()
        train(args, model, device, train_loader, optimizer, epoch, deadline)
        print(f"Epoch {epoch}: {time.monotonic() - start:.1f} s", flush=True)
        test(model, device, test_loader)
        scheduler.step()
        if time.monotonic() > deadline:
            break

    if args.save_model:
        torch.save(model.state_dict(), "mnist_cnn.pt")


if __name__ == "__main__":
    main()
