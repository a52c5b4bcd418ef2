"""The optimizer contract (optax style): every registered optimizer × two problems.

* a convex quadratic f(x) = ½ (x − x*)ᵀ A (x − x*), A = [[3, 1], [1, 2]]: must reach x*;
* Rosenbrock f(x, y) = (1 − x)² + 100 (y − x²)² from (−1.5, 2): must make progress
  towards (1, 1) (f drops below a twentieth of f(x₀) = 12.5 and the distance to the
  minimum halves) within the steps of the table.

Each optimizer is built through the registry (``build_optimizer``) with a rate
chosen for the problem (the table below). SDAGD gets its curvature through the
user-loop API (``set_curvature``): the exact Hessian diagonal of the quadratic
(diag A), and for Rosenbrock — a sum of squares r₁² + r₂², r₁ = 1 − x,
r₂ = 10 (y − x²) — its Gauss–Newton diagonal 2 diag(JᵀJ) = (2 + 800x², 200),
the same non-negative curvature SDAGD's backends compute for a network (the
exact Hessian diagonal 2 − 400y + 1200x² turns negative on this path).
"""

from __future__ import annotations

import pytest
import torch

from vanishing.optim import SDAGD, build_optimizer, names

A = torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
X_STAR = torch.tensor([1.0, -2.0], dtype=torch.float64)


def quadratic(x):
    d = x - X_STAR
    return 0.5 * d @ A @ d


def quadratic_curvature(x):
    return A.diagonal().clone()


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def rosenbrock_curvature(x):
    return torch.stack([2 + 800 * x[0] ** 2, torch.tensor(200.0, dtype=x.dtype)])


# spec, (quadratic lr, steps), (Rosenbrock lr, steps)
TABLE = [
    ("sgd", (0.1, 300), (1e-3, 2000)),
    ("sgd(momentum=0.9)", (0.05, 600), (5e-4, 600)),
    ("sgd(momentum=0.9, nesterov=True)", (0.05, 300), (5e-4, 600)),
    ("adagrad", (0.5, 1000), (0.5, 2000)),
    ("adadelta", (0.3, 4000), (1.0, 1200)),  # at lr ≥ 1 it circles x* at a distance ~ lr·√ε
    ("rmsprop", (0.01, 1000), (0.01, 1200)),
    ("adam", (0.05, 1000), (0.05, 600)),
    ("adamw(weight_decay=0.0)", (0.05, 1000), (0.05, 600)),
    ("sdagd", (1.0, 100), (1.0, 600)),
    ("sdagd(granularity='weight')", (1.0, 100), (1.0, 600)),
    ("sdagd(granularity='global', switch='explicit')", (1.0, 100), (1.0, 1200)),
    ("sdagd(beta=0.5)", (1.0, 100), (1.0, 600)),
]


def minimise(spec, lr, f, curvature, x0, steps):
    x = torch.nn.Parameter(torch.tensor(x0, dtype=torch.float64))
    opt = build_optimizer([x], spec, lr)
    for _ in range(steps):
        opt.zero_grad()
        f(x).backward()
        if isinstance(opt, SDAGD):
            opt.set_curvature({x: curvature(x.detach())})
        opt.step()
    return x.detach()


def test_the_table_covers_every_registered_optimizer():
    assert {spec.split("(")[0] for spec, _, _ in TABLE} == set(names())


@pytest.mark.parametrize("spec,quad,_", TABLE, ids=[row[0] for row in TABLE])
def test_reaches_the_minimum_of_a_convex_quadratic(spec, quad, _):
    lr, steps = quad
    x = minimise(spec, lr, quadratic, quadratic_curvature, [-3.0, 4.0], steps)
    assert torch.linalg.vector_norm(x - X_STAR) < 1e-4
    assert float(quadratic(x)) < 1e-8


@pytest.mark.parametrize("spec,_,rosen", TABLE, ids=[row[0] for row in TABLE])
def test_makes_progress_on_rosenbrock(spec, _, rosen):
    lr, steps = rosen
    x0 = [-1.5, 2.0]
    start = float(rosenbrock(torch.tensor(x0, dtype=torch.float64)))
    x = minimise(spec, lr, rosenbrock, rosenbrock_curvature, x0, steps)
    assert torch.isfinite(x).all()
    assert float(rosenbrock(x)) < start / 20
    target = torch.ones(2, dtype=torch.float64)
    assert torch.linalg.vector_norm(x - target) < 0.5 * torch.linalg.vector_norm(torch.tensor(x0, dtype=torch.float64) - target)
