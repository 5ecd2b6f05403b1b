"""A wgpu-gan checkpoint as PyTorch objects: both networks built from the model descriptions in
its metadata and loaded with strict=True, and both Adam states as torch.optim.Adam state dicts.

    python3 scripts/to_pytorch.py out/dcgan_mnist/checkpoint.safetensors --out model.pt
    # model.pt: torch.save({"G": state_dict, "D": state_dict, "optimizer_G": .., "optimizer_D": ..,
    #                       "step": int, "descriptions": {"G": json, "D": json}})

    python3 scripts/to_pytorch.py out/dcgan/checkpoint.safetensors --example DIR
    # DIR/netG.pth and DIR/netD.pth under PyTorch's examples/dcgan names (main.0.weight, ...):
    # R6's networks load into that example's Generator and Discriminator with strict=True
    # (its --netG and --netD flags).

    python3 scripts/to_pytorch.py CKPT --run inputs.safetensors outputs.safetensors
    # Runs G on inputs["z"] and D on inputs["x"] in eval mode (running statistics) and in train
    # mode, writes G.eval, G.train, D.eval, D.train (used by tests/pytorch.rs).

Adam's step count: the crate counts G updates as the step, and D updates as k per step; the
optimizer state dict's per-parameter "step" is that count, as torch.optim.Adam keeps it.
"""
import argparse
import json
import sys

import torch
from safetensors import safe_open
from safetensors.torch import save_file

sys.path.insert(0, __import__("os").path.dirname(__file__))
from wgpu_gan_torch import adam_settings, build, to_example  # noqa: E402


def load(path):
    """(tensors, metadata) of a wgpu-gan checkpoint."""
    with safe_open(path, "pt") as f:
        meta = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if meta.get("format") != "wgpu-gan-checkpoint-v1" or "generator" not in meta:
        raise SystemExit(f"{path}: not a wgpu-gan GAN checkpoint (metadata: {sorted(meta)})")
    return tensors, meta


def networks(tensors, meta):
    """{"G": module, "D": module}, each loaded strictly from its prefix's tensors."""
    nets = {}
    for prefix, key in (("G", "generator"), ("D", "discriminator")):
        net = build(meta[key])
        sd = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
        net.load_state_dict(sd, strict=True)
        nets[prefix] = net
    return nets


def optimizers(tensors, meta, nets):
    """{"optimizer_G": state dict, "optimizer_D": state dict} in torch.optim.Adam's layout."""
    step = int(tensors["step"].item())
    k = int(meta.get("k", "1"))
    out = {}
    for prefix, updates in (("G", step), ("D", step * k)):
        lr, betas, eps = adam_settings(meta[f"optimizer_{prefix}"])
        opt = torch.optim.Adam(nets[prefix].parameters(), lr=lr, betas=betas, eps=eps)
        sd = opt.state_dict()
        names = [n for n, _ in nets[prefix].named_parameters()]
        sd["state"] = {
            i: {"step": torch.tensor(float(updates)),
                "exp_avg": tensors[f"optimizer_{prefix}.{n}.exp_avg"].clone(),
                "exp_avg_sq": tensors[f"optimizer_{prefix}.{n}.exp_avg_sq"].clone()}
            for i, n in enumerate(names)
        }
        opt.load_state_dict(sd)  # validates the layout against the parameters
        out[f"optimizer_{prefix}"] = opt.state_dict()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--out", help="torch.save the networks' and optimizers' state dicts here")
    ap.add_argument("--example", metavar="DIR", help="write netG.pth and netD.pth as PyTorch's examples/dcgan names them")
    ap.add_argument("--run", nargs=2, metavar=("INPUTS", "OUTPUTS"), help="run both networks on fixed inputs")
    a = ap.parse_args()
    tensors, meta = load(a.checkpoint)
    nets = networks(tensors, meta)
    print(f"loaded G ({sum(p.numel() for p in nets['G'].parameters())} parameters) and "
          f"D ({sum(p.numel() for p in nets['D'].parameters())}) with strict=True")
    if a.example:
        import os
        if not isinstance(nets["G"][0], torch.nn.Unflatten):
            raise SystemExit("--example: the generator does not start as R6's does (an Unflatten of the noise)")
        os.makedirs(a.example, exist_ok=True)
        for prefix in ("G", "D"):
            torch.save(to_example(prefix, nets[prefix].state_dict()), os.path.join(a.example, f"net{prefix}.pth"))
        print(f"wrote {a.example}/netG.pth and netD.pth (PyTorch's examples/dcgan names)")
    if a.out:
        opts = optimizers(tensors, meta, nets)
        torch.save({"G": nets["G"].state_dict(), "D": nets["D"].state_dict(), **opts,
                    "step": int(tensors["step"].item()),
                    "descriptions": {"G": meta["generator"], "D": meta["discriminator"]}}, a.out)
        print(f"wrote {a.out}")
    if a.run:
        with safe_open(a.run[0], "pt") as f:
            z, x = f.get_tensor("z").double(), f.get_tensor("x").double()
        out = {}
        with torch.no_grad():
            for mode in ("eval", "train"):
                for name, inp in (("G", z), ("D", x)):
                    net = nets[name].double()
                    net.train(mode == "train")
                    # Train mode moves the running statistics; run on a copy of the state.
                    saved = {k: v.clone() for k, v in net.state_dict().items()}
                    out[f"{name}.{mode}"] = net(inp).float().contiguous()
                    net.load_state_dict(saved)
        save_file(out, a.run[1])
        print(f"wrote {a.run[1]}: {sorted(out)}")


if __name__ == "__main__":
    main()
