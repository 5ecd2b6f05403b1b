"""Shared by to_pytorch.py, from_pytorch.py and torch_steps.py: this crate's model descriptions
(src/nn/describe.rs, stored in every checkpoint's metadata) as PyTorch modules, and the mapping
between the crate's checkpoint names and PyTorch's state dicts.

A description is {"format": "wgpu-gan/sequential", "version": 1, "layers": [{"kind": ...}, ...]};
each layer becomes the PyTorch module of the same name, in an nn.Sequential, so parameter names
agree: the crate's `G.4.weight` is `G[4].weight`.
"""
import json
import re

import torch
import torch.nn as nn

FORMAT, VERSION = "wgpu-gan/sequential", 1

_CONV_KINDS = ("Conv2d", "ConvTranspose2d")
_CONV = {"in_channels", "out_channels", "input_size", "kernel_size", "stride", "padding", "dilation", "groups", "bias"}
# The fields each layer kind may have (src/nn/*.rs, `describe`): anything else is refused by name
# rather than dropped, so a description that asks for what this mapping cannot build (PyTorch's
# padding_mode="reflect", say) fails instead of becoming another network.
FIELDS = {
    "Linear": {"in_features", "out_features", "bias"},
    "Conv2d": _CONV,
    "ConvTranspose2d": _CONV | {"output_padding"},
    "BatchNorm1d": {"num_features", "positions", "eps", "momentum"},
    "BatchNorm2d": {"num_features", "positions", "eps", "momentum"},
    "ReLU": set(),
    "LeakyReLU": {"negative_slope"},
    "Tanh": set(),
    "Sigmoid": set(),
    "Flatten": {"start_dim", "end_dim"},
    "Unflatten": {"dim", "unflattened_size"},
}


def build(desc):
    """nn.Sequential from a description (a dict, or its JSON text)."""
    if isinstance(desc, str):
        desc = json.loads(desc)
    if desc.get("format") != FORMAT or desc.get("version") != VERSION:
        raise ValueError(f"not a {FORMAT} v{VERSION} description: {desc.get('format')} v{desc.get('version')}")
    layers = []
    for i, l in enumerate(desc["layers"]):
        k = l["kind"]
        if k not in FIELDS:
            raise ValueError(f"layer {i}: unknown kind {k}")
        unknown = sorted(set(l) - FIELDS[k] - {"kind"})
        if unknown:
            raise ValueError(f"layer {i} ({k}): field {unknown[0]!r} is not one this mapping reads "
                             f"(it reads {sorted(FIELDS[k]) or 'none'}), so the layer cannot be built as described")
        if k.startswith("BatchNorm") and (l.get("positions", 1) == 1) != (k == "BatchNorm1d"):
            raise ValueError(f"layer {i} ({k}): {l.get('positions')} positions per channel is "
                             f"{'BatchNorm1d' if l.get('positions', 1) == 1 else 'BatchNorm2d'} in this crate")
        if k == "Flatten" and (l.get("start_dim", 1), l.get("end_dim", -1)) != (1, -1) \
                or k == "Unflatten" and l.get("dim", 1) != 1 or k in _CONV_KINDS and l.get("groups", 1) != 1:
            raise ValueError(f"layer {i} ({k}): only the values this crate writes are supported: {l}")
        if k == "Linear":
            m = nn.Linear(l["in_features"], l["out_features"], bias=l["bias"])
        elif k in ("Conv2d", "ConvTranspose2d"):
            args = dict(kernel_size=tuple(l["kernel_size"]), stride=tuple(l["stride"]), padding=tuple(l["padding"]),
                        dilation=tuple(l.get("dilation", [1, 1])), groups=l.get("groups", 1), bias=l["bias"])
            if k == "Conv2d":
                m = nn.Conv2d(l["in_channels"], l["out_channels"], **args)
            else:
                m = nn.ConvTranspose2d(l["in_channels"], l["out_channels"], output_padding=tuple(l["output_padding"]), **args)
        elif k in ("BatchNorm1d", "BatchNorm2d"):
            # (The crate names a batch norm by its positions per channel: 1 is BatchNorm1d on
            # (N, C), more is BatchNorm2d; both have the same parameters and state, so a
            # state dict loads into either.)
            m = getattr(nn, k)(l["num_features"], eps=l["eps"], momentum=l["momentum"])
        elif k == "ReLU":
            m = nn.ReLU()
        elif k == "LeakyReLU":
            m = nn.LeakyReLU(l["negative_slope"])
        elif k == "Tanh":
            m = nn.Tanh()
        elif k == "Sigmoid":
            m = nn.Sigmoid()
        elif k == "Flatten":
            m = nn.Flatten()
        elif k == "Unflatten":
            m = nn.Unflatten(1, tuple(l["unflattened_size"]))
        else:
            raise ValueError(f"layer {i}: unknown kind {k}")
        layers.append(m)
    return nn.Sequential(*layers)


def adam_settings(debug):
    """(lr, (beta1, beta2), eps) from the crate's `Adam { lr: .., beta1: .., beta2: .., eps: .. }`."""
    vals = dict(re.findall(r"(\w+): ([0-9.eE+-]+)", debug))
    if not debug.startswith("Adam"):
        raise SystemExit(f"only Adam's state is mapped (to torch.optim.Adam); this run's optimizer is {debug}. "
                         "The networks alone load without --out.")
    return float(vals["lr"]), (float(vals["beta1"]), float(vals["beta2"])), float(vals["eps"])


# PyTorch's examples/dcgan keeps each network's layers in `self.main`, and its generator takes
# noise shaped (N, nz, 1, 1) where the crate's R6 generator starts with an Unflatten: the crate's
# G.<i>.<name> is the example's main.<i-1>.<name>, D.<i>.<name> its main.<i>.<name> (its final
# Sigmoid has no parameters; the crate's sigmoid is in the loss).
EXAMPLE_OFFSET = {"G": 1, "D": 0}


def to_example(prefix, state_dict):
    """A crate network's state dict ("<i>.<name>") under the example's names ("main.<j>.<name>")."""
    off = EXAMPLE_OFFSET[prefix]
    out = {}
    for key, v in state_dict.items():
        i, rest = key.split(".", 1)
        if int(i) < off:
            raise SystemExit(f"{prefix}.{key}: a parameter in a layer the example does not have (not an R6 network?)")
        out[f"main.{int(i) - off}.{rest}"] = v
    return out


def from_example(prefix, state_dict):
    """The example's state dict ("main.<j>.<name>") under the crate's names ("<prefix>.<i>.<name>")."""
    out = {}
    for key, v in state_dict.items():
        head, j, rest = key.split(".", 2)
        if head != "main":
            raise SystemExit(f"{key}: not a name of PyTorch's examples/dcgan (main.<j>.<name>)")
        out[f"{prefix}.{int(j) + EXAMPLE_OFFSET[prefix]}.{rest}"] = v
    return out

