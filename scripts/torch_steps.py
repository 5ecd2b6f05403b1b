"""PyTorch's own R2 training steps from a PyTorch initialisation, for tests/pytorch.rs to replay
in this crate: the same initial weights, noise and real batches, and PyTorch's losses, first
gradients and final weights to compare with.

    python3 scripts/torch_steps.py --out DIR [--steps 3] [--batch 8] [--seed 0]

Writes DIR/init.safetensors (weights only, `G.<i>.<name>` / `D.<i>.<name>`: what
`dcgan_mnist --init-from` reads) and DIR/steps.safetensors: z.<s> (batch, 100), real.<s>
(batch, 784), d_loss.<s>, g_loss.<s>, grad.D.<name> and grad.G.<name> (the first step's gradients,
before the optimizer steps), final.G.<name> and final.D.<name>.

The step is SPEC.md's R2 loop as the crate runs it (GanConfig::r2): G(z) once per step; D on the
real batch, then on the generated batch (train mode, separate batch statistics), BCE on logits;
Adam(2e-4, 0.5, 0.999); then G through D on the same generated batch (non-saturating loss).
"""
import argparse
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file


def r2(z_dim=100):
    g = nn.Sequential(nn.Linear(z_dim, 128 * 7 * 7), nn.BatchNorm1d(128 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (128, 7, 7)),
                      nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
                      nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())
    d = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(64, 128, 4, 2, 1), nn.BatchNorm2d(128),
                      nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(128 * 7 * 7, 1))
    return g, d


def dcgan_init(net, gen):
    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02, generator=gen)
            nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02, generator=gen)
            nn.init.zeros_(m.bias)


def weights(prefix, net):
    return {f"{prefix}.{k}": v.detach().float().contiguous() for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(a.seed)
    g, d = r2()
    dcgan_init(g, gen)
    dcgan_init(d, gen)
    os.makedirs(a.out, exist_ok=True)
    save_file({**weights("G", g), **weights("D", d)}, os.path.join(a.out, "init.safetensors"))
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    g.train()
    d.train()
    rec = {}
    for s in range(a.steps):
        z = torch.randn(a.batch, 100, generator=gen)
        real = torch.rand(a.batch, 784, generator=gen) * 2 - 1
        rec[f"z.{s}"], rec[f"real.{s}"] = z, real
        fake = g(z)
        opt_d.zero_grad()
        l_real = d(real.view(-1, 1, 28, 28))
        l_fake = d(fake.detach())
        d_loss = F.softplus(-l_real).mean() + F.softplus(l_fake).mean()
        d_loss.backward()
        if s == 0:
            rec.update({f"grad.D.{n}": p.grad.detach().clone() for n, p in d.named_parameters()})
        opt_d.step()
        opt_g.zero_grad()
        g_loss = F.softplus(-d(fake)).mean()
        g_loss.backward()
        if s == 0:
            rec.update({f"grad.G.{n}": p.grad.detach().clone() for n, p in g.named_parameters()})
        opt_g.step()
        rec[f"d_loss.{s}"], rec[f"g_loss.{s}"] = d_loss.detach().reshape(1), g_loss.detach().reshape(1)
        print(f"step {s}: D loss {d_loss.item():.6f}, G loss {g_loss.item():.6f}")
    rec.update({f"final.{k}": v for k, v in {**weights("G", g), **weights("D", d)}.items()})
    save_file({k: v.float().contiguous() for k, v in rec.items()}, os.path.join(a.out, "steps.safetensors"))
    print(f"wrote {a.out}/init.safetensors and steps.safetensors")


if __name__ == "__main__":
    main()
