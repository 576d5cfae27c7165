"""The PyTorch eager counterpart of models/vae_mnist.nnet, for the speed and
quality comparison of issue 13: 784-400-20(-400-784), ReLU, sigmoid output,
summed binary cross-entropy + KL, Adam 1e-3, batch 128, 10 epochs on the
60,000 training images; the test negative ELBO with one sampled code per
image, in nats per example.

    python bench/vae_pytorch.py [--epochs N] [--threads T] [--data DIR]

Prints one line per epoch: the mean training loss of its steps, the test
negative ELBO and its two terms, and the epoch's training seconds.
"""

import argparse
import gzip
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def read_images(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    count = int.from_bytes(raw[4:8], "big")
    pixels = np.frombuffer(raw, dtype=np.uint8, offset=16)
    return torch.from_numpy(pixels.reshape(count, 784).astype(np.float32) / 255.0)


class Vae(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(784, 400)
        self.mu = nn.Linear(400, 20)
        self.logvar = nn.Linear(400, 20)
        self.decoded = nn.Linear(20, 400)
        self.out = nn.Linear(400, 784)

    def forward(self, x):
        h = F.relu(self.hidden(x))
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return torch.sigmoid(self.out(F.relu(self.decoded(z)))), mu, logvar


def terms(x, reconstruction, mu, logvar):
    bce = F.binary_cross_entropy(reconstruction, x, reduction="sum")
    kl = 0.5 * torch.sum(mu.pow(2) + logvar.exp() - logvar - 1)
    return bce, kl


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", default="data/mnist")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train = read_images(f"{args.data}/train-images-idx3-ubyte.gz")
    test = read_images(f"{args.data}/t10k-images-idx3-ubyte.gz")
    model = Vae()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(1, args.epochs + 1):
        model.train()
        start = time.perf_counter()
        order = torch.randperm(len(train))
        total = 0.0
        for i in range(0, len(train), 128):
            x = train[order[i : i + 128]]
            optimizer.zero_grad()
            bce, kl = terms(x, *model(x))
            loss = bce + kl
            loss.backward()
            optimizer.step()
            total += loss.item()
        seconds = time.perf_counter() - start
        model.eval()
        sums = [0.0, 0.0]
        with torch.no_grad():
            for i in range(0, len(test), 128):
                x = test[i : i + 128]
                bce, kl = terms(x, *model(x))
                sums[0] += bce.item()
                sums[1] += kl.item()
        n = len(test)
        print(
            f"epoch {epoch}  train loss {total / len(train):.4f}  "
            f"test negative ELBO {(sums[0] + sums[1]) / n:.4f} "
            f"(reconstruction {sums[0] / n:.4f}, kl {sums[1] / n:.4f})  "
            f"train {seconds:.2f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
