"""Metric streams that look like a real training run, so that disk and read figures mean something.

Constant or all-zero values would compress to nothing and flatter ``bytes per point``; pure random
floats would be the worst case. A training run is in between: a noisy decaying loss, an accuracy
that climbs and saturates, a stepwise-smooth learning-rate schedule, a spiky gradient norm, and
one column of uniform noise standing for the metric that does not compress at all.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

KEYS = ("loss", "accuracy", "lr", "grad_norm", "noise")


def training_columns(n: int, start: int = 0, total: int | None = None, seed: int = 0) -> dict:
    """Values of :data:`KEYS` for steps ``start .. start + n - 1`` of a ``total``-step run."""
    total = total or n
    rng = np.random.default_rng([seed, start])
    t = np.arange(start, start + n, dtype=np.float64)
    frac = t / total
    loss = 0.08 + 2.3 * np.exp(-5.0 * frac) + rng.normal(0.0, 0.04, n) * (1.0 + np.exp(-3 * frac))
    accuracy = np.clip(1.0 - 0.9 * np.exp(-6.0 * frac) + rng.normal(0.0, 0.01, n), 0.0, 1.0)
    warmup = 0.05
    lr = np.where(
        frac < warmup,
        3e-4 * frac / warmup,
        3e-4 * 0.5 * (1.0 + np.cos(np.pi * (frac - warmup) / (1.0 - warmup))),
    )
    grad_norm = np.exp(rng.normal(0.0, 0.5, n)) * (0.5 + 4.0 * np.exp(-4.0 * frac))
    noise = rng.random(n)
    return {
        "loss": loss,
        "accuracy": accuracy,
        "lr": lr,
        "grad_norm": grad_norm,
        "noise": noise,
    }


def training_rows(n: int, chunk: int = 10_000, seed: int = 0) -> Iterator[dict[str, float]]:
    """Yield ``n`` log() payloads of :data:`KEYS`, generated a chunk at a time (bounded memory)."""
    for start in range(0, n, chunk):
        cols = training_columns(min(chunk, n - start), start, n, seed)
        lists = [cols[k].tolist() for k in KEYS]
        for row in zip(*lists, strict=True):
            yield dict(zip(KEYS, row, strict=True))


def wide_rows(width: int, pool: int = 512, seed: int = 1) -> list[dict[str, float]]:
    """``pool`` distinct payloads of ``width`` float keys, cycled by the ingest figure.

    A pool keeps payload construction out of the timed loop without holding millions of floats.
    """
    rng = np.random.default_rng(seed)
    names = [f"layer{i // 10}/metric{i % 10}" for i in range(width)]
    values = rng.normal(0.0, 1.0, (pool, width)).cumsum(axis=0).tolist()
    return [dict(zip(names, row, strict=True)) for row in values]
