#!/usr/bin/env python3
"""PyTorch's examples/dcgan networks on a shapes toy drawn as data::images::shapes draws it (with
numpy's random numbers, so not the same images), trained as examples/dcgan.rs trains R6, then the
mode coverage of 1,000 samples measured as data::images::shape_coverage measures it: the
PyTorch side of the R6 shapes figures in docs/BENCHMARKS.md.

    python3 scripts/torch_shapes.py [--iters 1500] [--noise 0.15] [--size 32] [--width 32]

--noise 0 draws the noise-free toy. Needs torch and numpy; runs on the CPU (2 threads beside our
example on a 2-core machine: set OMP_NUM_THREADS to compare like with like).
"""
import argparse, time
import numpy as np
import torch
import torch.nn as nn

p = argparse.ArgumentParser()
p.add_argument("--iters", type=int, default=1500)
p.add_argument("--noise", type=float, default=0.15)
p.add_argument("--size", type=int, default=32)
p.add_argument("--width", type=int, default=32, help="ngf = ndf")
p.add_argument("--images", type=int, default=2000)
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()
torch.manual_seed(a.seed)
rng = np.random.default_rng(a.seed + 3)
S, N, nz, nc, w = a.size, a.images, 100, 3, a.width

def inside(shape, x, y, side):
    fx, fy, s = x + 0.5, y + 0.5, side
    if shape == 0:
        return True
    if shape == 1:
        return (fx - s / 2) ** 2 + (fy - s / 2) ** 2 <= s * s / 4
    return abs(fx - s / 2) <= fy / 2

data = np.full((N, 3, S, S), -0.8, np.float32)
for i in range(N):
    cls = i % 9
    shape, colour = cls // 3, cls % 3
    side = int(round((0.35 + 0.35 * rng.random()) * S))
    x0, y0 = int(rng.random() * (S - side)), int(rng.random() * (S - side))
    for y in range(side):
        for x in range(side):
            if inside(shape, x, y, side):
                data[i, colour, y0 + y, x0 + x] = 1.0
data = torch.tensor(np.clip(data + a.noise * rng.standard_normal(data.shape).astype(np.float32), -1, 1))

# The example's networks, its stages scaled to the image size (one per factor of two above 4).
stages = int(np.log2(S // 4))
g_layers, c = [nn.ConvTranspose2d(nz, w << (stages - 1), 4, 1, 0, bias=False)], w << (stages - 1)
g_layers += [nn.BatchNorm2d(c), nn.ReLU(True)]
for _ in range(stages - 1):
    g_layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU(True)]
    c //= 2
g_layers += [nn.ConvTranspose2d(c, nc, 4, 2, 1, bias=False), nn.Tanh()]
d_layers, c = [nn.Conv2d(nc, w, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)], w
for _ in range(stages - 1):
    d_layers += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2, True)]
    c *= 2
d_layers += [nn.Conv2d(c, 1, 4, 1, 0, bias=False)]
g, d = nn.Sequential(*g_layers), nn.Sequential(*d_layers)

def weights_init(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)

g.apply(weights_init)
d.apply(weights_init)
opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
bce, B, t0 = nn.BCEWithLogitsLoss(), 64, time.time()
for it in range(1, a.iters + 1):
    real = data[torch.randint(0, N, (B,))]
    opt_d.zero_grad()
    fake = g(torch.randn(B, nz, 1, 1))
    loss_d = bce(d(real).view(-1), torch.ones(B)) + bce(d(fake.detach()).view(-1), torch.zeros(B))
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad()
    out = d(fake).view(-1)
    loss_g = bce(out, torch.ones(B))
    loss_g.backward()
    opt_g.step()
    if it % 100 == 0:
        print(f"{it} D {loss_d.item():.3f} G {loss_g.item():.3f} D(G(z)) {torch.sigmoid(out).mean().item():.3f}", flush=True)
secs = time.time() - t0

# Mode coverage, as data::images::shape_class reads a picture (3 x 3 box filter first).
def box_blur(img):
    pad = np.pad(img, ((0, 0), (1, 1), (1, 1)))
    ones = np.pad(np.ones(img.shape[1:]), 1)
    s = sum(pad[:, dy:dy + S, dx:dx + S] for dy in range(3) for dx in range(3))
    n = sum(ones[dy:dy + S, dx:dx + S] for dy in range(3) for dx in range(3))
    return s / n


def shape_class(img):
    bright = box_blur(img) > 0
    counts = bright.reshape(3, -1).sum(1)
    colour = int(counts.argmax())
    if counts.sum() == 0 or counts[colour] * 10 < counts.sum() * 9 or counts[colour] < S * S / 50:
        return None
    ys, xs = np.nonzero(bright[colour])
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max(), ys.max()
    h = y1 - y0 + 1
    fill = counts[colour] / ((x1 - x0 + 1) * h)
    r = ys - y0
    ratio = (2 * r + 1 < h).sum() / max((2 * r + 1 > h).sum(), 1)
    k = max(min(x1 - x0 + 1, h) // 5, 2)
    b = bright[colour]
    corners = sum(b[cy:cy + k, cx:cx + k].sum() for cx, cy in ((x0, y0), (x1 + 1 - k, y0), (x0, y1 + 1 - k), (x1 + 1 - k, y1 + 1 - k))) / (4 * k * k)
    level = 0.75 < ratio < 1.33
    if ratio < 0.6 and 0.3 < fill < 0.75:
        shape = 2
    elif level and corners >= 0.5 and fill > 0.75:
        shape = 0
    elif level and corners < 0.35 and 0.6 < fill < 0.9:
        shape = 1
    else:
        return None
    return shape * 3 + colour


with torch.no_grad():
    samples = g(torch.randn(1000, nz, 1, 1)).numpy()
per = [0] * 9
for img in samples:
    c = shape_class(img)
    if c is not None:
        per[c] += 1
real_right = sum(shape_class(data[i].numpy()) == i % 9 for i in range(min(N, 450)))
print(f"the classifier reads {real_right} of {min(N, 450)} training images as drawn")
print(f"RESULT system=pytorch-eager-cpu model=R6-shapes size={S} width={w} noise={a.noise} iters={a.iters} "
      f"s_per_iter={secs / a.iters:.4f} classes={sum(1 for c in per if c)} clear={sum(per)} per={per}")
