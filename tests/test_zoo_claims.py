"""Zoo claims on tiny synthetic summary tables (no training): reproduced / not reproduced / inconclusive."""

import pandas as pd

from vanishing.studies.zoo.claims import claim_rows, exact_row, function_claim_rows, qualitative_row, seeds_of
from vanishing.studies.zoo.common import DYING_ACTS, REMEDIES

ACTS = {  # act → (δ ratio at init, test acc, epoch-1 loss)
    "sigmoid": (1e-4, 11.0, 2.3), "tanh": (0.5, 90.0, 0.5), "relu": (1.0, 95.0, 0.4), "elu": (1.0, 95.0, 0.3),
}


def _tables(seeds=(0, 1, 2), elu_loss=None):
    summary = []
    for act, (ratio, acc, loss) in ACTS.items():
        for s in seeds:
            if act == "elu" and elu_loss is not None:
                loss = elu_loss
            summary.append({"act": act, "seed": s, "delta_ratio0": ratio, "test_acc": acc, "train_loss1": loss + 0.01 * s,
                            "train_loss_last": loss / 2, "sparsity0": 50.0, "sparsity_last": 60.0, "sat0": 10.0,
                            "sat_last": 12.0, "dead_max_last": 5.0, "mean_act0": 0.1 if act == "elu" else 0.5,
                            "mean_act_last": 0.1 if act == "elu" else 0.5, "epoch_time": 1.0})
    rsum = pd.DataFrame([{"act": a, "variant": v, "seed": s, "delta_ratio0": 0.05, "sat_last": 1.0,
                          "dead_last": {"torch default init": 5.0}.get(v, 1.0),
                          "test_acc": 90.0 if v in ("+ batch norm", "+ residual") else 11.0}
                         for a in ("sigmoid", "tanh", "relu") for v in REMEDIES for s in seeds])
    labels = (*DYING_ACTS, "relu + batch norm")
    dsum = pd.DataFrame([{"label": lab, "seed": s, "test_acc": 80.0} for lab in labels for s in seeds])
    census = pd.DataFrame([{"label": lab, "run_id": f"{lab}-{s}", "layer": "hidden1",
                            "no_gradient": 0.3 if lab == "relu" else 0.0, "negative": 0.3 if lab == "relu" else 0.0}
                           for lab in labels for s in seeds])
    cost = pd.DataFrame({"activation": ["relu", "sigmoid", "tanh", "elu"], "us": [10.0, 20.0, 20.0, 20.0]})
    theories = {a: pd.DataFrame({"decay": [ACTS[a][0]]}) for a in ("sigmoid", "tanh", "relu")}
    return {"p": {"depth": 8, "epochs": 2}, "summary": pd.DataFrame(summary), "theories": theories, "rsum": rsum,
            "dsum": dsum, "census": census, "opt_text": "SGD", "dopt": "Adam", "cost": cost}


def _verdicts(**kw):
    return {r["claim"]: r["verdict"] for r in claim_rows(**_tables(**kw))}


def test_reproduced_on_three_seeds():
    v = _verdicts()
    assert v["the sigmoid's chained derivatives make the gradient vanish towards the first layers"] == "reproduced"
    assert v["ReLU units can die: output only 0 for every input"] == "reproduced"
    assert v["leaky ReLU, PReLU, RReLU and ELU avoid the dying ReLU"] == "reproduced"
    assert v["ELU makes training converge faster than ReLU"] == "reproduced"
    assert v["batch norm and residual connections let a deep sigmoid net train (beyond the article)"] == "reproduced"


def test_not_reproduced_on_three_seeds():
    v = _verdicts(elu_loss=1.0)  # ELU's first-epoch loss well above ReLU's, beyond 2 s.e.
    assert v["ELU makes training converge faster than ReLU"] == "not reproduced"
    t = _tables()
    t["summary"].loc[t["summary"]["act"] == "relu", "sparsity_last"] = 5.0
    rows = {r["claim"]: r["verdict"] for r in claim_rows(**t)}
    assert rows["ReLU gives sparse representations (exact zeros)"] == "not reproduced"


def test_inconclusive_on_two_seeds_and_within_noise():
    v = _verdicts(seeds=(0, 1))
    assert all(verdict == "inconclusive" for verdict in v.values()), v
    close = _verdicts(elu_loss=0.4)  # ELU loss = ReLU loss: an effect of 0, within 2 s.e.
    assert close["ELU makes training converge faster than ReLU"] == "inconclusive"


def test_seed_counts_and_rows():
    t = _tables(seeds=(0, 1, 2))
    assert seeds_of(t["summary"]) == 3 and seeds_of(None) == 0
    assert qualitative_row("c", "partly", "e", n=1)["verdict"] == "inconclusive"
    assert "needs ≥ 3 seeds" in qualitative_row("c", "partly", "e", n=1)["reason"]


def test_exact_function_claims_carry_no_seed_rule():
    assert exact_row("x", 0.25, [0.25], tolerance=1e-3)["verdict"] == "reproduced"
    assert exact_row("x", 0.25, [0.5], tolerance=1e-3)["verdict"] == "not reproduced"
    assert {r["verdict"] for r in function_claim_rows()} == {"reproduced"}
