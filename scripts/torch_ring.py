"""PyTorch anchor for the R1 ring training step (SPEC.md §4), to run beside
`cargo run --release --example ring_bench` on the same machine and quote the ratio.

One iteration = one D update on [fake; real] (2·batch rows) + one G update through D, non-saturating
BCE on logits, Adam(β1=0.5). Real data is drawn on the device each step, as our step does.

    python3 scripts/torch_ring.py --batches 64,256,1024 --iters 300 [--device cpu|cuda]
"""
import argparse, math, time, torch, torch.nn as nn


def mlp(widths, act):
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            layers.append(act())
    return nn.Sequential(*layers)


def bench(batch, iters, dev, z_dim=2, hidden=128):
    g = mlp([z_dim, hidden, hidden, 2], nn.ReLU).to(dev)
    d = mlp([2, hidden, hidden, 1], lambda: nn.LeakyReLU(0.2)).to(dev)
    og = torch.optim.Adam(g.parameters(), 5e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(d.parameters(), 2e-3, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    ang = torch.arange(8, device=dev) * (2 * math.pi / 8)
    centres = torch.stack([ang.cos(), ang.sin()], 1)
    target_d = torch.cat([torch.zeros(batch, 1), torch.ones(batch, 1)]).to(dev)
    ones = torch.ones(batch, 1, device=dev)

    def step():
        real = centres[torch.randint(0, 8, (batch,), device=dev)] + 0.01 * torch.randn(batch, 2, device=dev)
        with torch.no_grad():
            fake = g(torch.randn(batch, z_dim, device=dev))
        od.zero_grad(set_to_none=True)
        # Mean over fake plus mean over real, as SPEC.md §2 defines the D loss.
        (2 * bce(d(torch.cat([fake, real])), target_d)).backward()
        od.step()
        og.zero_grad(set_to_none=True)
        bce(d(g(torch.randn(batch, z_dim, device=dev))), ones).backward()
        og.step()

    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    for _ in range(30):
        step()
    sync()
    t = time.perf_counter()
    for _ in range(iters):
        step()
    sync()
    return (time.perf_counter() - t) / iters


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default="64,256,1024")
    ap.add_argument("--iters", type=int, default=300)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args()
    torch.manual_seed(0)
    name = torch.cuda.get_device_name() if a.device == "cuda" else f"cpu x{torch.get_num_threads()} threads"
    print("torch", torch.__version__, name, flush=True)
    for b in map(int, a.batches.split(",")):
        dt = bench(b, a.iters, a.device)
        print(f"RESULT system=pytorch-eager-{a.device} model=R1-ring batch={b} ms_per_iter={dt * 1e3:.3f} "
              f"steps_per_s={1 / dt:.1f}", flush=True)
