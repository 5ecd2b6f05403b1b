#!/usr/bin/env python3
"""PyTorch's examples/dcgan networks, built as that example builds them: classes `Generator` and
`Discriminator` whose layers sit in `self.main` (so their state dicts say `main.0.weight`, ...),
D ending in a sigmoid, G taking noise of shape (N, nz, 1, 1); at 64 x 64 the layers are the
example's, other sizes get one stride-2 stage per factor of two (as R6 in src/models.rs).

    # R6's training step timed as the example runs it (the PyTorch side of docs/BENCHMARKS.md):
    python3 scripts/dcgan_example.py bench [--batches 64,128] [--iters 20] [--size 64]
    # netG.pth / netD.pth as the example saves them, after --steps training steps on noise
    # images, and the networks' outputs on fixed inputs (eval mode) in DIR/reference.safetensors:
    python3 scripts/dcgan_example.py make DIR [--nz 100 --ngf 64 --ndf 64 --nc 3 --size 64]
    # DIR/netG.pth and DIR/netD.pth (from scripts/to_pytorch.py --example) loaded strictly into
    # the example's classes, and their eval-mode outputs on INPUTS (z, x) written to OUTPUTS:
    python3 scripts/dcgan_example.py check DIR [--run INPUTS OUTPUTS] [--nz ... as above]

The networks here are written from the architecture the example prints; the example itself is
not needed.
"""
import argparse
import math
import time

import torch
import torch.nn as nn


class Generator(nn.Module):
    def __init__(s, nz, ngf, nc, size=64):
        super().__init__()
        stages = int(math.log2(size // 4))
        c = ngf << (stages - 1)
        layers = [nn.ConvTranspose2d(nz, c, 4, 1, 0, bias=False), nn.BatchNorm2d(c), nn.ReLU(True)]
        for _ in range(stages - 1):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU(True)]
            c //= 2
        layers += [nn.ConvTranspose2d(c, nc, 4, 2, 1, bias=False), nn.Tanh()]
        s.main = nn.Sequential(*layers)

    def forward(s, z):
        return s.main(z)


class Discriminator(nn.Module):
    def __init__(s, ndf, nc, size=64):
        super().__init__()
        stages = int(math.log2(size // 4))
        c = ndf
        layers = [nn.Conv2d(nc, c, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        for _ in range(stages - 1):
            layers += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2, inplace=True)]
            c *= 2
        layers += [nn.Conv2d(c, 1, 4, 1, 0, bias=False), nn.Sigmoid()]
        s.main = nn.Sequential(*layers)

    def forward(s, x):
        return s.main(x).view(-1, 1).squeeze(1)


def weights_init(m):
    """The example's initialisation: convolutions N(0, 0.02), batch norm weight N(1, 0.02), bias 0."""
    name = m.__class__.__name__
    if name.find("Conv") != -1:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def networks(a):
    g, d = Generator(a.nz, a.ngf, a.nc, a.size), Discriminator(a.ndf, a.nc, a.size)
    g.apply(weights_init)
    d.apply(weights_init)
    return g, d


def train_step(g, d, opt_g, opt_d, real, nz):
    """One iteration of the example's loop: D on real (label 1) and G(z) (label 0), then G."""
    bce, b = nn.BCELoss(), real.shape[0]
    ones, zeros = torch.ones(b), torch.zeros(b)
    d.zero_grad()
    err_real = bce(d(real), ones)
    err_real.backward()
    fake = g(torch.randn(b, nz, 1, 1))
    err_fake = bce(d(fake.detach()), zeros)
    err_fake.backward()
    opt_d.step()
    g.zero_grad()
    err_g = bce(d(fake), ones)
    err_g.backward()
    opt_g.step()
    return (err_real + err_fake).item(), err_g.item()


def optimizers(g, d):
    return (torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999)), torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999)))


def bench(a):
    print("torch", torch.__version__, f"cpu x{torch.get_num_threads()} threads", flush=True)
    for b in map(int, a.batches.split(",")):
        g, d = networks(a)
        opt_g, opt_d = optimizers(g, d)
        real = torch.rand(b, a.nc, a.size, a.size) * 2 - 1
        for _ in range(min(3, a.iters)):
            train_step(g, d, opt_g, opt_d, real, a.nz)
        t = time.perf_counter()
        for _ in range(a.iters):
            train_step(g, d, opt_g, opt_d, real, a.nz)
        dt = (time.perf_counter() - t) / a.iters
        print(f"RESULT system=pytorch-eager-cpu model=R6 size={a.size} nz={a.nz} ngf={a.ngf} ndf={a.ndf} batch={b} "
              f"ms_per_iter={dt * 1e3:.1f} img_per_s={b / dt:.0f}", flush=True)


def outputs(g, d, z, x, nz):
    """G(z) and D(x) in eval mode (running statistics), computed in float64, stored as float32."""
    g, d = g.double().eval(), d.double().eval()
    with torch.no_grad():
        return {"G.eval": g(z.double().view(z.shape[0], nz, 1, 1)).float().contiguous(), "D.eval": d(x.double()).float().contiguous()}


def make(a):
    from safetensors.torch import save_file
    torch.manual_seed(a.seed)
    g, d = networks(a)
    opt_g, opt_d = optimizers(g, d)
    for _ in range(a.steps):
        train_step(g, d, opt_g, opt_d, torch.rand(8, a.nc, a.size, a.size) * 2 - 1, a.nz)
    torch.save(g.state_dict(), f"{a.dir}/netG.pth")
    torch.save(d.state_dict(), f"{a.dir}/netD.pth")
    z, x = torch.randn(3, a.nz), torch.rand(3, a.nc, a.size, a.size) * 2 - 1
    out = {"z": z, "x": x, **outputs(g, d, z, x, a.nz)}
    save_file(out, f"{a.dir}/reference.safetensors")
    print(f"wrote {a.dir}/netG.pth, netD.pth ({a.steps} steps of the example's loop) and reference.safetensors")


def check(a):
    from safetensors import safe_open
    from safetensors.torch import save_file
    g, d = Generator(a.nz, a.ngf, a.nc, a.size), Discriminator(a.ndf, a.nc, a.size)
    g.load_state_dict(torch.load(f"{a.dir}/netG.pth", weights_only=True), strict=True)
    d.load_state_dict(torch.load(f"{a.dir}/netD.pth", weights_only=True), strict=True)
    print(f"loaded netG.pth ({sum(p.numel() for p in g.parameters())} parameters) and netD.pth "
          f"({sum(p.numel() for p in d.parameters())}) into the example's classes with strict=True")
    if a.run:
        with safe_open(a.run[0], "pt") as f:
            z, x = f.get_tensor("z"), f.get_tensor("x")
        save_file(outputs(g, d, z, x, a.nz), a.run[1])
        print(f"wrote {a.run[1]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["bench", "make", "check"])
    ap.add_argument("dir", nargs="?", default=".")
    ap.add_argument("--nz", type=int, default=100)
    ap.add_argument("--ngf", type=int, default=64)
    ap.add_argument("--ndf", type=int, default=64)
    ap.add_argument("--nc", type=int, default=3)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batches", default="64,128")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--run", nargs=2, metavar=("INPUTS", "OUTPUTS"))
    a = ap.parse_args()
    {"bench": bench, "make": make, "check": check}[a.command](a)


if __name__ == "__main__":
    main()
