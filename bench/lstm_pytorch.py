"""W4 (models/mnist_lstm.nnet) in PyTorch, for comparison: row-by-row
MNIST read by `torch.nn.LSTM` (128 units, PyTorch's fused kernels), its
last hidden state to a softmax of 10, Adam 1e-3, batch 64, the first
50,000 training images shuffled each epoch, PyTorch's default
initialisation (nnc's `scaled_uniform`).

    python bench/lstm_pytorch.py --epochs 10 [--threads 2] [--seed 1] [--cell lstm|gru|rnn]

Prints per epoch the seconds of the training steps alone (as `nnc bench`
counts them), the mean training cost and the test accuracy.
"""
import argparse
import gzip
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--units", type=int, default=128)
    p.add_argument("--cell", default="lstm", choices=["lstm", "gru", "rnn"])
    p.add_argument("--data", default="data/mnist")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    x = idx(f"{a.data}/train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28).astype(np.float32) / 255
    y = idx(f"{a.data}/train-labels-idx1-ubyte.gz", 8).astype(np.int64)
    tx = idx(f"{a.data}/t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28).astype(np.float32) / 255
    ty = idx(f"{a.data}/t10k-labels-idx1-ubyte.gz", 8).astype(np.int64)
    x, y = torch.from_numpy(x[:50000]), torch.from_numpy(y[:50000])
    tx, ty = torch.from_numpy(tx), torch.from_numpy(ty)
    rnn = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[a.cell](28, a.units, batch_first=True)
    head = nn.Linear(a.units, 10)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)

    def logits(batch):
        out, _ = rnn(batch)
        return head(out[:, -1])

    for epoch in range(1, a.epochs + 1):
        order = torch.randperm(len(x))
        started = time.perf_counter()
        total = 0.0
        for k in range(0, len(x), a.batch):
            idx_ = order[k : k + a.batch]
            loss = F.cross_entropy(logits(x[idx_]), y[idx_])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx_)
        seconds = time.perf_counter() - started
        with torch.no_grad():
            correct = sum(
                (logits(tx[k : k + 1000]).argmax(1) == ty[k : k + 1000]).sum().item()
                for k in range(0, len(tx), 1000)
            )
        print(
            f"epoch {epoch}  {seconds:.2f} s  train cost {total / len(x):.4f}  test {correct / 100:.2f}%",
            flush=True,
        )


if __name__ == "__main__":
    main()
