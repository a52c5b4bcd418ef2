"""Copy one study's measured claims and figures into docs/, and print its verdict table as Markdown.

    python scripts/studies_doc.py RESULTS_ROOT NAME [--figures fig1,fig2 …]

RESULTS_ROOT is the ``--results`` folder of a finished ``vanishing study NAME``
run. Writes ``docs/studies/NAME_claims.csv`` (the study's ``claims.csv`` as is)
and copies the PNGs named by ``--figures`` (stems; default: all) from
``RESULTS_ROOT/figures`` into ``docs/figures/studies/NAME/``. The Markdown
printed on stdout is the paper-vs-measured table that docs/studies.md quotes.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import pandas as pd

DOCS = Path(__file__).resolve().parents[1] / "docs"


def cell(value) -> str:
    """A table cell: NaN → '', numbers with 2 decimals, pipes escaped."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(claims: pd.DataFrame) -> str:
    lines = ["| claim | paper | measured (mean ± s.e., n) | verdict | why |", "|---|---|---|---|---|"]
    for row in claims.itertuples(index=False):
        if isinstance(row.mean, float) and row.mean == row.mean:
            se = f" ± {row.se:.2f}" if isinstance(row.se, float) and row.se == row.se else ""
            unit = f" {cell(row.unit)}" if cell(row.unit) else ""
            measured = f"{row.mean:.2f}{se}{unit} (n={int(row.n)})"
        else:
            measured = "see why"
        lines.append(f"| {cell(row.claim)} | {cell(row.paper)} | {measured} | **{cell(row.verdict)}** | {cell(row.reason)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("name")
    parser.add_argument("--figures", default=None, help="comma-separated figure stems to copy (default: all)")
    args = parser.parse_args(argv)
    claims_file = args.root / "claims.csv"
    if not claims_file.is_file():
        print(f"{claims_file}: no such file (expected the results root of a finished study)", file=sys.stderr)
        return 2
    claims = pd.read_csv(claims_file)
    (DOCS / "studies").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(claims_file, DOCS / "studies" / f"{args.name}_claims.csv")
    figure_dir = DOCS / "figures" / "studies" / args.name
    figure_dir.mkdir(parents=True, exist_ok=True)
    stems = args.figures.split(",") if args.figures else [p.stem for p in sorted((args.root / "figures").glob("*.png"))]
    for stem in stems:
        source = args.root / "figures" / f"{stem}.png"
        if not source.is_file():
            print(f"{source}: no such figure", file=sys.stderr)
            return 2
        shutil.copyfile(source, figure_dir / source.name)
    print(markdown_table(claims))
    counts = claims["verdict"].value_counts()
    print("\n" + ", ".join(f"{v}: {n}" for v, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
