"""The activation registry: f, f′ and f″ side by side, with range and saturation.

Every entry is a small subclass of :class:`Activation` whose ``f``, ``df`` and
``d2f`` sit next to each other (micrograd style) and are checked against torch
autograd in ``tests/test_activations.py``. An entry also knows its output range
``[lo, hi]``, whether it *saturates* (f′ → 0 on an unbounded side — except the
off side of the rectifiers relu, leaky_relu, prelu and rrelu, which is a dead
region that the sparsity and dead-unit probes track, not saturation), whether it
has a *hard zero* region (output exactly 0 on a whole half-line, which is what
makes the Pretorius "sparsity" probe meaningful), ``max_abs_df`` = sup |f′|, and
its saturation test ``|f′(a)| < threshold · max_abs_df``.

Names use the call syntax of :mod:`vanishing.callspec`::

    >>> from vanishing import activations
    >>> activations.canonical("swish")
    'silu'
    >>> activations.canonical("leaky_relu")
    'leaky_relu(alpha=0.01)'
    >>> act = activations.get("elu(alpha=0.5)")
    >>> act.lo, act.saturates, act.hard_zero
    (-0.5, True, False)
    >>> layer = act.module(128)      # the nn.Module the MLP puts after a Linear

Conventions at kinks (where f′ jumps): ``df`` and ``d2f`` return what torch
autograd returns there, so a hand-written derivative and a backward pass never
disagree in a probe:

* rectifiers (relu, leaky_relu, prelu, rrelu, elu, selu): f′(0) is the value of
  the ``a ≤ 0`` branch — 0 for relu, the slope for leaky/prelu/rrelu, α for elu,
  λα for selu;
* clipping functions (relu6, hardtanh, hardswish): the interior formula holds on
  the *open* interval; at the breakpoints f′ takes the outer value (0 at both
  ends of relu6 and hardtanh; 0 at a = −3 and 1 at a = 3 for hardswish);
* f″ is 0 at every kink (the Dirac mass of the jump in f′ is dropped), and 0 on
  every linear piece.

The probes use ``hard_zero`` to decide whether "node inactive = output ≤ 0" is
defined: True for relu, relu6, hardswish (0 for a ≤ −3), and for leaky_relu /
rrelu only in the degenerate case of a zero slope; False for prelu (its slope
is learned), the smooth functions and hardtanh (whose flat region is at −1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .callspec import CallSpec, Spec, as_call, check_kwargs, format_call, spec_of
from .errors import ConfigError

NAMES: tuple[str, ...] = (
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "prelu",
    "rrelu",
    "elu",
    "selu",
    "gelu",
    "silu",
    "mish",
    "softplus",
    "relu6",
    "hardswish",
    "hardtanh",
    "linear",
)
ALIASES: dict[str, str] = {"swish": "silu"}

INF = math.inf
SELU_ALPHA = 1.6732632423543772848170429916717  # Klambauer et al. 2017, eq. (14)
SELU_SCALE = 1.0507009873554804934193349852946  # λ, same source
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

# Extrema of the smooth non-monotone entries, computed with mpmath (50 digits,
# bisection on the analytic f′ and f″); tests re-derive them on a fine grid.
_GELU_MIN = -0.16997120747990366  # at a = −0.75179…
_GELU_MAX_DF = 1.1289041451851548  # at a = √2
_SILU_MIN = -0.27846454276107380  # at a = −1.27846…
_SILU_MAX_DF = 1.0998393201288669  # at a = 2.39936…
_MISH_MIN = -0.30884341301725041  # at a = −1.19243…
_MISH_MAX_DF = 1.0884981612517279  # at a = 1.49057…


def _tensor(a: Any) -> torch.Tensor:
    """``a`` as a floating-point tensor (python numbers and int tensors → default dtype)."""
    a = torch.as_tensor(a)
    return a if a.is_floating_point() else a.to(torch.get_default_dtype())


def _softplus(a: torch.Tensor) -> torch.Tensor:
    """ln(1 + eᵃ) = max(a, 0) + ln(1 + e^{−|a|}), without overflow for large |a|."""
    return torch.clamp(a, min=0) + torch.log1p(torch.exp(-a.abs()))


def _sech2(a: torch.Tensor) -> torch.Tensor:
    """sech²(a) = 1/cosh²(a), accurate in the tails where 1 − tanh² cancels."""
    return torch.cosh(a).pow(-2)


def _slope_df(a: torch.Tensor, slope: float) -> torch.Tensor:
    """1 for a > 0, ``slope`` for a ≤ 0 (torch's value at 0)."""
    return torch.where(a > 0, torch.ones_like(a), torch.full_like(a, slope))


# --------------------------------------------------------------------------- base


@dataclass(frozen=True, eq=False, repr=False)
class Activation:
    """One activation function with its first two derivatives and its properties.

    Build instances with :func:`get`; each subclass implements ``f``, ``df``,
    ``d2f`` (elementwise, torch tensors in, same dtype out) and ``fast`` (the
    torch.nn.functional op that :class:`ActivationModule` runs).
    """

    name: str  # canonical name, e.g. "leaky_relu"
    params: Mapping[str, float | bool]  # all parameters, defaults filled
    spec: str  # canonical call text, e.g. "leaky_relu(alpha=0.01)"
    lo: float  # inf f (may be −inf)
    hi: float  # sup f (may be +inf)
    saturates: bool  # f′ → 0 on some unbounded side (a rectifier's off side does not count)
    hard_zero: bool  # f = 0 exactly on a whole half-line
    max_abs_df: float  # sup |f′| over the real line

    defaults: ClassVar[dict[str, float | bool]] = {}

    # -- the maths, one subclass per entry
    def f(self, a: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def df(self, a: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def d2f(self, a: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def fast(self, a: torch.Tensor) -> torch.Tensor:
        """f by the torch.nn.functional op (the hot path of the model)."""
        raise NotImplementedError

    # -- per-entry hooks used by get()
    @classmethod
    def _check(cls, params: dict[str, Any], field_name: str) -> None:
        """Reject parameter values outside the entry's domain (ConfigError)."""

    @classmethod
    def _properties(cls, params: dict[str, Any]) -> dict[str, Any]:
        """lo, hi, saturates, hard_zero, max_abs_df for these parameters."""
        raise NotImplementedError

    # -- shared behaviour
    def saturated(self, a: torch.Tensor, threshold: float = 0.05) -> torch.Tensor:
        """Elementwise ``|f′(a)| < threshold · max_abs_df``; all False if the entry never saturates."""
        a = _tensor(a)
        if not self.saturates:
            return torch.zeros_like(a, dtype=torch.bool)
        return self.df(a).abs() < threshold * self.max_abs_df

    def module(self, width: int) -> ActivationModule:
        """The nn.Module applying this activation to a layer of ``width`` units."""
        return ActivationModule(self, width)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Activation) and other.spec == self.spec

    def __hash__(self) -> int:
        return hash(self.spec)

    def __repr__(self) -> str:
        return (
            f"Activation({self.spec!r}, range=[{self.lo:g}, {self.hi:g}], saturates={self.saturates}, "
            f"hard_zero={self.hard_zero}, max_abs_df={self.max_abs_df:g})"
        )


_REGISTRY: dict[str, type[Activation]] = {}


def _register(name: str):
    def add(cls: type[Activation]) -> type[Activation]:
        if name in _REGISTRY:
            raise RuntimeError(f"activation {name!r} registered twice")
        _REGISTRY[name] = cls
        return cls

    return add


def _props(lo: float, hi: float, saturates: bool, hard_zero: bool, max_abs_df: float) -> dict[str, Any]:
    return dict(lo=float(lo), hi=float(hi), saturates=saturates, hard_zero=hard_zero, max_abs_df=float(max_abs_df))


def _require(ok: bool, field_name: str, name: str, key: str, rule: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{field_name}: {name}({key}=...) must be {rule}, got {value!r}")


# --------------------------------------------------------------------------- sigmoidal


@_register("sigmoid")
class Sigmoid(Activation):
    """Logistic sigmoid σ(a) = 1 / (1 + e^{−a}).

    f′ = σ(a)σ(−a) = σ(1 − σ) ≤ ¼;  f″ = σ(a)σ(−a)(σ(−a) − σ(a)) = σ(1 − σ)(1 − 2σ).
    Range (0, 1); saturates on both sides.
    """

    def f(self, a):
        return torch.sigmoid(_tensor(a))

    def df(self, a):
        a = _tensor(a)
        return torch.sigmoid(a) * torch.sigmoid(-a)

    def d2f(self, a):
        a = _tensor(a)
        s, r = torch.sigmoid(a), torch.sigmoid(-a)
        return s * r * (r - s)

    def fast(self, a):
        return torch.sigmoid(a)

    @classmethod
    def _properties(cls, p):
        return _props(0.0, 1.0, True, False, 0.25)


@_register("tanh")
class Tanh(Activation):
    """Hyperbolic tangent.

    f′ = sech²(a) = 1 − tanh²(a) ≤ 1;  f″ = −2 tanh(a) sech²(a).
    Range (−1, 1); saturates on both sides.
    """

    def f(self, a):
        return torch.tanh(_tensor(a))

    def df(self, a):
        return _sech2(_tensor(a))

    def d2f(self, a):
        a = _tensor(a)
        return -2.0 * torch.tanh(a) * _sech2(a)

    def fast(self, a):
        return torch.tanh(a)

    @classmethod
    def _properties(cls, p):
        return _props(-1.0, 1.0, True, False, 1.0)


# --------------------------------------------------------------------------- rectifiers


@_register("relu")
class ReLU(Activation):
    """Rectified linear unit f = max(a, 0) (Nair & Hinton 2010; Glorot et al. 2011).

    f′ = 1 for a > 0, 0 for a ≤ 0 (f′(0) = 0, as torch);  f″ = 0.
    Range [0, ∞); hard zero on a ≤ 0; does not saturate (f′ = 1 on a > 0).
    """

    def f(self, a):
        return torch.clamp(_tensor(a), min=0)

    def df(self, a):
        a = _tensor(a)
        return (a > 0).to(a.dtype)

    def d2f(self, a):
        return torch.zeros_like(_tensor(a))

    def fast(self, a):
        return F.relu(a)

    @classmethod
    def _properties(cls, p):
        return _props(0.0, INF, False, True, 1.0)


class _Sloped(Activation):
    """Shared maths of the leaky rectifiers: f = a for a > 0, s·a for a ≤ 0.

    f′ = 1 for a > 0, s for a ≤ 0 (torch's value at 0);  f″ = 0.
    """

    @property
    def slope(self) -> float:
        raise NotImplementedError

    def f(self, a):
        a = _tensor(a)
        return torch.where(a > 0, a, self.slope * a)

    def df(self, a):
        return _slope_df(_tensor(a), self.slope)

    def d2f(self, a):
        return torch.zeros_like(_tensor(a))

    @staticmethod
    def _sloped_properties(slope: float) -> dict[str, Any]:
        return _props(0.0 if slope == 0 else -INF, INF, False, slope == 0, max(1.0, slope))


@_register("leaky_relu")
class LeakyReLU(_Sloped):
    """Leaky ReLU f = a for a > 0, α·a for a ≤ 0 (Maas et al. 2013).

    f′ = 1 / α;  f″ = 0.  α ≥ 0 (default 0.01). Range (−∞, ∞) for α > 0;
    hard zero only for α = 0 (then it is relu).
    """

    defaults = {"alpha": 0.01}

    @property
    def slope(self) -> float:
        return self.params["alpha"]

    def fast(self, a):
        return F.leaky_relu(a, self.params["alpha"])

    @classmethod
    def _check(cls, p, field_name):
        a = p["alpha"]
        _require(math.isfinite(a) and a >= 0, field_name, "leaky_relu", "alpha", "a finite number >= 0", a)

    @classmethod
    def _properties(cls, p):
        return cls._sloped_properties(p["alpha"])


@_register("prelu")
class PReLU(_Sloped):
    """Parametric ReLU with a learnable negative slope w (He et al. 2015, "Delving deep into rectifiers").

    f = a for a > 0, w·a for a ≤ 0;  f′ = 1 / w;  f″ = 0.  ``init`` is the
    starting slope (0.25 in the paper); ``per_unit`` learns one slope per unit
    instead of one shared by the layer. ``f``/``df`` here use the initial slope;
    :meth:`ActivationModule.derivative` uses the learned one. Range (−∞, ∞):
    the slope is learned, so no hard zero is assumed.
    """

    defaults = {"init": 0.25, "per_unit": False}

    @property
    def slope(self) -> float:
        return self.params["init"]

    def fast(self, a):  # the module uses its own learned weight
        return F.prelu(a, torch.tensor([self.slope], dtype=a.dtype, device=a.device))

    def module(self, width: int) -> ActivationModule:
        return PReLUModule(self, width)

    @classmethod
    def _check(cls, p, field_name):
        _require(math.isfinite(p["init"]), field_name, "prelu", "init", "a finite number", p["init"])

    @classmethod
    def _properties(cls, p):
        return _props(-INF, INF, False, False, max(1.0, abs(p["init"])))


@_register("rrelu")
class RReLU(_Sloped):
    """Randomized leaky ReLU (Xu et al. 2015, "Empirical evaluation of rectified activations").

    Training: f = a for a ≥ 0, s·a for a < 0 with s ~ U(lower, upper) drawn per
    element and step. Evaluation (and ``f``/``df`` here): the mean slope
    s̄ = (lower + upper)/2, i.e. leaky ReLU with α = s̄;  f′ = 1 / s̄;  f″ = 0.
    Defaults lower = 1/8, upper = 1/3 (the paper's a ~ U(3, 8), s = 1/a bounds).
    """

    defaults = {"lower": 1 / 8, "upper": 1 / 3}

    @property
    def slope(self) -> float:
        return 0.5 * (self.params["lower"] + self.params["upper"])

    def fast(self, a):
        return F.rrelu(a, self.params["lower"], self.params["upper"], training=False)

    def module(self, width: int) -> ActivationModule:
        return RReLUModule(self, width)

    @classmethod
    def _check(cls, p, field_name):
        lo, up = p["lower"], p["upper"]
        _require(math.isfinite(lo) and lo >= 0, field_name, "rrelu", "lower", "a finite number >= 0", lo)
        _require(math.isfinite(up) and up >= lo, field_name, "rrelu", "upper", f"a finite number >= lower={lo!r}", up)

    @classmethod
    def _properties(cls, p):
        return cls._sloped_properties(0.5 * (p["lower"] + p["upper"]))


@_register("elu")
class ELU(Activation):
    """Exponential linear unit (Clevert, Unterthiner & Hochreiter 2015).

    f = a for a > 0, α(eᵃ − 1) for a ≤ 0;  f′ = 1 / αeᵃ (f′(0) = α, as torch);
    f″ = 0 / αeᵃ for a < 0 (f″(0) = 0). α > 0 (default 1). Range (−α, ∞);
    saturates for a → −∞; no hard zero (it tends to −α).
    """

    defaults = {"alpha": 1.0}

    def f(self, a):
        a = _tensor(a)
        return torch.where(a > 0, a, self.params["alpha"] * torch.expm1(torch.clamp(a, max=0)))

    def df(self, a):
        a = _tensor(a)
        return torch.where(a > 0, torch.ones_like(a), self.params["alpha"] * torch.exp(torch.clamp(a, max=0)))

    def d2f(self, a):
        a = _tensor(a)
        return torch.where(a < 0, self.params["alpha"] * torch.exp(torch.clamp(a, max=0)), torch.zeros_like(a))

    def fast(self, a):
        return F.elu(a, self.params["alpha"])

    @classmethod
    def _check(cls, p, field_name):
        a = p["alpha"]
        _require(math.isfinite(a) and a > 0, field_name, "elu", "alpha", "a finite number > 0", a)

    @classmethod
    def _properties(cls, p):
        return _props(-p["alpha"], INF, True, False, max(1.0, p["alpha"]))


@_register("selu")
class SELU(Activation):
    """Scaled ELU (Klambauer et al. 2017, "Self-normalizing neural networks").

    f = λa for a > 0, λα(eᵃ − 1) for a ≤ 0 with α = 1.6732632423543772848…,
    λ = 1.0507009873554804934…;  f′ = λ / λαeᵃ (f′(0) = λα ≈ 1.7581);
    f″ = 0 / λαeᵃ for a < 0 (f″(0) = 0). Range (−λα, ∞); saturates for a → −∞.
    Pair with LeCun-normal init (``auto`` does).
    """

    def f(self, a):
        a = _tensor(a)
        return SELU_SCALE * torch.where(a > 0, a, SELU_ALPHA * torch.expm1(torch.clamp(a, max=0)))

    def df(self, a):
        a = _tensor(a)
        return SELU_SCALE * torch.where(a > 0, torch.ones_like(a), SELU_ALPHA * torch.exp(torch.clamp(a, max=0)))

    def d2f(self, a):
        a = _tensor(a)
        return torch.where(a < 0, SELU_SCALE * SELU_ALPHA * torch.exp(torch.clamp(a, max=0)), torch.zeros_like(a))

    def fast(self, a):
        return F.selu(a)

    @classmethod
    def _properties(cls, p):
        return _props(-SELU_SCALE * SELU_ALPHA, INF, True, False, SELU_SCALE * SELU_ALPHA)


# --------------------------------------------------------------------------- smooth rectifiers


@_register("gelu")
class GELU(Activation):
    """Gaussian error linear unit, exact erf form (Hendrycks & Gimpel 2016).

    f = a·Φ(a), Φ(a) = ½ erfc(−a/√2);  f′ = Φ(a) + a·φ(a), φ the standard normal
    density;  f″ = φ(a)(2 − a²). Range [−0.16997…, ∞) (minimum at a ≈ −0.7518);
    max f′ = 1.12890… at a = √2; saturates for a → −∞.
    """

    def f(self, a):
        a = _tensor(a)
        return a * 0.5 * torch.erfc(-a * _SQRT_HALF)

    def df(self, a):
        a = _tensor(a)
        return 0.5 * torch.erfc(-a * _SQRT_HALF) + a * _INV_SQRT_2PI * torch.exp(-0.5 * a * a)

    def d2f(self, a):
        a = _tensor(a)
        return _INV_SQRT_2PI * torch.exp(-0.5 * a * a) * (2.0 - a * a)

    def fast(self, a):
        return F.gelu(a)

    @classmethod
    def _properties(cls, p):
        return _props(_GELU_MIN, INF, True, False, _GELU_MAX_DF)


@_register("silu")
class SiLU(Activation):
    """Sigmoid-weighted linear unit / Swish with β = 1 (Ramachandran, Zoph & Le 2017; Elfwing et al. 2017).

    f = a·σ(a);  f′ = σ(a)(1 + a·σ(−a));  f″ = σ(a)σ(−a)(2 + a(σ(−a) − σ(a))).
    Range [−0.27846…, ∞) (minimum at a ≈ −1.2785); max f′ = 1.09984… at
    a ≈ 2.3994; saturates for a → −∞. Alias: ``swish``.
    """

    def f(self, a):
        a = _tensor(a)
        return a * torch.sigmoid(a)

    def df(self, a):
        a = _tensor(a)
        return torch.sigmoid(a) * (1.0 + a * torch.sigmoid(-a))

    def d2f(self, a):
        a = _tensor(a)
        s, r = torch.sigmoid(a), torch.sigmoid(-a)
        return s * r * (2.0 + a * (r - s))

    def fast(self, a):
        return F.silu(a)

    @classmethod
    def _properties(cls, p):
        return _props(_SILU_MIN, INF, True, False, _SILU_MAX_DF)


@_register("mish")
class Mish(Activation):
    """Mish (Misra 2019): f = a·tanh(softplus(a)).

    With t = tanh(sp(a)), S = sech²(sp(a)), s = σ(a):  f′ = t + a·S·s;
    f″ = S·s·(2 + a(σ(−a) − 2ts)). Range [−0.30884…, ∞) (minimum at
    a ≈ −1.1924); max f′ = 1.08850… at a ≈ 1.4906; saturates for a → −∞.
    """

    def f(self, a):
        a = _tensor(a)
        return a * torch.tanh(_softplus(a))

    def df(self, a):
        a = _tensor(a)
        sp = _softplus(a)
        return torch.tanh(sp) + a * _sech2(sp) * torch.sigmoid(a)

    def d2f(self, a):
        a = _tensor(a)
        sp = _softplus(a)
        t, big_s, s = torch.tanh(sp), _sech2(sp), torch.sigmoid(a)
        return big_s * s * (2.0 + a * (torch.sigmoid(-a) - 2.0 * t * s))

    def fast(self, a):
        return F.mish(a)

    @classmethod
    def _properties(cls, p):
        return _props(_MISH_MIN, INF, True, False, _MISH_MAX_DF)


@_register("softplus")
class Softplus(Activation):
    """Softplus f = ln(1 + eᵃ) (β = 1; Dugas et al. 2001).

    f′ = σ(a);  f″ = σ(a)σ(−a). Range (0, ∞); saturates for a → −∞; no hard zero.
    """

    def f(self, a):
        return _softplus(_tensor(a))

    def df(self, a):
        return torch.sigmoid(_tensor(a))

    def d2f(self, a):
        a = _tensor(a)
        return torch.sigmoid(a) * torch.sigmoid(-a)

    def fast(self, a):
        return F.softplus(a)

    @classmethod
    def _properties(cls, p):
        return _props(0.0, INF, True, False, 1.0)


# --------------------------------------------------------------------------- piecewise linear, clipped


@_register("relu6")
class ReLU6(Activation):
    """ReLU clipped at 6, f = min(max(a, 0), 6) (Krizhevsky 2010; MobileNets).

    f′ = 1 on 0 < a < 6, else 0 (0 at both breakpoints, as torch);  f″ = 0.
    Range [0, 6]; hard zero on a ≤ 0; saturates for a ≥ 6.
    """

    def f(self, a):
        return torch.clamp(_tensor(a), 0.0, 6.0)

    def df(self, a):
        a = _tensor(a)
        return ((a > 0) & (a < 6)).to(a.dtype)

    def d2f(self, a):
        return torch.zeros_like(_tensor(a))

    def fast(self, a):
        return F.relu6(a)

    @classmethod
    def _properties(cls, p):
        return _props(0.0, 6.0, True, True, 1.0)


@_register("hardswish")
class Hardswish(Activation):
    """Hard swish f = a·relu6(a + 3)/6 (Howard et al. 2019, "Searching for MobileNetV3").

    f = 0 for a ≤ −3, a(a + 3)/6 on −3 < a < 3, a for a ≥ 3;
    f′ = 0 / (2a + 3)/6 / 1 (outer values at a = ±3, as torch: f′(−3) = 0, f′(3) = 1);
    f″ = 1/3 on −3 < a < 3, else 0. Range [−0.375, ∞); sup |f′| = 1.5 (as
    a → 3⁻); hard zero on a ≤ −3; saturates for a → −∞. Note f′ also
    crosses 0 at a = −1.5, so ``saturated()`` flags a small interior band there.
    """

    def f(self, a):
        a = _tensor(a)
        return a * torch.clamp(a + 3.0, 0.0, 6.0) / 6.0

    def df(self, a):
        a = _tensor(a)
        inner = (2.0 * a + 3.0) / 6.0
        return torch.where(a <= -3, torch.zeros_like(a), torch.where(a >= 3, torch.ones_like(a), inner))

    def d2f(self, a):
        a = _tensor(a)
        return ((a > -3) & (a < 3)).to(a.dtype) / 3.0

    def fast(self, a):
        return F.hardswish(a)

    @classmethod
    def _properties(cls, p):
        return _props(-0.375, INF, True, True, 1.5)


@_register("hardtanh")
class Hardtanh(Activation):
    """Hard tanh f = clamp(a, −1, 1) (Collobert 2004).

    f′ = 1 on −1 < a < 1, else 0 (0 at ±1, as torch);  f″ = 0. Range [−1, 1];
    saturates on both sides; no hard zero (its flat regions are at ±1).
    """

    def f(self, a):
        return torch.clamp(_tensor(a), -1.0, 1.0)

    def df(self, a):
        a = _tensor(a)
        return ((a > -1) & (a < 1)).to(a.dtype)

    def d2f(self, a):
        return torch.zeros_like(_tensor(a))

    def fast(self, a):
        return F.hardtanh(a)

    @classmethod
    def _properties(cls, p):
        return _props(-1.0, 1.0, True, False, 1.0)


@_register("linear")
class Identity(Activation):
    """Identity f = a (a linear network: the baseline with no non-linearity).

    f′ = 1;  f″ = 0. Range (−∞, ∞); never saturates.
    """

    def f(self, a):
        return _tensor(a).clone()

    def df(self, a):
        return torch.ones_like(_tensor(a))

    def d2f(self, a):
        return torch.zeros_like(_tensor(a))

    def fast(self, a):
        return a

    @classmethod
    def _properties(cls, p):
        return _props(-INF, INF, False, False, 1.0)


if tuple(_REGISTRY) != NAMES:  # pragma: no cover - a development-time guard
    raise RuntimeError(f"activation registry {tuple(_REGISTRY)} does not match NAMES")


# --------------------------------------------------------------------------- lookup


def _parse(spec: str, field_name: str) -> tuple[type[Activation], str, dict[str, Any]]:
    """Parse and validate ``spec``; return (class, canonical name, filled params).

    A resolved :class:`~vanishing.callspec.Spec` is taken as is (no parsing).
    """
    done = spec_of(spec, "activation")
    if done is not None:
        return _REGISTRY[done.name], done.name, dict(done.kwargs)
    try:
        call = as_call(spec, field_name)
        name = ALIASES.get(call.name, call.name)
        cls = _REGISTRY.get(name)
        if cls is None:
            aliases = ", ".join(f"{k} = {v}" for k, v in ALIASES.items())
            raise ConfigError(
                f"{field_name}: unknown activation {call.name!r} (valid: {', '.join(NAMES)}; alias: {aliases})"
            )
        params = check_kwargs(CallSpec(name, call.kwargs), cls.defaults, field_name)
    except ConfigError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError, MemoryError) as exc:  # huge int, deep nesting
        raise ConfigError(f"{field_name}: cannot use {spec!r} ({type(exc).__name__}: {exc})") from None
    cls._check(params, field_name)
    return cls, name, params


def canonical(spec: str | Activation, field_name: str = "activation") -> str:
    """Validate ``spec`` and return its canonical text with every parameter filled.

    ``"relu"`` → ``"relu"``; ``"leaky_relu"`` → ``"leaky_relu(alpha=0.01)"``;
    ``"swish"`` → ``"silu"``. Raises :class:`ConfigError` naming ``field_name``
    for an unknown name (listing every valid one), an unknown or ill-typed
    parameter, or a value outside the entry's domain.
    """
    if isinstance(spec, Activation):
        return spec.spec
    if spec_of(spec, "activation") is not None:
        return spec
    _, name, params = _parse(spec, field_name)
    return Spec(name, params, "activation")


def get(spec: str | Activation, field_name: str = "activation") -> Activation:
    """The :class:`Activation` named by ``spec`` (any form :func:`canonical` accepts)."""
    if isinstance(spec, Activation):
        return spec
    cls, name, params = _parse(spec, field_name)
    return cls(name=name, params=params, spec=format_call(name, params), **cls._properties(params))


# --------------------------------------------------------------------------- modules


class ActivationModule(nn.Module):
    """The per-layer nn.Module the MLP uses: fast torch op forward, exact f′ on demand.

    ``derivative(a)`` is f′ at pre-activation ``a`` with the module's *current*
    parameters (PReLU's learned slope, RReLU's mean slope).
    """

    def __init__(self, activation: Activation, width: int):
        super().__init__()
        self.activation = activation
        self.width = int(width)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return self.activation.fast(a)

    def derivative(self, a: torch.Tensor) -> torch.Tensor:
        return self.activation.df(a)

    def extra_repr(self) -> str:
        return self.activation.spec


class PReLUModule(ActivationModule):
    """PReLU with a learnable slope ``weight``: shape (1,) shared, or (width,) with ``per_unit``."""

    def __init__(self, activation: Activation, width: int):
        super().__init__(activation, width)
        n = self.width if activation.params["per_unit"] else 1
        self.weight = nn.Parameter(torch.full((n,), float(activation.params["init"])))

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return F.prelu(a, self.weight)

    def _slope(self, a: torch.Tensor) -> torch.Tensor:
        """The weight shaped to broadcast over ``a``'s unit axis (dim 1, as F.prelu; dim 0 for 1-d input)."""
        w = self.weight.to(a.dtype)
        if a.dim() >= 2 and w.numel() > 1:
            w = w.view(-1, *([1] * (a.dim() - 2)))
        return w

    def derivative(self, a: torch.Tensor) -> torch.Tensor:
        a = _tensor(a)
        return torch.where(a > 0, torch.ones_like(a), self._slope(a).expand_as(a))

    def extra_repr(self) -> str:
        return f"{self.activation.spec}, num_parameters={self.weight.numel()}"


class RReLUModule(ActivationModule):
    """RReLU: random slopes U(lower, upper) in training mode, the mean slope in eval mode.

    ``forward`` draws from torch's global generator (``F.rrelu`` takes none), so
    seed it for reproducible training. ``derivative`` always uses the mean
    slope: the slopes drawn in a training step are not kept.
    """

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        p = self.activation.params
        return F.rrelu(a, p["lower"], p["upper"], training=self.training)
