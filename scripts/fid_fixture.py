"""Writes tests/fixtures/fid_singular.safetensors: two sets of feature vectors shaped like those of
an early, collapsed generator (most columns constant, as after a ReLU that never fires) against
held-out-like ones, and the FID that SciPy computes for them (the pytorch-fid / TTUR recipe:
scipy.linalg.sqrtm of Σ₁Σ₂, real part, with the ε·I retry when it is not finite). The Rust test
tests/fid.rs::singular_covariances_match_scipy compares ours with that value.

    pip install numpy scipy safetensors && python3 scripts/fid_fixture.py
"""
import numpy as np
from scipy import linalg
from safetensors.numpy import save_file

rng = np.random.default_rng(7)
n, d, constant = 400, 48, 30
mix = rng.normal(size=(d, d))
b = np.maximum(rng.normal(size=(n, d)) @ mix * 0.3 + 0.5, 0).astype(np.float32)  # held-out-like
a = np.maximum(rng.normal(size=(n, d)) @ mix * 0.1 + 0.2, 0).astype(np.float32)  # collapsed
a[:, :constant] = 0.0           # 30 of 48 columns constant (zero), as in the report
a[:, constant:constant + 3] = 1.25  # and three more constant at another value


def fid(x, y, eps=1e-6):
    x, y = x.astype(np.float64), y.astype(np.float64)
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
    if not np.isfinite(covmean).all():
        off = np.eye(s1.shape[0]) * eps
        covmean = linalg.sqrtm((s1 + off).dot(s2 + off))
    covmean = covmean.real
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


value = fid(a, b)
print(f"scipy FID {value!r}")
save_file({"a": a, "b": b}, "tests/fixtures/fid_singular.safetensors",
          metadata={"scipy_fid": repr(value), "n": str(n), "d": str(d), "constant_columns": "33"})
