"""Reference fixtures for the Rust layer kernels, computed by PyTorch on the CPU.

What it writes
    tests/fixtures/torch_layers.safetensors: one safetensors file holding, for a fixed list of
    cases, the inputs, forward outputs and gradients of

    * conv2d            (cases conv00, conv01, ...)
    * conv_transpose2d  (cases convt00, convt01, ...)
    * batch norm        (cases bn1d.., bn2d..; training mode with affine parameters)
    * conv2d / conv_transpose2d with PyTorch's per-axis parameters (asymmetric kernel, stride,
      padding, output padding, dilation) and without a bias (cases conv_axes.., convt_axes..)

    `__metadata__` has one entry per case: key = case name, value = a space-separated
    `key=value` string describing the case:

        kind=conv2d n= cin= h= w= cout= kh= kw= stride= pad=
        kind=conv_transpose2d n= cin= h= w= cout= kh= kw= stride= pad= out_pad=
        kind=batchnorm n= c= hw= h= w= eps= momentum=

    The per-axis cases write sh sw ph pw dh dw (and oph opw) instead of stride/pad/out_pad, and
    bias=0|1; a case without a bias has no b or db tensor.
    (stride and pad apply to both spatial dims; for batch norm hw=1, h=w=1 means BatchNorm1d on
    an (n, c) input, hw>1 means BatchNorm2d on an (n, c, h, w) input with hw = h*w.)

    Tensors are named `<case>.<what>`, all F32:

    * conv2d / conv_transpose2d: x (N,C,H,W), w (PyTorch layout: conv (cout,cin,kh,kw), convT
      (cin,cout,kh,kw)), b, dy (random upstream gradient, output's shape), y (forward output),
      dx, dw, db (gradients of sum(y * dy)).
    * batchnorm: x, gamma, beta, running_mean0, running_var0 (initial running stats), dy;
      y (train-mode output), dx, dgamma, dbeta (gradients of sum(y * dy)), running_mean1,
      running_var1 (after the one train-mode forward: PyTorch's momentum update, with the
      unbiased batch variance), y_eval (eval-mode output using running_mean0/running_var0).

Why
    PyTorch is an outside referee for the Rust kernels: a hand-written kernel and a hand-written
    gradient can agree with each other (gradcheck) and with a GPU port of themselves and still
    share the same indexing mistake. The cases are chosen to break naive indexing: strides 1-3,
    padding 0-2, kernels 3/4/5 and a non-square 3x5 kernel, non-square inputs, batch 1 and 3,
    channel counts that are not multiples of 4, transposed-conv output padding, plus the DCGAN
    layer shapes (channels shrunk 64/128 -> 16/24 to keep the file small).

    Inputs are drawn (seed 0), rounded to float32 (what the Rust tests read), then everything
    is computed in float64 from those exact float32 values and stored rounded once to float32.

How to regenerate
    python3 scripts/fixtures.py

    Needs only torch (no numpy); the safetensors file is written by hand. The output is
    deterministic: running the script twice gives a byte-identical file.
"""
import json
import os
import struct
import warnings

warnings.filterwarnings("ignore", message=".*NumPy.*")  # torch warns when numpy is absent

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                   "torch_layers.safetensors")
F64 = torch.float64

# conv2d: (n, cin, h, w, cout, kh, kw, stride, pad)
CONV = [
    (1, 1, 5, 5, 1, 3, 3, 1, 0),
    (3, 3, 7, 9, 5, 3, 3, 1, 1),
    (2, 5, 8, 6, 3, 4, 4, 2, 1),
    (1, 6, 11, 8, 7, 5, 5, 3, 2),
    (3, 7, 9, 10, 6, 3, 5, 2, 2),    # non-square kernel
    (1, 3, 10, 7, 1, 5, 5, 1, 2),
    (3, 1, 12, 13, 5, 4, 4, 3, 0),
    (2, 7, 6, 11, 3, 3, 3, 3, 1),
    (2, 1, 28, 28, 16, 4, 4, 2, 1),  # DCGAN D layer 1 (1->64, shrunk to 16)
    (2, 16, 14, 14, 24, 4, 4, 2, 1), # DCGAN D layer 2 (64->128, shrunk to 16->24)
]

# conv_transpose2d: (n, cin, h, w, cout, kh, kw, stride, pad, out_pad)
CONVT = [
    (1, 1, 4, 4, 1, 3, 3, 1, 0, 0),
    (3, 3, 5, 7, 5, 3, 3, 1, 1, 0),
    (2, 5, 4, 3, 3, 4, 4, 2, 1, 0),
    (1, 6, 5, 4, 7, 5, 5, 3, 2, 1),
    (3, 7, 4, 5, 6, 3, 5, 2, 2, 1),     # non-square kernel, out_pad 1
    (1, 3, 6, 5, 1, 5, 5, 1, 2, 0),
    (3, 1, 3, 4, 5, 4, 4, 3, 0, 2),
    (2, 7, 4, 6, 3, 3, 3, 3, 1, 1),
    (2, 24, 7, 7, 16, 4, 4, 2, 1, 0),   # DCGAN G layer (128->64, shrunk to 24->16), 7->14
    (2, 16, 14, 14, 1, 4, 4, 2, 1, 0),  # DCGAN G output layer (64->1, shrunk to 16->1), 14->28
]

# PyTorch's per-axis parameters, and layers without a bias: (n, cin, h, w, cout, (kh, kw),
# (sh, sw), (ph, pw), (dh, dw), bias) for conv2d, plus (oph, opw) before `bias` for
# conv_transpose2d. Written after every older case, so that those keep their random numbers.
CONV_AXES = [
    (2, 3, 9, 7, 5, (3, 2), (2, 1), (0, 1), (2, 1), True),
    (3, 2, 10, 8, 6, (3, 3), (3, 2), (2, 1), (2, 3), True),
    (2, 5, 7, 6, 4, (3, 3), (2, 2), (1, 1), (2, 2), False),
    (2, 1, 28, 28, 16, (4, 4), (2, 2), (1, 1), (1, 1), False),  # DCGAN D layer 1 as in the paper
]
CONVT_AXES = [
    (2, 3, 4, 3, 5, (3, 2), (2, 1), (1, 0), (1, 2), (1, 0), True),
    (3, 2, 3, 4, 6, (3, 3), (3, 2), (2, 1), (2, 3), (2, 1), True),
    (2, 5, 4, 3, 4, (3, 3), (2, 2), (1, 1), (2, 2), (1, 1), False),
    (2, 24, 7, 7, 16, (4, 4), (2, 2), (1, 1), (1, 1), (0, 0), False),  # DCGAN G layer, no bias
]

# batchnorm: (n, c, h, w, eps, momentum); h = w = 1 means BatchNorm1d on (n, c)
BN = [
    (5, 7, 1, 1, 1e-5, 0.1),
    (2, 3, 1, 1, 1e-5, 0.1),   # small batch: unbiased variance divides by 1
    (3, 5, 4, 6, 1e-5, 0.1),
    (2, 6, 3, 5, 1e-3, 0.3),
    (4, 5, 1, 1, 1e-3, 0.3),
]


def rnd(*shape, scale=1.0, shift=0.0):
    """Random normal input, rounded to float32 (what gets stored), returned as float64."""
    t = torch.randn(*shape, dtype=F64) * scale + shift
    return t.to(torch.float32).to(F64)


def conv_case(tensors, name, n, cin, h, w, cout, kh, kw, stride, pad):
    x = rnd(n, cin, h, w).requires_grad_()
    wt = rnd(cout, cin, kh, kw, scale=0.3).requires_grad_()
    b = rnd(cout, scale=0.3).requires_grad_()
    oh, ow = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    assert oh >= 1 and ow >= 1, name
    dy = rnd(n, cout, oh, ow)
    y = F.conv2d(x, wt, b, stride=stride, padding=pad)
    assert y.shape == dy.shape, (name, y.shape, dy.shape)
    (y * dy).sum().backward()
    for k, v in [("x", x), ("w", wt), ("b", b), ("dy", dy), ("y", y),
                 ("dx", x.grad), ("dw", wt.grad), ("db", b.grad)]:
        tensors.append((f"{name}.{k}", v.detach()))
    return (f"kind=conv2d n={n} cin={cin} h={h} w={w} cout={cout} kh={kh} kw={kw} "
            f"stride={stride} pad={pad}")


def convt_case(tensors, name, n, cin, h, w, cout, kh, kw, stride, pad, out_pad):
    assert out_pad < stride, name
    x = rnd(n, cin, h, w).requires_grad_()
    wt = rnd(cin, cout, kh, kw, scale=0.3).requires_grad_()
    b = rnd(cout, scale=0.3).requires_grad_()
    oh = (h - 1) * stride - 2 * pad + kh + out_pad
    ow = (w - 1) * stride - 2 * pad + kw + out_pad
    assert oh >= 1 and ow >= 1, name
    dy = rnd(n, cout, oh, ow)
    y = F.conv_transpose2d(x, wt, b, stride=stride, padding=pad, output_padding=out_pad)
    assert y.shape == dy.shape, (name, y.shape, dy.shape)
    (y * dy).sum().backward()
    for k, v in [("x", x), ("w", wt), ("b", b), ("dy", dy), ("y", y),
                 ("dx", x.grad), ("dw", wt.grad), ("db", b.grad)]:
        tensors.append((f"{name}.{k}", v.detach()))
    return (f"kind=conv_transpose2d n={n} cin={cin} h={h} w={w} cout={cout} kh={kh} kw={kw} "
            f"stride={stride} pad={pad} out_pad={out_pad}")


def axes_case(tensors, name, transposed, n, cin, h, w, cout, k, s, p, d, op, bias):
    """A conv2d or conv_transpose2d case with per-axis parameters; metadata keys per axis."""
    x = rnd(n, cin, h, w).requires_grad_()
    wshape = (cin, cout) + k if transposed else (cout, cin) + k
    wt = rnd(*wshape, scale=0.3).requires_grad_()
    b = rnd(cout, scale=0.3).requires_grad_() if bias else None
    if transposed:
        y = F.conv_transpose2d(x, wt, b, stride=s, padding=p, output_padding=op, dilation=d)
    else:
        y = F.conv2d(x, wt, b, stride=s, padding=p, dilation=d)
    dy = rnd(*y.shape)
    (y * dy).sum().backward()
    named = [("x", x), ("w", wt), ("dy", dy), ("y", y), ("dx", x.grad), ("dw", wt.grad)]
    if bias:
        named += [("b", b), ("db", b.grad)]
    for key, v in named:
        tensors.append((f"{name}.{key}", v.detach()))
    kind = "conv_transpose2d" if transposed else "conv2d"
    meta = (f"kind={kind} n={n} cin={cin} h={h} w={w} cout={cout} kh={k[0]} kw={k[1]} "
            f"sh={s[0]} sw={s[1]} ph={p[0]} pw={p[1]} dh={d[0]} dw={d[1]} bias={int(bias)}")
    if transposed:
        meta += f" oph={op[0]} opw={op[1]}"
    return meta


def bn_case(tensors, name, n, c, h, w, eps, momentum):
    shape = (n, c) if h * w == 1 else (n, c, h, w)
    x = rnd(*shape).requires_grad_()
    gamma = rnd(c, scale=0.3, shift=1.0).requires_grad_()
    beta = rnd(c, scale=0.3).requires_grad_()
    rm0 = rnd(c, scale=0.5)
    rv0 = (torch.rand(c, dtype=F64) * 1.5 + 0.25).to(torch.float32).to(F64)  # in [0.25, 1.75)
    dy = rnd(*shape)
    rm, rv = rm0.clone(), rv0.clone()  # updated in place by the train-mode forward
    y = F.batch_norm(x, rm, rv, gamma, beta, training=True, momentum=momentum, eps=eps)
    (y * dy).sum().backward()
    with torch.no_grad():
        y_eval = F.batch_norm(x, rm0, rv0, gamma, beta, training=False, eps=eps)
    for k, v in [("x", x), ("gamma", gamma), ("beta", beta), ("running_mean0", rm0),
                 ("running_var0", rv0), ("dy", dy), ("y", y), ("dx", x.grad),
                 ("dgamma", gamma.grad), ("dbeta", beta.grad), ("running_mean1", rm),
                 ("running_var1", rv), ("y_eval", y_eval)]:
        tensors.append((f"{name}.{k}", v.detach()))
    return (f"kind=batchnorm n={n} c={c} hw={h * w} h={h} w={w} eps={eps!r} "
            f"momentum={momentum!r}")


def build():
    """Returns (metadata dict, [(tensor name, float64 tensor)]) for the whole case list."""
    torch.manual_seed(0)
    meta, tensors = {}, []
    for i, p in enumerate(CONV):
        name = f"conv{i:02d}"
        meta[name] = conv_case(tensors, name, *p)
    for i, p in enumerate(CONVT):
        name = f"convt{i:02d}"
        meta[name] = convt_case(tensors, name, *p)
    for i, (n, c, h, w, eps, mom) in enumerate(BN):
        name = f"bn{'1d' if h * w == 1 else '2d'}{i:02d}"
        meta[name] = bn_case(tensors, name, n, c, h, w, eps, mom)
    for i, (n, cin, h, w, cout, k, s, p, d, bias) in enumerate(CONV_AXES):
        name = f"conv_axes{i:02d}"
        meta[name] = axes_case(tensors, name, False, n, cin, h, w, cout, k, s, p, d, (0, 0), bias)
    for i, (n, cin, h, w, cout, k, s, p, d, op, bias) in enumerate(CONVT_AXES):
        name = f"convt_axes{i:02d}"
        meta[name] = axes_case(tensors, name, True, n, cin, h, w, cout, k, s, p, d, op, bias)
    return meta, tensors


def f32_bytes(t):
    vals = t.to(torch.float32).contiguous().view(-1).tolist()
    return struct.pack("<%df" % len(vals), *vals)


def write_safetensors(path, meta, tensors):
    header = {"__metadata__": meta}
    blobs, offset = [], 0
    for name, t in tensors:
        assert name not in header, name
        data = f32_bytes(t)
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * (-len(hbytes) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for data in blobs:
            f.write(data)


def main():
    meta, tensors = build()
    path = os.path.normpath(OUT)
    write_safetensors(path, meta, tensors)
    size = os.path.getsize(path)
    print(f"wrote {path}: {len(meta)} cases, {len(tensors)} tensors, {size} bytes "
          f"({size / 1e6:.3f} MB)")
    for name, desc in meta.items():
        print(f"  {name}: {desc}")
    assert size < 1_500_000, "fixture file too large"


if __name__ == "__main__":
    main()
