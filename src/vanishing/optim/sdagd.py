"""SDAGD — stochastic diagonal approximate greatest descent (Tan & Lim 2019; Goh 2012).

Update rule, per parameter θ_i with gradient g_i = ∂E/∂θ_i and diagonal
Gauss–Newton curvature h_i ≥ 0 (see :mod:`vanishing.optim.curvature`)::

    θ_i ← θ_i − lr · g_i / (μ + h_i + ε),        μ = ‖g‖ / R

This is eq. (7) of Tan & Lim, W_{k+1} = W_k + [μ_k J + H(W_k)]⁻¹ g(W_k), with
their g the descent direction (−∇E), H the "truncated" (diagonal,
Gauss–Newton) Hessian and J read as the identity: Goh's approximate greatest
descent damps a Newton step with μ I so that the step stays inside a sphere
of radius R. (An all-ones J would couple every weight with every other and
make μJ + H a dense, generally ill-conditioned matrix — not the diagonal
method the paper describes.)

Two phases, decided per weight by which of μ and h is larger:

* μ ≫ h — far from a minimum, or where the curvature has vanished (the
  lower layers of a deep sigmoid net): the step is −lr·R·g/‖g‖, a
  normalised gradient step of length lr·R — for the whole parameter vector
  (``granularity="global"``), for each layer (``"layer"``: μ_l = ‖g_l‖/R over
  that layer's weight and bias) or R·sign(g) per weight (``"weight"``:
  μ_i = |g_i|/R). R values are not comparable across granularities.
* h ≫ μ — near a minimum: the step is −lr·g/h, a diagonal Newton step.

``switch="explicit"`` sets μ = 0 (a pure diagonal Newton step) wherever the
Newton step already lies inside the sphere: ‖g/(h + ε)‖ ≤ R, with the norm
taken at the granularity of μ (whole vector, per layer, per weight).

``beta`` > 0 keeps a running average of the curvature, as in LeCun's
stochastic diagonal Levenberg–Marquardt method: h̄ ← β h̄ + (1 − β) h,
started from the first estimate.

Hyper-parameters: ``lr`` (default 1), ``radius`` R of the search sphere
(default 0.3: the calibration of SPEC §4 and ``docs/sdagd.md``), ``eps`` ε
(guards a zero denominator), ``beta``, ``switch``, ``granularity`` (default
``layer``) and ``curvature`` (``lecun``, default, or ``ggn``).

Per step the optimizer keeps an :class:`SDAGDStats` record in ``.stats`` —
μ, the gradient norm and the step length per layer as device tensors (no
host synchronisation); the fraction of weights with h > μ (the "phase") and
the per-layer median of h are computed when first read. On the deep sigmoid
nets of the paper the record shows h orders of magnitude below μ in every
layer: SDAGD runs as layer-wise normalised gradient descent there (see
``docs/sdagd.md``).

Curvature comes from the training engine (``needs_intermediates = True``: the
engine calls :meth:`SDAGD.prepare` after the backward pass) or, in a loop of
your own, from :meth:`SDAGD.compute_curvature` / :meth:`SDAGD.set_curvature`::

    >>> import torch
    >>> from torch import nn
    >>> from vanishing.optim import SDAGD
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 3))
    >>> opt = SDAGD(net, radius=0.3)          # a module: one μ per Linear (weight and bias)
    >>> x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    >>> loss = nn.functional.cross_entropy(net(x), y)
    >>> opt.zero_grad(); loss.backward()
    >>> opt.compute_curvature(net, x, loss="ce", output="softmax")
    >>> opt.step()
    >>> opt.stats.layers
    ('0', '2')

Sources: H. H. Tan & K. H. Lim, "Vanishing gradient mitigation with deep
learning neural network optimization", 2019, eq. (7) (seed ``002_…``);
H. H. Tan, K. H. Lim & H. G. Hendra, "Stochastic diagonal approximate greatest
descent in neural networks", IJCNN 2017; B. S. Goh,
"Numerical method in optimization as a multi-stage decision control system",
2012 (approximate greatest descent); Y. LeCun, L. Bottou, G. Orr & K.-R.
Müller, "Efficient BackProp", 1998, §9.1 (stochastic diagonal
Levenberg–Marquardt).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from . import curvature as curvature_mod

GRANULARITIES = ("global", "layer", "weight")
SWITCHES = ("auto", "explicit")
DEFAULTS: dict[str, Any] = {
    "radius": 0.3,
    "eps": 1e-8,
    "beta": 0.0,
    "switch": "auto",
    "granularity": "layer",
    "curvature": "lecun",
}
DEFAULT_LR = 1.0


def check_options(options: Mapping[str, Any]) -> None:
    """Reject SDAGD options outside their domain (one ConfigError naming the option)."""
    field_name = "optim.optimizer"
    radius = options.get("radius", DEFAULTS["radius"])
    if not (isinstance(radius, (int, float)) and radius > 0):
        raise ConfigError(f"{field_name}: sdagd(radius=...) must be a positive number, got {radius!r}")
    eps = options.get("eps", DEFAULTS["eps"])
    if not (isinstance(eps, (int, float)) and eps >= 0):
        raise ConfigError(f"{field_name}: sdagd(eps=...) must be a non-negative number, got {eps!r}")
    beta = options.get("beta", DEFAULTS["beta"])
    if not (isinstance(beta, (int, float)) and 0 <= beta < 1):
        raise ConfigError(f"{field_name}: sdagd(beta=...) must lie in [0, 1), got {beta!r}")
    for key, allowed in (("switch", SWITCHES), ("granularity", GRANULARITIES), ("curvature", curvature_mod.BACKENDS)):
        value = options.get(key, DEFAULTS[key])
        if value not in allowed:
            raise ConfigError(f"{field_name}: sdagd({key}=...) must be one of {', '.join(allowed)}, got {value!r}")


# --------------------------------------------------------------------------- the state record


@dataclass
class SDAGDStats:
    """What one SDAGD step did, per layer (device tensors of shape [L], in the order of ``layers``).

    Computed with the step (cheap reductions, no host synchronisation):

    * ``mu`` — μ_l = ‖g_l‖/R (``layer``); the one global μ repeated (``global``);
      the mean of μ_i = |g_i|/R over the layer (``weight``); 0 where the
      explicit switch turned μ off.
    * ``step_norm`` — ‖Δθ_l‖ = lr·‖g_l/(μ + h_l + ε)‖, the length of the layer's step.
    * ``grad_norm`` — ‖g_l‖.
    * ``newton`` — 1 where ``switch="explicit"`` set μ = 0 (for ``weight``: the
      fraction of the layer's weights), else 0.
    * ``size`` — number of weights and biases in the layer.

    Computed on first read (each is a pass over every weight — a selection
    for the median, ~5 ms per 0.5 M weights on one CPU core — so a step that
    nobody inspects does not pay for them):

    * ``phase`` — fraction of the layer's weights and biases with h > μ: 0 = all
      in the normalised-gradient phase, 1 = all in the diagonal-Newton phase.
    * ``median_h`` — the median of h over the layer.

    The record holds its own tensors of h and μ, so it stays valid after later steps.
    """

    step: int
    layers: tuple[str, ...]
    mu: torch.Tensor
    step_norm: torch.Tensor
    grad_norm: torch.Tensor
    newton: torch.Tensor
    size: torch.Tensor
    _h: tuple[tuple[torch.Tensor, ...], ...] = field(repr=False, default=())
    _mu: tuple[tuple[torch.Tensor, ...], ...] = field(repr=False, default=())

    @functools.cached_property
    def median_h(self) -> torch.Tensor:
        return torch.stack([torch.cat([h.reshape(-1) for h in hs]).median() for hs in self._h])

    @functools.cached_property
    def phase(self) -> torch.Tensor:
        above = [sum(torch.count_nonzero(h > m) for h, m in zip(hs, ms)) for hs, ms in zip(self._h, self._mu)]
        return torch.stack([torch.as_tensor(a, device=self.size.device) for a in above]).to(self.size.dtype) / self.size

    def as_dict(self) -> dict[str, dict[str, float]]:
        """{layer: {mu, median_h, phase, step_norm, grad_norm, newton}} as Python floats (synchronises)."""
        table = {k: getattr(self, k).tolist() for k in ("mu", "median_h", "phase", "step_norm", "grad_norm", "newton")}
        return {name: {k: v[i] for k, v in table.items()} for i, name in enumerate(self.layers)}


# --------------------------------------------------------------------------- the pieces (optax style)


def _per_layer(values: Sequence[torch.Tensor], layer_index: torch.Tensor, n_layers: int) -> torch.Tensor:
    """Sum per-tensor scalars into their layers: [P] → [L]."""
    stacked = torch.stack(list(values))
    return torch.zeros(n_layers, dtype=stacked.dtype, device=stacked.device).index_add_(0, layer_index, stacked)


def damping(
    grads: Sequence[torch.Tensor],
    layer_index: torch.Tensor,
    index_list: Sequence[int],
    radius: torch.Tensor,
    n_layers: int,
    granularity: str,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """μ per parameter tensor, and ‖g_l‖² per layer.

    ``global``: μ = ‖g‖/R (a 0-d tensor);  ``layer``: μ_l = ‖g_l‖/R_l (0-d);
    ``weight``: μ_i = |g_i|/R (a tensor like g). ``layer_index`` (a device
    tensor; ``index_list`` the same as a list) gives the layer of each
    parameter tensor; ``radius`` is R per layer.
    """
    grad_sq = _per_layer([n.square() for n in torch._foreach_norm(grads)], layer_index, n_layers)
    if granularity == "weight":
        return [g.abs().div_(radius[i]) for g, i in zip(grads, index_list)], grad_sq
    if granularity == "global":
        mu = grad_sq.sum().sqrt() / radius
    else:
        mu = grad_sq.sqrt() / radius
    return list(mu[layer_index].unbind()), grad_sq


def explicit_switch(
    grads: Sequence[torch.Tensor],
    hs: Sequence[torch.Tensor],
    mus: list[torch.Tensor],
    layer_index: torch.Tensor,
    index_list: Sequence[int],
    radius: torch.Tensor,
    n_layers: int,
    granularity: str,
    eps: Sequence[float],
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Set μ = 0 wherever the diagonal Newton step lies inside the sphere: ‖g/(h + ε)‖ ≤ R.

    Returns (μ, newton flags) per parameter tensor; the norm is taken at the granularity of μ.
    """
    newton_steps = [g / (h + e) for g, h, e in zip(grads, hs, eps)]
    if granularity == "weight":
        flags = [s.abs() <= radius[i] for s, i in zip(newton_steps, index_list)]
        return [torch.where(f, torch.zeros_like(m), m) for f, m in zip(flags, mus)], flags
    per_layer = _per_layer([n.square() for n in torch._foreach_norm(newton_steps)], layer_index, n_layers)
    if granularity == "global":
        inside = (per_layer.sum().sqrt() <= radius).expand(n_layers)
    else:
        inside = per_layer.sqrt() <= radius
    flags = list(inside[layer_index].unbind())
    return [torch.where(f, torch.zeros_like(m), m) for f, m in zip(flags, mus)], flags


def direction(g: torch.Tensor, h: torch.Tensor, mu: torch.Tensor, eps: float, out: torch.Tensor | None = None) -> torch.Tensor:
    """The SDAGD step before the learning rate: g / (μ + h + ε) (written into ``out`` when given)."""
    out = torch.add(h, mu + eps, out=out) if out is not None else h + (mu + eps)
    return torch.div(g, out, out=out)


# --------------------------------------------------------------------------- the optimizer


class SDAGD(torch.optim.Optimizer):
    """Stochastic diagonal approximate greatest descent: θ ← θ − lr · g / (‖g‖/R + h + ε).

    Args:
        params: parameters or param groups, as for any torch optimizer — or an
            ``nn.Module``, whose modules then define the layers of μ.
        lr: learning rate (default 1: the step is the damped Newton step itself).
        radius: R, the radius of the search sphere (default 0.3).
        eps: ε added to the denominator (default 1e-8).
        beta: running-average factor of h (default 0: the current batch's h).
        switch: ``auto`` (μ always on) or ``explicit`` (μ = 0 where ‖g/h‖ ≤ R).
        granularity: ``global`` | ``layer`` (default) | ``weight``: where μ's norm is taken.
        curvature: ``lecun`` (default) | ``ggn``: the backend used by :meth:`prepare`
            and :meth:`compute_curvature`.
        layers: optional explicit partition for ``layer`` granularity: an
            ``nn.Module`` or a list of parameter lists (or (name, list) pairs).

    Layers of μ, in order of precedence: ``layers`` (or a module passed as
    ``params``); the model handed to :meth:`prepare` by the training engine
    (one layer per module that owns parameters: a Linear's weight and bias
    together, a BatchNorm's γ and β together); otherwise each parameter tensor
    is a layer of its own.

    See the module docstring for the rule, the phases and the sources.
    """

    needs_intermediates = True  # the engine calls prepare(model, info, loss) before each step

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter] | Iterable[dict] | nn.Module,
        lr: float = DEFAULT_LR,
        radius: float = DEFAULTS["radius"],
        eps: float = DEFAULTS["eps"],
        beta: float = DEFAULTS["beta"],
        switch: str = DEFAULTS["switch"],
        granularity: str = DEFAULTS["granularity"],
        curvature: str = DEFAULTS["curvature"],
        layers: nn.Module | Sequence | None = None,
    ) -> None:
        if not lr > 0:
            raise ValueError(f"SDAGD: lr must be positive, got {lr!r}")
        check_options({"radius": radius, "eps": eps, "beta": beta, "switch": switch, "granularity": granularity, "curvature": curvature})
        if isinstance(params, nn.Module):
            layers = params if layers is None else layers
            params = [p for p in params.parameters() if p.requires_grad]
        super().__init__(params, {"lr": lr, "radius": radius, "eps": eps, "beta": beta})
        self.switch = switch
        self.granularity = granularity
        self.curvature = curvature
        self.stats: SDAGDStats | None = None
        self._count = 0
        self._layers: list[tuple[str, list[torch.nn.Parameter]]] | None = None
        self._layers_source = "tensors"
        self._layers_model: int | None = None
        self._plan_cache: _Plan | None = None
        if layers is not None:
            self.set_layers(layers)
            self._layers_source = "explicit"

    def add_param_group(self, param_group: dict) -> None:
        """As torch's; parameters added after the layers were set become layers of their own."""
        super().add_param_group(param_group)
        if getattr(self, "_layers", None) is not None:
            claimed = {id(p) for _, ps in self._layers for p in ps}
            gi = len(self.param_groups) - 1
            for pi, p in enumerate(self.param_groups[-1]["params"]):
                if id(p) not in claimed:
                    self._layers.append((f"group{gi}.param{pi}", [p]))
        self._plan_cache = None

    # -- layers -----------------------------------------------------------------------------

    def set_layers(self, layers: nn.Module | Sequence) -> None:
        """Define the layers of μ: an ``nn.Module`` (one layer per module owning parameters) or parameter lists."""
        if isinstance(layers, nn.Module):
            groups = [(_short(name), ps) for name, ps in curvature_mod.layer_groups(layers)]
        else:
            groups = []
            for i, item in enumerate(layers):
                if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                    groups.append((item[0], list(item[1])))
                else:
                    groups.append((f"layer{i}", list(item)))
        mine = {id(p) for g in self.param_groups for p in g["params"]}
        seen: set[int] = set()
        partition = []
        for name, ps in groups:
            ps = [p for p in ps if id(p) in mine and id(p) not in seen]
            seen.update(id(p) for p in ps)
            if ps:
                partition.append((name, ps))
        for gi, g in enumerate(self.param_groups):  # parameters no layer claims: one layer each
            for pi, p in enumerate(g["params"]):
                if id(p) not in seen:
                    partition.append((f"group{gi}.param{pi}", [p]))
                    seen.add(id(p))
        self._layers = partition
        self._plan_cache = None

    def _partition(self) -> list[tuple[str, list[torch.nn.Parameter]]]:
        if self._layers is None:
            self._layers = [
                (f"group{gi}.param{pi}", [p]) for gi, g in enumerate(self.param_groups) for pi, p in enumerate(g["params"])
            ]
        return self._layers

    # -- curvature --------------------------------------------------------------------------

    def prepare(self, model: nn.Module, info, loss) -> None:
        """Engine hook: compute h for this step from the forward intermediates in ``info``."""
        if self._layers_source != "explicit" and self._layers_model != id(model):
            self.set_layers(model)
            self._layers_source, self._layers_model = "model", id(model)
        self.set_curvature(curvature_mod.from_step(model, info, loss, self.curvature))

    def compute_curvature(self, model: nn.Module, x: torch.Tensor, loss="ce", output: str | None = None) -> None:
        """User-loop helper: h of ``model`` (a vanishing MLP or an nn.Sequential) on batch ``x``, then :meth:`set_curvature`."""
        self.set_curvature(curvature_mod.diagonal(model, x, loss, output, self.curvature))

    @torch.no_grad()
    def set_curvature(self, h: Mapping[torch.nn.Parameter, torch.Tensor]) -> None:
        """Give h ≥ 0 per parameter (same shape) for the next step(s); with ``beta`` it enters the running average.

        Parameters left out keep their previous h; a parameter that never got
        one has h = 0 (a pure normalised-gradient step).
        """
        betas = {id(p): g["beta"] for g in self.param_groups for p in g["params"]}
        for p, value in h.items():
            if id(p) not in betas:
                continue
            if value.shape != p.shape:
                raise ValueError(f"SDAGD.set_curvature: h of shape {tuple(value.shape)} for a parameter of shape {tuple(p.shape)}")
            state = self.state[p]
            beta = betas[id(p)]
            value = value.detach().to(dtype=p.dtype, device=p.device)
            if beta > 0 and "h" in state:
                state["h"] = state["h"] * beta + value * (1 - beta)  # out of place: old stats records keep theirs
            else:
                state["h"] = value

    # -- the step ---------------------------------------------------------------------------

    def _plan(self) -> _Plan:
        """The flat per-tensor view of the partition (cached until the layers change)."""
        if self._plan_cache is None:
            partition = self._partition()
            params, index = [], []
            for li, (_, ps) in enumerate(partition):
                for p in ps:
                    params.append(p)
                    index.append(li)
            self._plan_cache = _Plan(tuple(name for name, _ in partition), params, index, partition)
        return self._plan_cache

    @torch.no_grad()
    def step(self, closure=None):
        """θ ← θ − lr · g / (μ + h + ε) for every parameter with a gradient; fills :attr:`stats`."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        plan = self._plan()
        chosen = [(p, i) for p, i in zip(plan.params, plan.index) if p.grad is not None]
        if not chosen:
            return loss
        params = [p for p, _ in chosen]
        index_list = [i for _, i in chosen]
        if not any("h" in self.state[p] for p in params):
            raise RuntimeError(
                "SDAGD.step: no curvature given — the training engine calls prepare(); in a loop of your own call "
                "opt.compute_curvature(model, x, loss, output) or opt.set_curvature(h) before step()"
            )
        grads = [p.grad for p in params]
        hs = [self.state[p]["h"] if "h" in self.state[p] else torch.zeros_like(p) for p in params]
        group_of = {id(p): g for g in self.param_groups for p in g["params"]}  # not cached: load_state_dict replaces them
        groups = [group_of[id(p)] for p in params]
        device, dtype = grads[0].device, grads[0].dtype
        index = plan.index_tensor(index_list, device)
        n_layers = len(plan.names)
        # radius, lr and eps are read every step: a schedule may change them
        radius = torch.tensor([group_of[id(ps[0])]["radius"] for _, ps in plan.partition], dtype=dtype, device=device)
        eps = [g["eps"] for g in groups]

        mus, grad_sq = damping(grads, index, index_list, radius, n_layers, self.granularity)
        flags = None
        if self.switch == "explicit":
            mus, flags = explicit_switch(grads, hs, mus, index, index_list, radius, n_layers, self.granularity, eps)

        updates = []
        for p, g, h, mu, e, group in zip(params, grads, hs, mus, eps, groups):
            update = direction(g, h, mu, e, out=plan.buffer(p))
            p.add_(update, alpha=-group["lr"])
            updates.append(update)
        self._count += 1
        self.stats = self._record(plan, params, index, index_list, grad_sq, hs, mus, updates, groups, flags)
        return loss

    def _record(self, plan, params, index, index_list, grad_sq, hs, mus, updates, groups, flags) -> SDAGDStats:
        """The per-layer :class:`SDAGDStats` of this step (device tensors only, no synchronisation)."""
        n_layers = len(plan.names)
        dtype, device = grad_sq.dtype, grad_sq.device
        sizes = [float(p.numel()) for p in params]
        numel = plan.layer_sizes(index_list, sizes, dtype, device)
        step_sq = _per_layer([n.square() * (g["lr"] ** 2) for n, g in zip(torch._foreach_norm(updates), groups)], index, n_layers)
        if self.granularity == "weight":
            mu = _per_layer([m.sum() for m in mus], index, n_layers) / numel
        else:
            mu = _per_layer([m * n for m, n in zip(mus, sizes)], index, n_layers) / numel
        if flags is None:
            newton = torch.zeros(n_layers, dtype=dtype, device=device)
        elif self.granularity == "weight":
            newton = _per_layer([f.sum().to(dtype) for f in flags], index, n_layers) / numel
        else:
            newton = _per_layer([f.to(dtype) * n for f, n in zip(flags, sizes)], index, n_layers) / numel
        by_layer: list[list[int]] = [[] for _ in range(n_layers)]
        for k, li in enumerate(index_list):
            by_layer[li].append(k)
        present = [i for i, ks in enumerate(by_layer) if ks]
        grad_norm, step_norm = grad_sq.sqrt(), step_sq.sqrt()
        if len(present) < n_layers:
            keep = torch.tensor(present, device=device)
            mu, step_norm, grad_norm, newton, numel = (t[keep] for t in (mu, step_norm, grad_norm, newton, numel))
        return SDAGDStats(
            self._count,
            tuple(plan.names[i] for i in present),
            mu,
            step_norm,
            grad_norm,
            newton,
            numel,
            tuple(tuple(hs[k] for k in by_layer[i]) for i in present),
            tuple(tuple(mus[k] for k in by_layer[i]) for i in present),
        )


@dataclass
class _Plan:
    names: tuple[str, ...]
    params: list[torch.nn.Parameter]
    index: list[int]
    partition: list[tuple[str, list[torch.nn.Parameter]]]
    _tensors: dict = field(default_factory=dict)
    _buffers: dict = field(default_factory=dict)

    def index_tensor(self, index_list: list[int], device: torch.device) -> torch.Tensor:
        key = ("index", tuple(index_list), str(device))
        if key not in self._tensors:
            self._tensors[key] = torch.tensor(index_list, device=device)
        return self._tensors[key]

    def layer_sizes(self, index_list: list[int], sizes: list[float], dtype, device) -> torch.Tensor:
        """Number of entries per layer, [L] on the device."""
        key = ("sizes", tuple(index_list), str(dtype), str(device))
        if key not in self._tensors:
            total = [0.0] * len(self.names)
            for i, n in zip(index_list, sizes):
                total[i] += n
            self._tensors[key] = torch.tensor(total, dtype=dtype, device=device).clamp_min(1)
        return self._tensors[key]

    def buffer(self, p: torch.Tensor) -> torch.Tensor:
        """A scratch tensor like p for the update (reused every step: no allocation)."""
        buf = self._buffers.get(id(p))
        if buf is None or buf.shape != p.shape or buf.dtype != p.dtype or buf.device != p.device:
            buf = self._buffers[id(p)] = torch.empty_like(p, memory_format=torch.contiguous_format)
        return buf


def _short(name: str) -> str:
    """``hidden1.linear`` → ``hidden1``: a vanishing MLP layer is named by its layer."""
    return name.removesuffix(".linear")


def build(params: list, lr: float, options: dict) -> SDAGD:
    """Registry builder: ``sdagd(radius=0.3, curvature='lecun', granularity='layer', …)``."""
    return SDAGD(params, lr=lr, **options)
