"""PyTorch state dicts into this crate's files: the reverse of to_pytorch.py.

    # A whole checkpoint (weights, running statistics, Adam state, step) that `--resume` continues;
    # the model descriptions and run settings are taken from an existing checkpoint of the same run.
    python3 scripts/from_pytorch.py model.pt --template out/dcgan_mnist/checkpoint.safetensors --out resumed.safetensors

    # Weights only (G.<i>.<name>, D.<i>.<name>), for `dcgan_mnist --init-from`:
    python3 scripts/from_pytorch.py model.pt --weights-only --out init.safetensors

    # PyTorch's examples/dcgan netG.pth and netD.pth (weights only), for `dcgan --init-from`:
    python3 scripts/from_pytorch.py --example netG.pth netD.pth --out init.safetensors

model.pt is what to_pytorch.py writes, or any torch.save({"G": G.state_dict(), "D": D.state_dict(),
["optimizer_G": optG.state_dict(), "optimizer_D": ..., "step": int]}) of nn.Sequential models laid
out like the crate's (Unflatten/Flatten in place).
"""
import argparse

import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
from wgpu_gan_torch import from_example  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?")
    ap.add_argument("--example", nargs=2, metavar=("NETG", "NETD"), help="PyTorch's examples/dcgan state dicts (implies --weights-only)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--template", help="a checkpoint of the same run: its descriptions and settings are copied")
    ap.add_argument("--weights-only", action="store_true")
    a = ap.parse_args()
    if a.example:
        out = {}
        for prefix, path in zip(("G", "D"), a.example):
            sd = torch.load(path, weights_only=True)
            out.update({k: v.detach().float().contiguous() for k, v in from_example(prefix, sd).items() if not k.endswith("num_batches_tracked")})
        save_file(out, a.out)
        print(f"wrote {a.out}: {len(out)} tensors (from examples/dcgan's names)")
        return
    if not a.model:
        ap.error("a model file, or --example NETG NETD")
    if not a.weights_only and not a.template:
        ap.error("a full checkpoint needs --template (or use --weights-only)")
    m = torch.load(a.model, weights_only=True)
    out = {}
    for prefix in ("G", "D"):
        for name, v in m[prefix].items():
            if a.weights_only and name.endswith("num_batches_tracked"):
                continue
            out[f"{prefix}.{name}"] = v.detach().contiguous() if v.dtype == torch.int64 else v.detach().float().contiguous()
    meta = None
    if not a.weights_only:
        with safe_open(a.template, "pt") as f:
            meta = f.metadata()
            seed = int(f.get_tensor("rng.seed_step")[0].item())
        step = int(m["step"])
        k = int(meta.get("k", "1"))
        for prefix in ("G", "D"):
            if not meta.get(f"optimizer_{prefix}", "").startswith("Adam"):
                raise SystemExit(f"the template's {prefix} optimizer is not Adam: only Adam's state is mapped")
            sd = m[f"optimizer_{prefix}"]
            names = [n for n in m[prefix] if not n.endswith(("running_mean", "running_var", "num_batches_tracked"))]
            if len(sd["state"]) != len(names):
                raise SystemExit(f"optimizer_{prefix} holds state for {len(sd['state'])} parameters, {prefix} has {len(names)}")
            # The crate derives Adam's step count from the training step (D: k updates a step).
            want = step * (k if prefix == "D" else 1)
            for i, n in enumerate(names):
                st = sd["state"][i]
                if st["exp_avg"].shape != m[prefix][n].shape:
                    raise SystemExit(f"optimizer_{prefix} state {i} has shape {tuple(st['exp_avg'].shape)}, parameter {n} {tuple(m[prefix][n].shape)}: "
                                     "the optimizer was built over the parameters in another order")
                if "step" in st and int(float(st["step"])) != want:
                    print(f"warning: optimizer_{prefix} state {i} is at Adam step {int(float(st['step']))}; "
                          f"the crate resumes at {want} (step {step} × {'k' if prefix == 'D' else '1'}), so bias correction will differ")
                out[f"optimizer_{prefix}.{n}.exp_avg"] = st["exp_avg"].float().contiguous()
                out[f"optimizer_{prefix}.{n}.exp_avg_sq"] = st["exp_avg_sq"].float().contiguous()
        out["step"] = torch.tensor(step, dtype=torch.int64)
        out["rng.seed_step"] = torch.tensor([seed, step], dtype=torch.int64).to(torch.uint32)
        meta = dict(meta, step=str(step))
    save_file(out, a.out, metadata=meta)
    print(f"wrote {a.out}: {len(out)} tensors")


if __name__ == "__main__":
    main()
