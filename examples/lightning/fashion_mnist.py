"""The project's `cnn` on Fashion-MNIST with PyTorch Lightning, and the same script as a
program that discipline tunes: the two lines marked `# discipline` are all it takes (README.md).

Alone it holds out a 10% validation split (54,000/6,000, the same for every seed), normalizes
with the mean and std of the images it trains on, trains with SGD (momentum, weight decay)
under one-cycle (OneCycleLR) and validates after every epoch. `--final` trains on all 60,000
images, validates on the 10,000 test images and measures them after training (trainer.test);
`--save-model PATH` saves the state_dict, which loads into discipline.models.build("cnn").

    .venv-lightning/bin/python examples/lightning/fashion_mnist.py --epochs 1 --threads 2

Under discipline the callback maps the spec onto the Trainer (steps, the DataModule's
batch_size, limit_val_batches, weight decay), follows the schedule before every optimizer step,
validates at validate_at, stops when asked; `args=a` hands it the options of the spec's names
(seed, dropout, final, save_model), read after the Trainer is made.
"""
import argparse, math, os, sys
import torch, torch.nn.functional as F
import lightning.pytorch as L
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
from fashion_mnist import cnn, idx, set_threads  # the plain-PyTorch example's reader, model and thread bound
import discipline.lightning  # discipline


def parse():
    p = argparse.ArgumentParser(description="The project's cnn on Fashion-MNIST with PyTorch Lightning.")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--max-lr", type=float, default=0.1, help="one-cycle's peak learning rate")
    p.add_argument("--momentum", type=float, default=0.95)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--dropout", type=float, default=0.0, help="dropout before the classifier")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--final", action="store_true", help="train on all 60,000 images and measure the test set")
    p.add_argument("--save-model", help="where to save the trained state_dict")
    p.add_argument("--limit", type=int, help="only the first N training and test images (quick runs)")
    return p.parse_args()


class FashionMNIST(L.LightningDataModule):
    def __init__(self, data_dir, batch_size, final, limit=None):
        super().__init__()
        self.data_dir, self.batch_size, self.final, self.limit = data_dir, batch_size, final, limit

    def setup(self, stage):
        x, y = idx(self.data_dir, "train-images-idx3-ubyte"), idx(self.data_dir, "train-labels-idx1-ubyte").long()
        x_test, y_test = idx(self.data_dir, "t10k-images-idx3-ubyte"), idx(self.data_dir, "t10k-labels-idx1-ubyte").long()
        if self.limit:
            x, y, x_test, y_test = x[:self.limit], y[:self.limit], x_test[:self.limit], y_test[:self.limit]
        split = torch.randperm(len(x), generator=torch.Generator().manual_seed(42))  # the same for every seed
        hold = 0 if self.final else len(x) // 10
        train, val = split[hold:], split[:hold]
        mean, std = (x[train].float() / 255).mean().item(), (x[train].float() / 255).std(unbiased=False).item()
        def dataset(images, labels):
            return torch.utils.data.TensorDataset(((images.float() / 255 - mean) / std).unsqueeze(1), labels)
        self.train_set = dataset(x[train], y[train])
        self.test_set = dataset(x_test, y_test)
        self.val_set = self.test_set if self.final else dataset(x[val], y[val])  # the final run's curve: test

    def train_dataloader(self):
        return torch.utils.data.DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self):
        return torch.utils.data.DataLoader(self.val_set, batch_size=500)

    def test_dataloader(self):
        return torch.utils.data.DataLoader(self.test_set, batch_size=1000)


class Classifier(L.LightningModule):
    def __init__(self, a):
        super().__init__()
        self.a, self.net = a, cnn(a.dropout)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def _measure(self, batch, kind):
        x, y = batch
        out = self.net(x)
        self.log(kind + "_loss", F.cross_entropy(out, y), prog_bar=True)
        self.log(kind + "_acc", (out.argmax(1) == y).float().mean(), prog_bar=True)

    def validation_step(self, batch, batch_idx):
        self._measure(batch, "val")

    def test_step(self, batch, batch_idx):
        self._measure(batch, "test")

    def configure_optimizers(self):
        a = self.a
        opt = torch.optim.SGD(self.parameters(), lr=a.max_lr, momentum=a.momentum, weight_decay=a.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.max_lr, total_steps=max(1, self.trainer.estimated_stepping_batches),
                                                    base_momentum=0.85, max_momentum=a.momentum)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def main():
    a = parse()
    set_threads(a.threads)
    trainer = L.Trainer(max_epochs=a.epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[discipline.lightning.Trial(honours=("dropout",), args=a)])  # discipline
    L.seed_everything(a.seed, verbose=False)
    data, model = FashionMNIST(a.data_dir, a.batch_size, a.final, a.limit), Classifier(a)
    trainer.fit(model, datamodule=data)
    print({k: round(float(v), 4) for k, v in trainer.callback_metrics.items()}, flush=True)
    if a.final:
        print(trainer.test(model, datamodule=data, verbose=False), flush=True)
    if a.save_model:
        torch.save(model.net.state_dict(), a.save_model)


if __name__ == "__main__":
    main()
