"""The dense GAN of models/gan_mnist.nnet in PyTorch, for comparison.

Same architecture (100-256-512-784 generator with sigmoid output,
784-512-256-1 discriminator giving a logit, leaky ReLU 0.2), PyTorch's
default initialisation (nnc's `scaled_uniform`), Adam 2e-4 with
beta1 0.5, batch 64, the non-saturating costs written as in the .nnet
file, one discriminator step then one generator step per mini-batch.

    python bench/gan_pytorch.py --epochs 30 [--threads 2] [--seed 1]

Prints per epoch the mean step costs and the discriminator's mean
probabilities on real and generated test-set batches, and the seconds.
"""
import argparse
import gzip
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    return np.frombuffer(data, np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data", default="data/mnist")
    p.add_argument("--save", default=None, help="write the generator's samples (.npy)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    train = torch.from_numpy(images(f"{a.data}/train-images-idx3-ubyte.gz"))
    test = torch.from_numpy(images(f"{a.data}/t10k-images-idx3-ubyte.gz"))
    g = nn.Sequential(nn.Linear(100, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512),
                      nn.LeakyReLU(0.2), nn.Linear(512, 784), nn.Sigmoid())
    d = nn.Sequential(nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256),
                      nn.LeakyReLU(0.2), nn.Linear(256, 1))
    og = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999), eps=1e-8)
    od = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999), eps=1e-8)
    for epoch in range(1, a.epochs + 1):
        start = time.time()
        order = torch.randperm(len(train))
        dsum = gsum = 0.0
        n = 0
        for i in range(0, len(train), 64):
            real = train[order[i:i + 64]]
            b = len(real)
            fake = g(torch.randn(b, 100)).detach()
            dl = (F.softplus(-d(real)) + F.softplus(d(fake))).mean()
            od.zero_grad()
            dl.backward()
            od.step()
            gl = F.softplus(-d(g(torch.randn(b, 100)))).mean()
            og.zero_grad()
            gl.backward()
            og.step()
            dsum += dl.item() * b
            gsum += gl.item() * b
            n += b
        with torch.no_grad():
            fake = g(torch.randn(len(test), 100))
            dr = torch.sigmoid(d(test)).mean().item()
            df = torch.sigmoid(d(fake)).mean().item()
        print(f"epoch {epoch}  discriminator {dsum / n:.4f} generator {gsum / n:.4f}  "
              f"test d_real {dr:.4f} d_fake {df:.4f}  {time.time() - start:.1f} s", flush=True)
    if a.save:
        with torch.no_grad():
            np.save(a.save, g(torch.randn(10000, 100)).numpy())


if __name__ == "__main__":
    main()
