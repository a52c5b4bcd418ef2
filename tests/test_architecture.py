"""The import contract (pyproject.toml [tool.importlinter], docs/architecture.md) holds, and can fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports")
pytestmark = pytest.mark.skipif(LINT is None, reason="import-linter is not installed (pip install -e '.[dev]')")


def lint(cwd: Path, src: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([LINT, "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_import_contract_holds():
    result = lint(ROOT, ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_contract_fails_when_optim_imports_the_runner(tmp_path):
    shutil.copytree(ROOT / "src" / "vanishing", tmp_path / "src" / "vanishing",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    # the copy, not the installed package, is the one analysed
    where = subprocess.run([sys.executable, "-c", "import vanishing; print(vanishing.__file__)"], cwd=tmp_path,
                           env={**os.environ, "PYTHONPATH": str(tmp_path / "src")}, capture_output=True, text=True)
    assert where.stdout.strip().startswith(str(tmp_path)), where.stdout + where.stderr
    before = lint(tmp_path, tmp_path / "src")

    sdagd = tmp_path / "src" / "vanishing" / "optim" / "sdagd.py"
    sdagd.write_text(sdagd.read_text() + "\nimport vanishing.runner  # noqa: E402,F401\n")
    after = lint(tmp_path, tmp_path / "src")
    assert after.returncode != 0, after.stdout
    assert "vanishing.optim.sdagd -> vanishing.runner" in after.stdout
    assert after.stdout.count("BROKEN") > before.stdout.count("BROKEN")
