"""Re-judge a committed claims CSV from a run that predates issue 16's verdict rule.

    python scripts/rejudge_claims.py docs/studies/NAME_claims.csv

Only the mechanical part of the rule can be applied without the runs: a numeric row (numeric paper value,
n > 0) whose verdict is decisive but whose recorded mean ± s.e. rests on n < 3 seeds or on 2 s.e. >
max(3 × 1 pp, 25% of |paper|) becomes ``inconclusive`` with the reason the rule gives (the default 1 pp
tolerance is assumed: a claim with a wider tolerance could only have a wider bound, so this never turns
a decidable row decisive wrongly — it errs towards inconclusive). Qualitative
rows are left as they are. Adds ``seed_averaged`` (True for numeric rows with n > 0) when it is missing.
The file is rewritten atomically.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd

from vanishing.report.tables import interval_bound, undecidable
from vanishing.store.atomic import write_bytes

NOTE = "re-judged from the recorded mean, s.e. and n under issue 16's rule (the run predates it)"


def _number(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def rejudge(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    if "seed_averaged" not in out.columns:
        out.insert(out.columns.get_loc("verdict"), "seed_averaged",
                   [(_number(p) is not None and _number(n) is not None and _number(n) > 0)
                    for p, n in zip(out["paper"], out["n"])])
    for i, row in out.iterrows():
        paper, n = _number(row["paper"]), _number(row["n"])
        if not row["seed_averaged"] or paper is None or n is None or n <= 0:
            continue
        if row["verdict"] not in ("reproduced", "partly", "not reproduced"):
            continue
        se = _number(row["se"])
        unit = "pp" if str(row.get("unit", "%")) in ("%", "nan") else str(row["unit"])
        why = undecidable(se if se is not None else math.nan, int(n), interval_bound(paper, 1.0), unit)
        if why:
            out.at[i, "reason"] = f"{why}; was '{row['verdict']}' ({NOTE}); {row['reason']}"
            out.at[i, "verdict"] = "inconclusive"
    return out


def main(argv: list[str]) -> int:
    for name in argv:
        path = Path(name)
        frame = rejudge(pd.read_csv(path))
        write_bytes(path, frame.to_csv(index=False).encode())
        print(f"{path}: " + ", ".join(f"{v} {c}" for v, c in frame["verdict"].value_counts().items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
