"""From raw arrays to model inputs: flatten, scale, optionally standardise.

* **Flatten**: each example becomes one row of ``D = prod(example shape)``
  features in C order — row by row, and for colour images pixel by pixel with
  the channels innermost (H, W, C), the order every reader returns.
* **Scale**: ``x / pixel_divisor`` in float32; 255 maps pixel bytes to [0, 1]
  as in the papers this toolkit reproduces.
* **Standardise** (optional): per feature ``j``,
  ``z_j = (x_j - μ_j) / σ_j`` with the mean ``μ_j`` and population standard
  deviation ``σ_j`` of the *training* split only (no information from
  validation or test leaks in). A feature that is constant on the training
  split (``σ_j = 0``, e.g. MNIST's border pixels) is set to 0 everywhere.
  Moments are accumulated in float64 over row blocks, so the memory cost is
  one block, not a float64 copy of the data.
"""

from __future__ import annotations

import numpy as np
import torch

_BLOCK_ROWS = 8192


def to_features(x: np.ndarray, pixel_divisor: float) -> torch.Tensor:
    """Flatten ``x`` (N, ...) to float32 (N, D) and divide by ``pixel_divisor``."""
    flat = np.ascontiguousarray(x).reshape(len(x), -1)
    out = torch.from_numpy(flat).to(torch.float32)
    out.div_(float(pixel_divisor))
    return out


def feature_moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature mean and population standard deviation of (N, D) ``x``, in float64.

    Two passes (mean, then mean squared deviation) over row blocks.
    """
    n = x.shape[0]
    total = torch.zeros(x.shape[1], dtype=torch.float64)
    for block in x.split(_BLOCK_ROWS):
        total += block.to(torch.float64).sum(dim=0)
    mean = total / n
    sq = torch.zeros_like(total)
    for block in x.split(_BLOCK_ROWS):
        sq += (block.to(torch.float64) - mean).square().sum(dim=0)
    return mean, (sq / n).sqrt()


def standardize(train: torch.Tensor, *others: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Z-score every tensor with the training statistics; returns (train, *others), new tensors.

    Features whose training values are all equal become 0 (their σ is 0;
    the test uses exact max == min, immune to round-off in σ).
    """
    mean, std = feature_moments(train)
    constant = train.amax(dim=0) == train.amin(dim=0)
    scale = torch.where(constant, torch.zeros_like(std), 1.0 / torch.where(constant, torch.ones_like(std), std))
    mean32, scale32 = mean.to(torch.float32), scale.to(torch.float32)
    return tuple((t - mean32).mul_(scale32) for t in (train, *others))
