"""The dense GAN of models/gan_mnist.nnet in PyTorch, for comparison.

Same architecture (100-256-512-784 generator, 784-512-256-1
discriminator giving a logit, leaky ReLU 0.2; `--inside unit`: the
generator ends in a sigmoid and the discriminator reads pixels in [0, 1];
`--inside centred` (the .nnet file's): a tanh output mapped to [0, 1] and
the discriminator centring its input to [-1, 1], with dropout 0.3 after
its hidden layers), PyTorch's default initialisation (nnc's
`scaled_uniform`), Adam 2e-4 with beta1 0.5, batch 64, the
non-saturating costs written as in the .nnet file, one discriminator step
then one generator step per mini-batch.

    python bench/gan_pytorch.py --epochs 30 [--threads 2] [--seed 1] [--inside unit|centred]

Prints per epoch the mean step costs, the discriminator's mean
probabilities on the test images and on as many generated ones, and the
seconds of the training steps alone (as `nnc bench` counts them).
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


class Affine(nn.Module):
    """x -> scale * x + shift."""

    def __init__(self, scale, shift):
        super().__init__()
        self.scale, self.shift = scale, shift

    def forward(self, x):
        return self.scale * x + self.shift


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data", default="data/mnist")
    p.add_argument("--save", default=None, help="write the generator's samples (.npy)")
    p.add_argument("--inside", choices=["unit", "centred"], default="centred")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    train = torch.from_numpy(images(f"{a.data}/train-images-idx3-ubyte.gz"))
    test = torch.from_numpy(images(f"{a.data}/t10k-images-idx3-ubyte.gz"))
    if a.inside == "unit":
        g = nn.Sequential(nn.Linear(100, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512),
                          nn.LeakyReLU(0.2), nn.Linear(512, 784), nn.Sigmoid())
        d = nn.Sequential(nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256),
                          nn.LeakyReLU(0.2), nn.Linear(256, 1))
    else:
        g = nn.Sequential(nn.Linear(100, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512),
                          nn.LeakyReLU(0.2), nn.Linear(512, 784), nn.Tanh(), Affine(0.5, 0.5))
        d = nn.Sequential(Affine(2.0, -1.0), nn.Linear(784, 512), nn.LeakyReLU(0.2),
                          nn.Dropout(0.3), nn.Linear(512, 256), nn.LeakyReLU(0.2),
                          nn.Dropout(0.3), nn.Linear(256, 1))
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
        seconds = time.time() - start
        d.eval()
        with torch.no_grad():
            fake = g(torch.randn(len(test), 100))
            dr = torch.sigmoid(d(test)).mean().item()
            df = torch.sigmoid(d(fake)).mean().item()
        d.train()
        print(f"epoch {epoch}  discriminator {dsum / n:.4f} generator {gsum / n:.4f}  "
              f"test d_real {dr:.4f} d_fake {df:.4f}  {seconds:.2f} s training", flush=True)
    if a.save:
        with torch.no_grad():
            np.save(a.save, g(torch.randn(10000, 100)).numpy())


if __name__ == "__main__":
    main()
