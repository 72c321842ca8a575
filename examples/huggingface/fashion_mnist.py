"""The project's `cnn` on Fashion-MNIST with the Hugging Face Trainer, and the same script as a
program that discipline tunes: the three lines marked `# discipline` are all it takes (README.md).

Alone it holds out a 10% validation split (54,000/6,000, the same for every seed), normalizes
with the mean and std of the images it trains on, trains with SGD (momentum, weight decay)
under the Trainer's linear decay and evaluates after every epoch. `--final` trains on all
60,000 images, evaluates on the 10,000 test images and measures them after training
(trainer.evaluate(..., metric_key_prefix="test")); `--save-model PATH` saves the state_dict,
which loads into discipline.models.build("cnn").

    .venv-hf/bin/python examples/huggingface/fashion_mnist.py --epochs 1 --threads 2

Under discipline the callback maps the spec onto the TrainingArguments (max_steps,
per_device_train_batch_size, seed, weight decay), follows the schedule before every optimizer
step, evaluates at validate_at, stops when asked; `args=a` hands it the options of the spec's
names (seed, dropout, final, save_model), read before the model and data are made.
"""
import argparse, os, sys, tempfile
import torch, torch.nn.functional as F
import transformers
from transformers import Trainer, TrainingArguments
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
from fashion_mnist import cnn, idx, set_threads  # the plain-PyTorch example's reader, model and thread bound
import discipline.huggingface  # discipline


def parse():
    p = argparse.ArgumentParser(description="The project's cnn on Fashion-MNIST with the Hugging Face Trainer.")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=float, default=5)
    p.add_argument("--max-lr", type=float, default=0.1, help="the learning rate the linear decay starts from")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--dropout", type=float, default=0.0, help="dropout before the classifier")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--final", action="store_true", help="train on all 60,000 images and measure the test set")
    p.add_argument("--save-model", help="where to save the trained state_dict")
    p.add_argument("--limit", type=int, help="only the first N training and test images (quick runs)")
    return p.parse_args()


class Images(torch.utils.data.Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"x": self.x[i], "labels": self.y[i]}


class Classifier(torch.nn.Module):
    """cnn as a transformers model: logits, and the loss given labels."""

    def __init__(self, dropout):
        super().__init__()
        self.net = cnn(dropout)

    def forward(self, x, labels=None):
        logits = self.net(x)
        return {"logits": logits} if labels is None else {"loss": F.cross_entropy(logits, labels), "logits": logits}


def data(a):
    x, y = idx(a.data_dir, "train-images-idx3-ubyte"), idx(a.data_dir, "train-labels-idx1-ubyte").long()
    x_test, y_test = idx(a.data_dir, "t10k-images-idx3-ubyte"), idx(a.data_dir, "t10k-labels-idx1-ubyte").long()
    if a.limit:
        x, y, x_test, y_test = x[:a.limit], y[:a.limit], x_test[:a.limit], y_test[:a.limit]
    split = torch.randperm(len(x), generator=torch.Generator().manual_seed(42))  # the same for every seed
    hold = 0 if a.final else len(x) // 10
    train, val = split[hold:], split[:hold]
    mean, std = (x[train].float() / 255).mean().item(), (x[train].float() / 255).std(unbiased=False).item()
    def images(images, labels):
        return Images(((images.float() / 255 - mean) / std).unsqueeze(1), labels)
    test = images(x_test, y_test)
    return images(x[train], y[train]), (test if a.final else images(x[val], y[val])), test


def accuracy(prediction):
    logits, labels = prediction
    return {"accuracy": float((logits.argmax(-1) == labels).mean())}


def main():
    a = parse()
    callback = discipline.huggingface.Trial(honours=("dropout",), args=a)  # discipline
    set_threads(a.threads)
    transformers.set_seed(a.seed)
    train, val, test = data(a)
    model = Classifier(a.dropout)
    opt = torch.optim.SGD(model.parameters(), lr=a.max_lr, momentum=a.momentum, weight_decay=a.weight_decay)
    evaluation = "eval_strategy" if "eval_strategy" in TrainingArguments.__dataclass_fields__ else "evaluation_strategy"
    args = TrainingArguments(output_dir=tempfile.mkdtemp(prefix="hf-fashion-"), per_device_train_batch_size=a.batch_size,
                             per_device_eval_batch_size=500, num_train_epochs=a.epochs, learning_rate=a.max_lr,
                             seed=a.seed, save_strategy="no", logging_steps=100, report_to=[], use_cpu=True,
                             max_grad_norm=0.0,  # no clipping (the Trainer's default clips at 1), as the plain script
                             disable_tqdm=True, **{evaluation: "epoch"})
    trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=val, compute_metrics=accuracy,
                      optimizers=(opt, None), callbacks=[callback])  # discipline
    trainer.train()
    if a.final:
        print(trainer.evaluate(test, metric_key_prefix="test"), flush=True)
    if a.save_model:
        torch.save(model.net.state_dict(), a.save_model)


if __name__ == "__main__":
    main()
