"""Which modules of an arbitrary ``nn.Module`` are "layers", and how to see inside them.

A registry keyed by module type (cockpit / BackPACK style) says what each
kind of module is to the watcher:

``weight``
    a layer with a weight matrix or kernel whose output is a pre-activation
    a: ``nn.Linear`` (a node is a unit, the **last** axis of the output),
    ``nn.Conv1d/2d/3d`` and ``nn.ConvTranspose1d/2d/3d`` (a node is a
    **channel**, axis 1; every spatial position is one more sample of it).
    Its weight and bias gradients are recorded every step; δ = ∂E_n/∂a_n is
    taken at its output on the probe batch.
``activation``
    an elementwise non-linearity. Mapped to the entry of
    :mod:`vanishing.activations` (f, f′, range, saturation test) where one
    matches — ``nn.Sigmoid`` → ``sigmoid``, ``nn.LeakyReLU(0.2)`` →
    ``leaky_relu(alpha=0.2)``, the package's own ``ActivationModule`` → its
    entry — else known to be an activation with an unknown f (statistics of
    its output are kept; saturation is undefined).
``neutral``
    modules that are neither (normalisation, dropout, pooling, reshaping…);
    their parameters (batch-norm γ, β) are not watched.

Pairing: a weight layer's activation is the first activation module that
runs after it and before the next weight layer (so conv → batch norm → relu
pairs the conv with the relu, whose input is then the batch-norm output).

Unknown modules that own parameters (an ``nn.LSTM``, ``nn.Embedding``, a
custom layer with an ``nn.Parameter``) follow the ``unknown`` policy:
``"error"`` raises :class:`UnknownLayerError`, ``"warn"`` (default) warns
once and leaves them out, ``"skip"`` leaves them out silently. Register a
type to watch it (:func:`register_layer`; registering a type twice is an
error). Parameterless modules of unknown type (a custom reshaping module, a
custom activation) are passed through and listed in ``Layout.ignored``; a
functional activation (``torch.relu(...)`` inside ``forward``) is invisible to
module hooks, so give it with ``watch(..., activations={"fc1": "relu"})``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from .. import activations as act_registry
from .recurrent import Track, cell_gate, fused_through_time, gate_counts, lstm_cell_step, unroll, with_state

POLICIES = ("error", "warn", "skip")


class UnknownLayerError(TypeError):
    """A module with parameters whose type the layer registry does not know (policy ``"error"``)."""


@dataclass(frozen=True)
class LayerRule:
    """What a module type is to the watcher.

    ``kind``: ``"weight"``, ``"activation"`` or ``"neutral"``. ``node_dim``
    (weight layers): the axis of the output that indexes nodes (−1 for
    Linear's features, 1 for a convolution's channels). ``activation``
    (activation modules): module → registry :class:`~vanishing.activations.Activation`
    or None when f is unknown. ``params`` (weight layers): module →
    (weight, bias or None), the tensors whose gradients are recorded.
    """

    kind: str
    node_dim: int = 1
    activation: Callable[[nn.Module], Any] | None = None
    params: Callable[[nn.Module], tuple[torch.Tensor, torch.Tensor | None]] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("weight", "activation", "neutral"):
            raise ValueError(f"LayerRule.kind must be weight, activation or neutral, got {self.kind!r}")


LAYER_TYPES: dict[type, LayerRule] = {}


def register_layer(module_type: type, rule: LayerRule) -> None:
    """Tell the watcher what ``module_type`` (and its subclasses) is; registering a type twice is an error."""
    if module_type in LAYER_TYPES:
        raise ValueError(f"layer type {module_type.__name__} is already registered as {LAYER_TYPES[module_type].kind!r}")
    LAYER_TYPES[module_type] = rule


def rule_for(module: nn.Module) -> LayerRule | None:
    """The rule of the module's type or of its nearest registered base class; None when unknown."""
    for cls in type(module).__mro__:
        rule = LAYER_TYPES.get(cls)
        if rule is not None:
            return rule
    return None


def weight_and_bias(module: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    return module.weight, getattr(module, "bias", None)


def _recurrent_params(module: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    return module.weight_hh, getattr(module, "bias_hh", None)


def _fixed(spec: str) -> Callable[[nn.Module], Any]:
    entry = act_registry.get(spec)
    return lambda module: entry


def _unknown_f(module: nn.Module) -> None:
    return None


def _leaky(m: nn.LeakyReLU):
    return act_registry.get(f"leaky_relu(alpha={float(m.negative_slope)!r})") if m.negative_slope >= 0 else None


def _elu(m: nn.ELU):
    return act_registry.get(f"elu(alpha={float(m.alpha)!r})") if m.alpha > 0 else None


def _rrelu(m: nn.RReLU):
    try:
        return act_registry.get(f"rrelu(lower={float(m.lower)!r}, upper={float(m.upper)!r})")
    except ValueError:
        return None


def _prelu(m: nn.PReLU):
    # the registry entry's flags (no saturation, no hard zero) hold for any learned slope
    return act_registry.get("prelu")


def _gelu(m: nn.GELU):
    return act_registry.get("gelu") if getattr(m, "approximate", "none") == "none" else None


def _softplus(m: nn.Softplus):
    return act_registry.get("softplus") if m.beta == 1 and m.threshold >= 20 else None


def _hardtanh(m: nn.Hardtanh):
    return act_registry.get("hardtanh") if (m.min_val, m.max_val) == (-1.0, 1.0) else None


def _relu6_or_hardtanh(m: nn.Hardtanh):
    return act_registry.get("relu6") if (m.min_val, m.max_val) == (0.0, 6.0) else _hardtanh(m)


def _package_activation(m):
    return m.activation


def _register_defaults() -> None:
    for t in (nn.Linear,):
        register_layer(t, LayerRule("weight", node_dim=-1, params=weight_and_bias))
    for t in (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d):
        register_layer(t, LayerRule("weight", node_dim=1, params=weight_and_bias))
    # recurrent cells stepped in a Python loop: each call's output h_t is a "pre-activation" whose δ is the
    # through-time signal ∂L/∂h_t (its gradient through every later step and the loss); ∇ of the recurrent matrix
    for t in (nn.RNNCell, nn.GRUCell, nn.LSTMCell):
        register_layer(t, LayerRule("weight", node_dim=-1, params=_recurrent_params))
    simple = {nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.ReLU: "relu", nn.SELU: "selu", nn.SiLU: "silu", nn.Mish: "mish",
              nn.Hardswish: "hardswish"}
    for t, spec in simple.items():
        register_layer(t, LayerRule("activation", activation=_fixed(spec)))
    register_layer(nn.LeakyReLU, LayerRule("activation", activation=_leaky))
    register_layer(nn.ELU, LayerRule("activation", activation=_elu))
    register_layer(nn.RReLU, LayerRule("activation", activation=_rrelu))
    register_layer(nn.PReLU, LayerRule("activation", activation=_prelu))
    register_layer(nn.GELU, LayerRule("activation", activation=_gelu))
    register_layer(nn.Softplus, LayerRule("activation", activation=_softplus))
    register_layer(nn.Hardtanh, LayerRule("activation", activation=_relu6_or_hardtanh))  # nn.ReLU6 subclasses it
    register_layer(act_registry.ActivationModule, LayerRule("activation", activation=_package_activation))
    for t in (nn.CELU, nn.Hardsigmoid, nn.LogSigmoid, nn.Softsign, nn.Tanhshrink, nn.Softshrink, nn.Hardshrink,
              nn.Threshold, nn.GLU, nn.Softmax, nn.LogSoftmax, nn.Softmin):
        register_layer(t, LayerRule("activation", activation=_unknown_f))
    neutral = (
        nn.Identity, nn.Flatten, nn.Unflatten, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
        nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm,
        nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd, nn.modules.pooling._AdaptiveAvgPoolNd,
        nn.modules.pooling._AdaptiveMaxPoolNd, nn.modules.pooling._LPPoolNd, nn.Upsample, nn.PixelShuffle,
        nn.PixelUnshuffle, nn.modules.padding._ConstantPadNd, nn.modules.padding._ReflectionPadNd,
        nn.modules.padding._ReplicationPadNd, nn.ZeroPad2d, nn.ChannelShuffle,
    )
    for t in neutral:
        if t not in LAYER_TYPES:
            register_layer(t, LayerRule("neutral"))
    if hasattr(nn, "RMSNorm"):
        register_layer(nn.RMSNorm, LayerRule("neutral"))


_register_defaults()


# --------------------------------------------------------------------------- discovery


@dataclass
class Layout:
    """The watched modules of a model, by module name (``model.named_modules()`` names).

    ``weight``: name → module of every weight layer (registration order);
    ``activation``: name → (module, Activation or None); ``unknown``: names
    and types left out by the policy; ``ignored``: parameterless modules of
    unknown type that were passed through.
    """

    weight: dict[str, nn.Module] = field(default_factory=dict)
    node_dim: dict[str, int] = field(default_factory=dict)
    params: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = field(default_factory=dict)
    activation: dict[str, tuple[nn.Module, Any]] = field(default_factory=dict)
    unknown: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)
    recurrent: dict[str, nn.Module] = field(default_factory=dict)  # fused nn.RNN/GRU/LSTM read through time


def discover(model: nn.Module, unknown: str = "warn") -> Layout:
    """Walk ``model`` and sort its modules by the registry (see the module docstring for the policy)."""
    if unknown not in POLICIES:
        raise ValueError(f"unknown={unknown!r}: the policy for unknown layer types must be one of {', '.join(POLICIES)}")
    layout = Layout()

    def visit(name: str, module: nn.Module) -> None:
        rule = rule_for(module)
        if rule is not None:
            if rule.kind == "weight":
                layout.weight[name or "model"] = module
                layout.node_dim[name or "model"] = rule.node_dim
                layout.params[name or "model"] = (rule.params or weight_and_bias)(module)
            elif rule.kind == "activation":
                layout.activation[name or "model"] = (module, rule.activation(module) if rule.activation else None)
            return  # a registered module is a leaf to the watcher
        own = [p for p in module._parameters.values() if p is not None]
        children = list(module.named_children())
        if own:
            layout.unknown.append((name or "model", type(module).__name__))
            if fused_through_time(module):
                layout.recurrent[name or "model"] = module
        elif not children:
            layout.ignored.append((name or "model", type(module).__name__))
        for child_name, child in children:
            visit(f"{name}.{child_name}" if name else child_name, child)

    visit("", model)
    if layout.unknown and unknown != "skip":
        listed = ", ".join(f"{n} ({t})" for n, t in layout.unknown)
        head = f"watch: {len(layout.unknown)} module(s) with parameters of a type the layer registry does not know: {listed}"
        how = "vanishing.watch.register_layer(Type, LayerRule('weight', node_dim=...))"
        if unknown == "error":
            raise UnknownLayerError(f"{head}; register the type with {how}, or pass unknown='warn'/'skip' to leave them out")
        warnings.warn(f"{head}; they are not watched (register the type with {how}; unknown='skip' silences this)", stacklevel=4)
    if not layout.weight:
        raise UnknownLayerError(
            f"watch: {type(model).__name__} has no Linear or convolution layer to watch (registered weight types: "
            f"{', '.join(t.__name__ for t, r in LAYER_TYPES.items() if r.kind == 'weight')})"
        )
    return layout


# --------------------------------------------------------------------------- capture on the probe batch


@dataclass
class Event:
    """One module call seen during a capture, in execution order."""

    kind: str  # "weight" | "activation"
    name: str
    output: torch.Tensor | None = None  # weight layers: their output a (in the graph, for autograd.grad)
    pre: torch.Tensor | None = None  # activations: their input (detached copy)
    out: torch.Tensor | None = None  # activations: their output (detached copy)
    steps: list[torch.Tensor] | None = None  # recurrent: h_t of the stepped (layer, direction), by position (in the graph)
    track: Track | None = None  # recurrent: the stepped (layer, direction) (see .recurrent)
    gates: torch.Tensor | None = None  # nn.LSTMCell/GRUCell calls: forget/update-gate counts (.recurrent.gate_counts)
    cell: torch.Tensor | None = None  # nn.LSTMCell calls: the cell state c_t (in the graph; .recurrent.lstm_cell_step)


class Capture:
    """Temporary forward hooks that record every weight-layer and activation call, in order.

    Weight layers return a *copy* of their output to the rest of the network
    and keep the original, so that an in-place operation downstream (an
    ``nn.ReLU(inplace=True)``, a residual ``out += x``) cannot overwrite the
    pre-activation whose gradient δ is taken. Activation inputs and outputs
    are copied for the same reason. Use as a context manager around one
    forward pass; the hooks are removed on exit.
    """

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.events: list[Event] = []
        self._handles: list[Any] = []
        self._pending_pre: dict[int, torch.Tensor] = {}

    def __enter__(self) -> Capture:
        for name, module in self.layout.weight.items():
            self._handles.append(module.register_forward_hook(self._weight_hook(name), with_kwargs=True))
        for name, (module, _) in self.layout.activation.items():
            self._handles.append(module.register_forward_pre_hook(self._act_pre_hook(name)))
            self._handles.append(module.register_forward_hook(self._act_hook(name)))
        for name, module in self.layout.recurrent.items():
            self._handles.append(module.register_forward_hook(self._recurrent_hook(name)))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def _weight_hook(self, name: str):
        def hook(module, inputs, kwargs, output):
            inputs = with_state(module, inputs, kwargs)
            if isinstance(module, nn.LSTMCell):
                stepped = lstm_cell_step(module, inputs, output)
                if stepped is not None and stepped[0].requires_grad:  # h_t and c_t recomputed so that ∂L/∂c_t is total on every device
                    h, c, f = stepped
                    self.events.append(Event("weight", name, output=h, gates=gate_counts(f), cell=c))
                    return h.clone(), c.clone()
            rest = None
            if isinstance(output, tuple) and output and isinstance(output[0], torch.Tensor):  # nn.LSTMCell: (h, c)
                output, rest = output[0], output[1:]
            if not isinstance(output, torch.Tensor):
                return None
            if torch.is_grad_enabled() and not output.requires_grad and output.is_floating_point():
                output = output.detach().requires_grad_(True)  # a frozen first layer: δ is still defined at its output
            self.events.append(Event("weight", name, output=output, gates=cell_gate(module, inputs)))
            return output.clone() if rest is None else (output.clone(), *rest)

        return hook

    def _recurrent_hook(self, name: str):
        def hook(module, inputs, output):
            if not torch.is_grad_enabled():
                return None
            stepped = unroll(module, inputs, name)
            if stepped is None:  # unbatched input: the fused output stands, nothing is read through time
                return None
            self.events.extend(Event("recurrent", track.name, steps=track.hs, track=track) for track in stepped[1])
            return stepped[0]

        return hook

    def _act_pre_hook(self, name: str):
        def hook(module, inputs):
            if inputs and isinstance(inputs[0], torch.Tensor):
                self._pending_pre[id(module)] = inputs[0].detach().clone()

        return hook

    def _act_hook(self, name: str):
        def hook(module, inputs, output):
            pre = self._pending_pre.pop(id(module), None)
            if pre is None or not isinstance(output, torch.Tensor):
                return None
            self.events.append(Event("activation", name, pre=pre, out=output.detach().clone()))
            return None

        return hook


def pair_events(events: list[Event]) -> list[tuple[Event, Event | None]]:
    """(weight-layer call, its activation call or None) in execution order.

    The activation of a weight layer is the first activation call after it
    and before the next weight-layer call.
    """
    pairs: list[tuple[Event, Event | None]] = []
    for e in events:
        if e.kind == "weight":
            pairs.append((e, None))
        elif e.kind == "activation" and pairs and pairs[-1][1] is None:
            pairs[-1] = (pairs[-1][0], e)
    return pairs


def nodes_first(t: torch.Tensor, node_dim: int) -> torch.Tensor:
    """Move the node axis of (N, …) to axis 1 (a Linear's features are last; a conv's channels already at 1)."""
    if t.dim() <= 2 or node_dim % t.dim() == 1:
        return t
    return t.movedim(node_dim, 1)
