#!/usr/bin/env python3
"""The peer of `quantscope train`'s QAT epoch (scripts/bench/train.mjs): PyTorch on the
CPU with one thread, the same epoch: the MLP (64-128-64-10, ReLU) on the digits train
split, batch 32, shuffled, Adam at 5e-4, every layer's weights through FakeQuantize
(per-tensor symmetric, qint8 with quant_min/quant_max of --wbits) and its input through
FakeQuantize (quint8 0..2^abits - 1, MovingAverageMinMaxObserver), then the test split's
accuracy, as each of our epochs ends. Prints JSON: seconds per epoch (all of them).

    .venv-torch/bin/python scripts/bench/train_torch.py www/public/digits.npz [--epochs 5]
"""

import argparse
import json
import time

import numpy as np
import torch
import torch.nn as nn
from torch.ao.quantization import FakeQuantize, MovingAverageMinMaxObserver


class QLinear(nn.Module):
    def __init__(self, i, o, wbits, abits):
        super().__init__()
        self.lin = nn.Linear(i, o)
        half = 1 << (wbits - 1)
        self.wq = FakeQuantize(observer=MovingAverageMinMaxObserver, quant_min=-half, quant_max=half - 1,
                               dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)
        self.xq = FakeQuantize(observer=MovingAverageMinMaxObserver, quant_min=0,
                               quant_max=(1 << abits) - 1, dtype=torch.quint8,
                               qscheme=torch.per_tensor_affine)

    def forward(self, x):
        return nn.functional.linear(self.xq(x), self.wq(self.lin.weight), self.lin.bias)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--wbits", type=int, default=4)
    ap.add_argument("--abits", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    d = np.load(args.data)
    xtr, ytr = torch.from_numpy(d["x_train"]), torch.from_numpy(d["y_train"])
    xte, yte = torch.from_numpy(d["x_test"]), torch.from_numpy(d["y_test"])
    layers = [QLinear(64, 128, args.wbits, args.abits), QLinear(128, 64, args.wbits, args.abits),
              QLinear(64, 10, args.wbits, args.abits)]
    model = nn.Sequential(layers[0], nn.ReLU(), layers[1], nn.ReLU(), layers[2])
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    times = []
    accs = []
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(len(ytr))
        for i in range(0, len(ytr), 32):
            idx = perm[i:i + 32]
            opt.zero_grad()
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            acc = (model(xte).argmax(1) == yte).float().mean().item() * 100
        times.append(time.perf_counter() - t0)
        accs.append(acc)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                      "epoch_seconds": times, "test_accuracy": accs}))


if __name__ == "__main__":
    main()
