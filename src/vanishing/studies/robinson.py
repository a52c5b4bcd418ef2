"""Robinson (2024): sigmoid vs ReLU in a multilayer perceptron on MNIST — seed ``000``.

S. J. Robinson, "Backpropagation's vanishing gradient problem: sigmoid vs ReLU
activation functions within the multilayer perceptron". The paper trains, in
TensorFlow/Keras, "an input layer, three hidden layers, and an output layer of
ten" — four Dense layers carrying the activation plus a 10-way softmax —
with sigmoid or ReLU, on MNIST (60k/10k, pixels / 255, one-hot targets, the
test set as validation) for 5 and 10 epochs, and reports:

* ReLU val_accuracy ≈ 91% after 5 epochs and 93.7% after 10;
* sigmoid stalls at 10.6% with no epochal improvement (5 and 10 epochs);
* no speed difference between the two;
* an output-activation ablation: with ReLU (sigmoid) on the output layer
  instead of softmax, the ReLU net reaches only ~9% and the sigmoid net
  stalls at 10–11% whatever its output layer;
* the pixels are also said to be "divided by 784" when flattened.

It does not give the widths, the optimizer or the learning rate. This study
therefore runs the plausible settings — Keras' defaults (SGD, lr 0.01, batch
32, Glorot-uniform init, zero bias) and Adam (lr 1e-3), at width 128 (and
more widths at ``--full``) — and shows under which ones the sigmoid stalls,
with the per-layer gradient norms and per-example δ that explain it. Both
readings of the input scaling (÷255 and ÷255÷784) are run, and the output
ablation uses Keras' cross-entropy semantics for non-softmax outputs.

Reproduces: the 5- and 10-epoch accuracy table (sigmoid vs ReLU), the epoch
times, the output-activation ablation, and — beyond the paper — the per-layer
gradient norms and δ that explain the stall.
"""

from __future__ import annotations

import math

import pandas as pd

from .base import Study, StudyContext, mean_se

PAPER = {"relu5": 91.0, "relu10": 93.7, "sigmoid5": 10.6, "sigmoid10": 10.6, "relu_out_relu": 9.0, "sigmoid_out": 10.5}

SETTINGS = {  # name → optimizer fields (what the paper leaves out)
    "keras-sgd": {"optim.optimizer": "sgd", "optim.lr": 0.01},
    "adam": {"optim.optimizer": "adam", "optim.lr": 0.001},
}
PROBES = ["minimal", "backprop_signal(epochs='init,last')"]


def _base(p: dict, width: int, epochs: int) -> dict:
    data = {"dataset": p["dataset"], "val_fraction": 0.0}
    if p.get("train_subset"):
        data["train_subset"] = p["train_subset"]
    return {
        "data": data,
        "model": {"hidden": [width] * 4, "output": "softmax", "init": "xavier_uniform", "bias_init": "zeros"},
        "optim": {"loss": "ce"},
        "train": {"epochs": epochs, "batch_size": 32},
        "probes": {"enabled": PROBES},
    }


def _acc_at(tables, runs: pd.DataFrame, epoch: int) -> list[float]:
    """Test (= validation) accuracy in % at ``epoch`` for each run (seed) of ``runs``."""
    e = tables.epochs
    rows = e[e["run_id"].isin(runs["run_id"]) & (e["epoch"] == epoch)]
    return (100 * rows["test_acc"]).tolist()


def _select(runs: pd.DataFrame, **fields) -> pd.DataFrame:
    mask = pd.Series(True, index=runs.index)
    for key, value in fields.items():
        mask &= runs[key].astype(str).str.startswith(str(value))
    return runs[mask]


def _fmt(values: list[float]) -> str:
    mean, se, n = mean_se(values)
    if n == 0:
        return "–"
    return f"{mean:.2f}" + (f" ± {se:.2f}" if math.isfinite(se) else "")


def run(ctx: StudyContext) -> None:
    from ..report import figures

    p = ctx.params
    epochs = p["epochs"]
    early = min(5, epochs)
    widths = p["widths"]

    # 1. the main comparison: activation × the plausible settings × widths
    main = ctx.sweep(
        "main",
        base=_base(p, widths[0], epochs),
        grid={"model.hidden": [[w] * 4 for w in widths], "model.activation": ["sigmoid", "relu"]},
        zip={"optim.optimizer": [SETTINGS[s]["optim.optimizer"] for s in SETTINGS],
             "optim.lr": [SETTINGS[s]["optim.lr"] for s in SETTINGS]},
    )
    runs = main.runs.assign(setting=main.runs["optimizer"].map(lambda o: "adam" if o.startswith("adam") else "keras-sgd"))
    rows = []
    for (width, setting, act), part in runs.groupby(["width", "setting", "activation"]):
        times = main.epochs[main.epochs["run_id"].isin(part["run_id"])]["epoch_time_s"]
        rows.append({"width": width, "setting": setting, "activation": act,
                     f"acc epoch {early} (%)": _fmt(_acc_at(main, part, early)),
                     f"acc epoch {epochs} (%)": _fmt(_acc_at(main, part, epochs)),
                     "epoch time (s)": f"{times.mean():.2f}", "seeds": len(part)})
    settings_table = pd.DataFrame(rows)
    ctx.report.add_heading("Which settings make the sigmoid stall")
    ctx.report.add_table(settings_table, "Test accuracy (the test set is the validation set, as in the paper) at "
                         f"epoch {early} and {epochs}, mean ± s.e. over seeds; 784 → width×4 → 10, batch 32.")
    ctx.log(settings_table.to_string(index=False))

    keras = runs[(runs["setting"] == "keras-sgd") & (runs["width"] == widths[0])]
    sig, rel = _select(keras, activation="sigmoid"), _select(keras, activation="relu")
    sig5, rel5 = _acc_at(main, sig, early), _acc_at(main, rel, early)
    sigL, relL = _acc_at(main, sig, epochs), _acc_at(main, rel, epochs)
    gap = (mean_se(rel5)[0] - mean_se(sig5)[0]) > 20
    setting = f"Keras defaults (SGD lr 0.01, batch 32, Glorot), width {widths[0]}"
    ctx.numeric_claim(f"ReLU val accuracy after {early} epochs ≈ 91% [{setting}]", PAPER["relu5"], rel5,
                      direction_holds=gap, note="direction: ReLU far above sigmoid" if gap else "")
    if epochs >= 10:
        ctx.numeric_claim(f"ReLU val accuracy after 10 epochs = 93.7% [{setting}]", PAPER["relu10"], relL,
                          direction_holds=mean_se(relL)[0] > mean_se(rel5)[0])
    ctx.numeric_claim(f"sigmoid stalls at 10.6% after {early} epochs [{setting}]", PAPER["sigmoid5"], sig5,
                      direction_holds=gap)
    if epochs >= 10:
        ctx.numeric_claim(f"sigmoid stalls at 10.6% after 10 epochs [{setting}]", PAPER["sigmoid10"], sigL,
                          direction_holds=mean_se(sigL)[0] < mean_se(relL)[0] - 20)
    gain = mean_se(sigL)[0] - mean_se(_acc_at(main, sig, 1))[0]
    ctx.qualitative_claim(
        "the sigmoid net shows no epochal improvement",
        "reproduced" if abs(gain) < 2 else "not reproduced",
        f"sigmoid accuracy changes by {gain:+.2f} pp from epoch 1 to {epochs} [{setting}]",
    )
    adam_sig = _select(runs[(runs["setting"] == "adam") & (runs["width"] == widths[0])], activation="sigmoid")
    adam_acc = mean_se(_acc_at(main, adam_sig, early))[0]
    ctx.qualitative_claim(
        "(setting) the stall depends on the optimizer the paper does not name",
        "reproduced" if adam_acc > 80 else "partly",
        f"with Adam lr 1e-3 the same sigmoid net reaches {adam_acc:.1f}% after {early} epochs — the stall is a "
        "property of plain SGD at lr 0.01 on a 4-layer sigmoid net, not of the sigmoid alone",
        paper="not stated",
    )
    t_sig = main.epochs[main.epochs["run_id"].isin(sig["run_id"])]["epoch_time_s"].mean()
    t_rel = main.epochs[main.epochs["run_id"].isin(rel["run_id"])]["epoch_time_s"].mean()
    ratio = t_sig / t_rel
    ctx.qualitative_claim(
        "no speed difference between sigmoid and ReLU",
        "reproduced" if 0.8 <= ratio <= 1.25 else "not reproduced",
        f"epoch time sigmoid / ReLU = {ratio:.2f} ({t_sig:.2f} s vs {t_rel:.2f} s per epoch)",
    )

    # 2. why: per-layer gradient norms and per-example δ under the stalling setting
    grad = main.probes.get("grad_norms")
    if grad is not None and len(grad):
        for act, part in (("sigmoid", sig), ("relu", rel)):
            g = grad[grad["run_id"] == part["run_id"].iloc[0]]
            ctx.figure(figures.grad_norm_lines(g, title=f"{act}, {setting}: ‖∂E/∂W‖ per layer"),
                       f"Weight-gradient norm per layer over training, {act} hidden units ({setting}, seed 0).",
                       f"grad_norms_{act}")
        first = grad[grad["step"] <= 100]
        ratios = {}
        for act, part in (("sigmoid", sig), ("relu", rel)):
            g = first[first["run_id"].isin(part["run_id"])].groupby("layer")["weight_l2"].mean()
            ratios[act] = g.get("hidden1", math.nan) / g.get("hidden4", math.nan)
        ctx.qualitative_claim(
            "the sigmoid net's gradients vanish towards the input (the paper's explanation)",
            "reproduced" if ratios["sigmoid"] < 0.1 * ratios["relu"] else "partly",
            f"mean ‖∂E/∂W‖ over the first 100 steps, hidden1 / hidden4: sigmoid {ratios['sigmoid']:.3g}, "
            f"ReLU {ratios['relu']:.3g}",
            paper="stated",
        )
    delta = main.probes.get("backprop_signal")
    if delta is not None and len(delta):
        for act, part in (("sigmoid", sig), ("relu", rel)):
            d = delta[delta["run_id"].isin(part["run_id"])]
            theory = ctx.theory(_base(p, widths[0], epochs), {"model.activation": act})
            ctx.figure(figures.delta_by_layer(d, theory=theory, title=f"{act}: per-example δ by layer"),
                       f"RMS over the probe set of the per-example δ = ∂E_n/∂a at each hidden layer, at init and "
                       f"after the last epoch ({act}, {setting}); mean ± s.e. over seeds. Dashed: the mean-field "
                       "prediction at init (q₁ from the data), anchored at the last hidden layer.", f"delta_{act}")

    ctx.figure(figures.learning_curves(main.epochs, runs.drop(columns=["setting"]), metrics=("train_loss", "val_acc")),
               "Learning curves of every configuration of the main comparison (validation = test set).",
               "learning_curves")

    # 3. the output-activation ablation (Keras CE semantics for relu/sigmoid outputs)
    out = ctx.sweep(
        "output-ablation",
        base={**_base(p, widths[0], epochs), "probes": {"enabled": ["none"]},
              "optim": {"loss": "ce", "optimizer": "sgd", "lr": 0.01}},
        grid={"model.output": ["relu", "sigmoid"], "model.activation": ["sigmoid", "relu"]},
    )
    rows = []
    for (output, act), part in out.runs.groupby(["output", "activation"]):
        rows.append({"hidden": act, "output": output, f"acc epoch {epochs} (%)": _fmt(_acc_at(out, part, epochs))})
    for act, part in (("sigmoid", sig), ("relu", rel)):
        rows.append({"hidden": act, "output": "softmax", f"acc epoch {epochs} (%)": _fmt(_acc_at(main, part, epochs))})
    ablation = pd.DataFrame(rows)
    ctx.report.add_heading("Output-activation ablation")
    ctx.report.add_table(ablation, "Keras semantics for non-softmax outputs: p = y / Σy clipped to [1e-7, 1 − 1e-7]. "
                         f"{setting}.")
    ctx.log(ablation.to_string(index=False))
    relu_relu = _acc_at(out, _select(out.runs, output="relu", activation="relu"), epochs)
    ctx.numeric_claim("ReLU hidden with a ReLU output layer reaches only ~9%", PAPER["relu_out_relu"], relu_relu,
                      direction_holds=mean_se(relu_relu)[0] < mean_se(relL)[0] - 20)
    sig_out = _acc_at(out, _select(out.runs, activation="sigmoid"), epochs)
    ctx.numeric_claim("the sigmoid net stalls at 10–11% whatever its output layer", PAPER["sigmoid_out"], sig_out,
                      direction_holds=mean_se(sig_out)[0] < 20)

    # 4. the "divided by 784" reading of the input scaling
    scaled = ctx.sweep(
        "input-784",
        base={**_base(p, widths[0], epochs), "probes": {"enabled": ["none"]},
              "optim": {"loss": "ce", "optimizer": "sgd", "lr": 0.01},
              "data": {**_base(p, widths[0], epochs)["data"], "pixel_divisor": 255.0 * 784}},
        grid={"model.activation": ["sigmoid", "relu"]},
    )
    rows = [{"inputs": "÷255÷784", "activation": act, f"acc epoch {epochs} (%)": _fmt(_acc_at(scaled, part, epochs))}
            for act, part in scaled.runs.groupby("activation")]
    rows += [{"inputs": "÷255", "activation": a, f"acc epoch {epochs} (%)": _fmt(_acc_at(main, part, epochs))}
             for a, part in (("sigmoid", sig), ("relu", rel))]
    ctx.report.add_heading("Input scaling: ÷255 or ÷255÷784")
    ctx.report.add_table(pd.DataFrame(rows), f"The paper says the flattened pixels were 'divided by 784'; {setting}.")
    relu784 = _acc_at(scaled, _select(scaled.runs, activation="relu"), epochs)
    ctx.qualitative_claim(
        "(reading) with inputs ÷255÷784 ReLU + SGD stalls as well",
        "reproduced" if mean_se(relu784)[0] < 20 else "not reproduced",
        f"ReLU with inputs ÷255÷784 reaches {_fmt(relu784)}% after {epochs} epochs — had the paper trained on those "
        "inputs, its ReLU net would not have reached 91%, so it most likely divided by 255 only",
        paper="'divided by 784'",
    )


def add_arguments(parser) -> None:
    parser.add_argument("--widths", type=lambda s: [int(w) for w in s.split(",")], default=None,
                        help="hidden widths to try, e.g. 128,512 (overrides the scale)")


STUDY = Study(
    name="robinson",
    title="Robinson 2024 — sigmoid vs ReLU in an MLP on MNIST",
    citation="S. J. Robinson, Backpropagation's vanishing gradient problem: sigmoid vs ReLU activation functions "
    "within the multilayer perceptron (seed 000)",
    reproduces=("accuracy after 5 and 10 epochs, sigmoid vs ReLU", "epoch times",
                "output-activation ablation", "input scaling ÷255 vs ÷784",
                "per-layer gradient norms and δ (beyond the paper)"),
    scales={
        "quick": {"dataset": "mnist-sample", "epochs": 5, "seeds": 2, "widths": [128]},
        "medium": {"dataset": "mnist", "epochs": 10, "seeds": 3, "widths": [128]},
        "full": {"dataset": "mnist", "epochs": 10, "seeds": 5, "widths": [128, 256, 512]},
    },
    run=run,
    add_arguments=add_arguments,
    notes="The paper does not state the widths, the optimizer or the learning rate; the study runs Keras' defaults "
    "(SGD lr 0.01, batch 32, Glorot-uniform, zero bias) and Adam lr 1e-3 and says under which the sigmoid stalls. "
    "The test set serves as validation, as in the paper, so headline numbers are those of the stated epoch.",
)
