"""Chains of partial products the norm tests share."""

import numpy as np


def random_chain(n: int, steps: int, seed: int) -> np.ndarray:
    """Max-normalised partial products of tanh-RNN-like step Jacobians, shape (steps, n, n)."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n, n)) / np.sqrt(n)
    P = np.eye(n)
    out = []
    for _ in range(steps):
        P = P @ ((1 - np.tanh(rng.standard_normal(n)) ** 2)[:, None] * W)
        P /= np.abs(P).max()
        out.append(P)
    return np.stack(out)
