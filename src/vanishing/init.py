"""Weight and bias initialisation schemes for the MLP's Linear layers.

Weight schemes (W has shape fan_out × fan_in, entries i.i.d. unless stated):

=====================  ===============================================  ===========================
scheme                 distribution                                     source
=====================  ===============================================  ===========================
``xavier_uniform``     U(±√3·s), s² = 2/(fan_in + fan_out)              Glorot & Bengio 2010
``xavier_normal``      N(0, s²),  s² = 2/(fan_in + fan_out)             Glorot & Bengio 2010
``he_uniform``         U(±√3·s), s² = 2/fan_in                          He et al. 2015
``he_normal``          N(0, s²),  s² = 2/fan_in                         He et al. 2015
``lecun_normal``       N(0, s²),  s² = 1/fan_in                         LeCun et al. 1998; SELU
``orthogonal(gain)``   gain × a random orthogonal matrix: W Wᵀ =        Saxe et al. 2014
                       gain²·I if fan_out ≤ fan_in, else Wᵀ W = gain²·I
``normal(std)``        N(0, std²), default std = 0.01                   (the "small random" init)
``torch_default``      U(±1/√fan_in), s² = 1/(3·fan_in): what           nn.Linear.reset_parameters
                       ``kaiming_uniform_(a=√5)`` draws
``auto``               chosen from the layer's activation, see below
=====================  ===============================================  ===========================

Orthogonal entries are not independent, so :func:`weight_std` returns None
for it; what holds instead is exact: ‖W‖_F² = gain²·min(fan_in, fan_out), so
the root-mean-square entry is gain/√max(fan_in, fan_out).

``auto`` (:func:`resolve_auto`): ``he_normal`` for relu, leaky_relu, prelu,
rrelu, relu6, elu, gelu, silu, mish, hardswish (and a relu output layer);
``lecun_normal`` for selu; ``xavier_normal`` for sigmoid, tanh, softplus,
hardtanh, linear and the softmax / sigmoid / linear output layers — Xavier for
sigmoid and He for ReLU is what Pretorius et al. (2019) use. All three are the
*normal* variants, for two reasons: (1) He et al. (2015) derive and use the
Gaussian N(0, 2/fan_in), Klambauer et al. (2017) prescribe N(0, 1/fan_in) for
SELU, so normal is the original form of two of the three; (2) with one
distribution family the three ``auto`` choices differ only in their variance
σ_w² = fan_in·s², the one number the mean-field theory in
:mod:`vanishing.theory` (which assumes Gaussian weights) takes as input. Glorot &
Bengio's own recipe is uniform; the variance — all that the signal-propagation
argument uses — is the same, and ``xavier_uniform`` is available by name.
He-normal for leaky_relu/prelu/rrelu keeps s² = 2/fan_in rather than He's
2/((1 + α²)·fan_in): the difference is below 3% for the default slopes.

Bias schemes: ``zeros`` (default), ``constant(value=0.0)``,
``normal(std=0.01)``, ``torch_default`` (U(±1/√fan_in), as nn.Linear).

Every draw takes an optional ``torch.Generator``; the numbers are sampled on
the generator's device and copied into the layer, so a given generator state
gives the same weights on any device, with no global random state involved.
The weight is drawn before the bias. Without a generator torch's global
generator is used, and ``torch_default`` then reproduces ``nn.Linear``'s own
draws for the same seed.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from . import activations
from .callspec import Spec, as_call, check_kwargs, spec_of
from .errors import ConfigError

WEIGHT_SCHEMES: tuple[str, ...] = (
    "xavier_uniform",
    "xavier_normal",
    "he_uniform",
    "he_normal",
    "lecun_normal",
    "orthogonal",
    "normal",
    "torch_default",
    "auto",
)
BIAS_SCHEMES: tuple[str, ...] = ("zeros", "constant", "normal", "torch_default")

_WEIGHT_DEFAULTS: dict[str, dict[str, Any]] = {name: {} for name in WEIGHT_SCHEMES}
_WEIGHT_DEFAULTS["orthogonal"] = {"gain": 1.0}
_WEIGHT_DEFAULTS["normal"] = {"std": 0.01}
_BIAS_DEFAULTS: dict[str, dict[str, Any]] = {name: {} for name in BIAS_SCHEMES}
_BIAS_DEFAULTS["constant"] = {"value": 0.0}
_BIAS_DEFAULTS["normal"] = {"std": 0.01}

AUTO_HE: frozenset[str] = frozenset(
    {"relu", "leaky_relu", "prelu", "rrelu", "relu6", "elu", "gelu", "silu", "mish", "hardswish"}
)
AUTO_LECUN: frozenset[str] = frozenset({"selu"})
OUTPUT_ONLY: tuple[str, ...] = ("softmax",)  # output activations that are not hidden-layer activations


# --------------------------------------------------------------------------- names


def _parse(spec: str, field_name: str, defaults: dict[str, dict[str, Any]], what: str) -> tuple[str, dict[str, Any]]:
    done = spec_of(spec, _KIND[what])
    if done is not None:  # resolved by config.resolve: already validated, no parsing
        return done.name, dict(done.kwargs)
    try:
        call = as_call(spec, field_name)
        if call.name not in defaults:
            raise ConfigError(f"{field_name}: unknown {what} {call.name!r} (valid: {', '.join(defaults)})")
        params = check_kwargs(call, defaults[call.name], field_name)
    except ConfigError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError, MemoryError) as exc:  # huge int, deep nesting
        raise ConfigError(f"{field_name}: cannot use {spec!r} ({type(exc).__name__}: {exc})") from None
    for key, value in params.items():
        if not math.isfinite(value):
            raise ConfigError(f"{field_name}: {call.name}({key}=...) must be a finite number, got {value!r}")
    if "std" in params and params["std"] < 0:
        raise ConfigError(f"{field_name}: {call.name}(std=...) must be >= 0, got {params['std']!r}")
    if "gain" in params and params["gain"] <= 0:
        raise ConfigError(f"{field_name}: {call.name}(gain=...) must be > 0, got {params['gain']!r}")
    return call.name, params


_KIND = {"weight init": "init", "bias init": "bias_init"}


def _parse_weight(spec: str, field_name: str = "model.init") -> tuple[str, dict[str, Any]]:
    return _parse(spec, field_name, _WEIGHT_DEFAULTS, "weight init")


def _parse_bias(spec: str, field_name: str = "model.bias_init") -> tuple[str, dict[str, Any]]:
    return _parse(spec, field_name, _BIAS_DEFAULTS, "bias init")


def canonical_weight_init(spec: str, field_name: str = "model.init") -> str:
    """Validate a weight scheme; canonical text with parameters filled, e.g. ``"orthogonal(gain=1.0)"``.

    ``auto`` stays ``auto`` (it is resolved per layer from the activation).
    """
    if spec_of(spec, "init") is not None:
        return spec
    return Spec(*_parse_weight(spec, field_name), "init")


def canonical_bias_init(spec: str, field_name: str = "model.bias_init") -> str:
    """Validate a bias scheme; canonical text, e.g. ``"zeros"``, ``"constant(value=0.1)"``."""
    if spec_of(spec, "bias_init") is not None:
        return spec
    return Spec(*_parse_bias(spec, field_name), "bias_init")


def resolve_auto(activation_name: str) -> str:
    """The canonical weight scheme ``auto`` picks for a layer followed by ``activation_name``.

    Accepts any activation spec (``"leaky_relu(alpha=0.1)"``, ``"swish"``) and the
    output activations ``softmax``, ``sigmoid``, ``linear``, ``relu``.
    """
    try:
        bare = as_call(activation_name, "model.activation").name
    except (ValueError, TypeError, OverflowError, RecursionError, MemoryError):  # ConfigError included
        bare = None
    if bare in OUTPUT_ONLY:
        return "xavier_normal"
    if bare not in activations.NAMES and bare not in activations.ALIASES:
        valid = ", ".join(activations.NAMES + OUTPUT_ONLY)
        raise ConfigError(f"model.activation: cannot pick an init for {activation_name!r} (valid: {valid})")
    name = activations.get(activation_name, field_name="model.activation").name  # checks the parameters
    if name in AUTO_HE:
        return "he_normal"
    if name in AUTO_LECUN:
        return "lecun_normal"
    return "xavier_normal"


# --------------------------------------------------------------------------- scales


def _check_fans(fan_in: int, fan_out: int) -> None:
    if not (fan_in >= 1 and fan_out >= 1):
        raise ValueError(f"fan_in and fan_out must be positive, got {fan_in} and {fan_out}")


def _std(name: str, params: dict[str, Any], fan_in: int, fan_out: int) -> float | None:
    if name.startswith("xavier_"):
        return math.sqrt(2.0 / (fan_in + fan_out))
    if name.startswith("he_"):
        return math.sqrt(2.0 / fan_in)
    if name == "lecun_normal":
        return math.sqrt(1.0 / fan_in)
    if name == "normal":
        return float(params["std"])
    if name == "torch_default":
        return math.sqrt(1.0 / (3.0 * fan_in))
    return None  # orthogonal


def weight_std(spec: str, fan_in: int, fan_out: int, activation_name: str) -> float | None:
    """Standard deviation of the i.i.d. weight entries the scheme draws.

    ``auto`` is resolved from ``activation_name``. ``torch_default`` gives
    1/√(3·fan_in). ``orthogonal`` returns None: its entries are not i.i.d.;
    the exact statement is W Wᵀ = gain²·I (or Wᵀ W), so their RMS is
    gain/√max(fan_in, fan_out).
    """
    _check_fans(fan_in, fan_out)
    name, params = _parse_weight(spec)
    if name == "auto":
        name, params = resolve_auto(activation_name), {}
    return _std(name, params, fan_in, fan_out)


# --------------------------------------------------------------------------- sampling


def _orthogonal(rows: int, cols: int, gain: float, dtype: torch.dtype, device, generator) -> torch.Tensor:
    """gain × Q with Q from the QR decomposition of a Gaussian matrix (Saxe et al. 2014; torch's recipe).

    The signs of R's diagonal are folded into Q so that Q is Haar-distributed.
    """
    work = dtype if dtype in (torch.float32, torch.float64) else torch.float32
    flat = torch.empty(rows, cols, dtype=work, device=device).normal_(0.0, 1.0, generator=generator)
    if rows < cols:
        flat = flat.T
    q, r = torch.linalg.qr(flat)
    q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)
    if rows < cols:
        q = q.T
    return (gain * q).to(dtype)


def _draw_weight(
    name: str, params: dict[str, Any], shape: torch.Size, dtype: torch.dtype, device, generator
) -> torch.Tensor:
    fan_out, fan_in = shape
    if name == "orthogonal":
        return _orthogonal(fan_out, fan_in, params["gain"], dtype, device, generator)
    std = _std(name, params, fan_in, fan_out)
    out = torch.empty(shape, dtype=dtype, device=device)
    if name.endswith("_uniform") or name == "torch_default":
        bound = 1.0 / math.sqrt(fan_in) if name == "torch_default" else math.sqrt(3.0) * std
        return out.uniform_(-bound, bound, generator=generator)
    return out.normal_(0.0, std, generator=generator)


def _draw_bias(name: str, params: dict[str, Any], n: int, fan_in: int, dtype, device, generator) -> torch.Tensor:
    out = torch.empty(n, dtype=dtype, device=device)
    if name == "zeros":
        return out.zero_()
    if name == "constant":
        return out.fill_(params["value"])
    if name == "normal":
        return out.normal_(0.0, params["std"], generator=generator)
    bound = 1.0 / math.sqrt(fan_in)  # torch_default
    return out.uniform_(-bound, bound, generator=generator)


def init_linear_(
    linear: nn.Linear,
    weight: str,
    bias: str,
    activation_name: str,
    generator: torch.Generator | None = None,
) -> None:
    """Initialise ``linear`` in place: weight by scheme ``weight``, bias by scheme ``bias``.

    ``activation_name`` is the activation that follows the layer (a hidden
    activation spec, or the output activation for the output layer); it only
    matters for ``auto``. With ``generator`` the draw is reproducible without
    touching torch's global generator (weight first, then bias).

    Example::

        g = torch.Generator().manual_seed(0)
        init_linear_(nn.Linear(784, 256), "auto", "zeros", "relu", generator=g)   # He normal
    """
    w_name, w_params = _parse_weight(weight)
    b_name, b_params = _parse_bias(bias)
    if w_name == "auto":
        w_name, w_params = resolve_auto(activation_name), {}
    W = linear.weight
    if W.dim() != 2:
        raise ValueError(f"init_linear_ expects a 2-d weight, got shape {tuple(W.shape)}")
    fan_out, fan_in = W.shape
    _check_fans(fan_in, fan_out)
    device = generator.device if generator is not None else W.device
    with torch.no_grad():
        W.copy_(_draw_weight(w_name, w_params, W.shape, W.dtype, device, generator))
        if linear.bias is not None:
            b = linear.bias
            b.copy_(_draw_bias(b_name, b_params, b.numel(), fan_in, b.dtype, device, generator))
