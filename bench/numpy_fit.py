"""The same closed form as `polyapprox fit --degree 2 --json` for a ReLU MLP under a dense Gaussian, hand-written in
numpy: the baseline of the CLI benchmark (bench/cli.ts). Not part of the package.

Usage: python3 bench/numpy_fit.py model.safetensors input.safetensors out.safetensors
Prints one JSON object (fvu, r2, explained_variance_by_degree, seconds) like the CLI.
"""
import json, struct, sys, time
t0 = time.perf_counter()
import numpy as np
from scipy.special import ndtr


def read_safetensors(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    h = json.loads(b[8:8 + n])
    out = {}
    for k, v in h.items():
        if k == '__metadata__':
            continue
        s, e = v['data_offsets']
        out[k] = np.frombuffer(b[8 + n + s:8 + n + e], dtype={'F64': '<f8', 'F32': '<f4'}[v['dtype']]).reshape(v['shape']).astype(np.float64)
    return out


def write_safetensors(path, tensors, metadata):
    header, blobs, off = {}, [], 0
    for k in sorted(tensors):
        raw = np.ascontiguousarray(tensors[k], '<f8').tobytes()
        header[k] = {'dtype': 'F64', 'shape': list(tensors[k].shape), 'data_offsets': [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header['__metadata__'] = metadata
    hb = json.dumps(header).encode()
    hb += b' ' * ((8 - len(hb) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(hb)) + hb)
        for x in blobs:
            f.write(x)


model, inp, out = sys.argv[1:4]
w = read_safetensors(model)
g = read_safetensors(inp)
W1, b1, W2, b2 = w['W1'], w['b1'], w['W2'], w['b2']
mu, Sigma = g['mean'], g['cov']
phi = lambda z: np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)

# Per-unit preactivation statistics and ReLU expectations.
WS = W1 @ Sigma
m = W1 @ mu + b1
s = np.sqrt(np.einsum('ij,ij->i', WS, W1))
z = m / s
Eg = m * ndtr(z) + s * phi(z)
Eg1 = ndtr(z)
Eg2 = phi(z) / s

# Degree-2 coefficients: Γ = ½E[∇²f], β = E[∇f] − 2Γμ, α = E f − E[∇f]·μ + μᵀΓμ − tr(ΓΣ).
G1 = W1.T @ (Eg1[:, None] * W2.T)
q = 0.5 * Eg2
wmu = W1 @ mu
gamma = np.stack([(W1 * (W2[o] * q)[:, None]).T @ W1 for o in range(W2.shape[0])])
beta = W1.T @ ((Eg1 - 2 * q * wmu)[:, None] * W2.T)
alpha = b2 + W2 @ (Eg - Eg1 * wmu + q * wmu ** 2 - q * s ** 2)

# Exact variance accounting: Mehler series of the ReLU units' Hermite coefficients (normalized).
K = 30
ell = -z
He = np.zeros((K + 1, len(s)))
He[0] = 1
He[1] = ell
for k in range(1, K):
    He[k + 1] = (ell * He[k] - np.sqrt(k) * He[k - 1]) / np.sqrt(k + 1)  # normalized He_k/√k!
c = np.zeros((K + 1, len(s)))
c[0] = Eg
c[1] = s * Eg1
for k in range(2, K + 1):
    # E[relu(u) He_k(t)]/√k! = s φ(ℓ) He_{k−2}(ℓ)/√k!, with He_{k−2}(ℓ) = √((k−2)!)·(normalized value).
    c[k] = s * phi(ell) * He[k - 2] / np.sqrt(k * (k - 1))
var = (m * m + s * s) * ndtr(z) + m * s * phi(z) - Eg ** 2
R = (WS @ W1.T) / np.outer(s, s)
np.fill_diagonal(R, 0.0)
M = W2.T @ W2
total = np.sum(np.diag(M) * var)
ev = [0.0] * 3
Rk = np.ones_like(R)
for k in range(1, K + 1):
    Rk *= R
    term = np.einsum('ij,i,j,ij->', M, c[k], c[k], Rk) + np.sum(np.diag(M) * c[k] ** 2)
    total += term - np.sum(np.diag(M) * c[k] ** 2)
    if k <= 2:
        ev[k] = term
fvu = 1 - (ev[1] + ev[2]) / total
seconds = time.perf_counter() - t0
write_safetensors(out, {'alpha': alpha, 'beta': beta, 'gamma': gamma}, {'fvu': str(fvu)})
print(json.dumps({'fvu': fvu, 'r2': 1 - fvu, 'explained_variance_by_degree': ev, 'seconds': time.perf_counter() - t0}))
