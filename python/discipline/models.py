"""PyTorch definitions of the project's built-in models: the specification that the Swift
models must match layer for layer, so that a checkpoint written by the project loads into
these modules with `load_state_dict(strict=True)` and gives the same outputs.

Names and shapes are the state_dict keys and tensor shapes of these modules.
BatchNorm: eps 1e-5, momentum 0.1, running_var updated with the unbiased batch variance.
Weights of Conv/Linear are stored as PyTorch stores them: [out, in, kh, kw] and [out, in].

From the project's reference definitions (shared/reference/models.py), with one addition that
the Swift models have too (Sources/NeuralNetworks/Zoo.swift): `dropout` > 0 puts a Dropout
before the classifier. It has no parameters, so the state_dict keys stay the same (the
classifier is still `5.`/`9.`/`fc.`); `dropout=0` builds exactly the reference modules.
"""
from collections import OrderedDict

import torch.nn as nn
import torch.nn.functional as F


def _sequential(layers, dropout):
    """nn.Sequential of `layers` keyed "0", "1", ...; with dropout > 0 an unnumbered
    `dropout` module goes before the last (the classifier), which keeps its number."""
    named = [(str(i), m) for i, m in enumerate(layers)]
    if dropout > 0:
        named.insert(len(named) - 1, ("dropout", nn.Dropout(dropout)))
    return nn.Sequential(OrderedDict(named))


def mlp(in_features=784, classes=10, dropout=0.0):
    """Keys: 1.weight 1.bias 3.weight 3.bias 5.weight 5.bias (index 0 is Flatten)."""
    return _sequential([nn.Flatten(), nn.Linear(in_features, 512), nn.ReLU(),
                        nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, classes)], dropout)


def cnn(in_channels=1, classes=10, size=28, dropout=0.0):
    """Two conv blocks, under 100K parameters (50,282 for 1x28x28 inputs)."""
    return _sequential([
        nn.Conv2d(in_channels, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * (size // 4) ** 2, classes)], dropout)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:  # projection shortcut: 1x1 conv + BN
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet(nn.Module):
    """He et al.'s CIFAR ResNet (depth = 6n + 2: 8, 20, 32, 44, 56, 110), widths 16/32/64."""
    def __init__(self, depth=20, in_channels=3, classes=10, dropout=0.0):
        super().__init__()
        if depth < 8 or (depth - 2) % 6 != 0:
            raise ValueError(f"ResNet depth {depth} is not 6n+2 (8, 20, 32, ...)")
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for cout, stride in [(16, 1), (32, 2), (64, 2)]:
            blocks = []
            for i in range(n):
                blocks.append(BasicBlock(cin, cout, stride if i == 0 else 1)); cin = cout
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc(x)


def build(name, in_channels=1, classes=10, size=28, dropout=0.0):
    """'mlp', 'cnn', or 'resnetN' (resnet8, resnet20, resnet56, ...); ValueError otherwise."""
    if name == "mlp":
        return mlp(in_channels * size * size, classes, dropout)
    if name == "cnn":
        return cnn(in_channels, classes, size, dropout)
    if name.startswith("resnet") and name[6:].isdigit():
        return ResNet(int(name[6:]), in_channels, classes, dropout)
    raise ValueError(f"unknown model {name!r} (mlp, cnn or resnetN)")
