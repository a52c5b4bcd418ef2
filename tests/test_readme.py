"""The README starts with the two commands, and CI runs the README's test command."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```(?:bash|sh)?\n(.*?)```", text, flags=re.S)


def test_readme_starts_with_two_commands():
    blocks = readme_commands()
    assert len(blocks) >= 2
    assert "pip install" in blocks[0] and "vanishing " in blocks[0]
    assert "pytest" in blocks[1]


def test_ci_runs_the_readme_test_command():
    test_command = readme_commands()[1].strip().splitlines()[-1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci
    assert "torch==2.13.0" in ci and "set -euo pipefail" in ci
