"""Every command in the README's code blocks runs, and the shown output is what it prints.

``scripts/run ARGS`` is ``liqmon ARGS`` in the project's venv; here the same arguments run
as ``python -m monitor ARGS`` from a scratch directory holding the repository's fixtures.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(console|sh)\n(.*?)```", README, re.S)


def liqmon(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=cwd, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def scratch(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "tests" / "fixtures" / "klines", tmp_path / "tests/fixtures/klines")
    return tmp_path


def test_the_readme_has_the_blocks_this_test_runs() -> None:
    kinds = [kind for kind, _ in BLOCKS]
    assert kinds.count("console") == 1
    assert kinds.count("sh") >= 1


def test_the_console_example_prints_what_the_readme_shows(tmp_path: Path) -> None:
    cwd = scratch(tmp_path)
    (text,) = [body for kind, body in BLOCKS if kind == "console"]
    command, *shown = text.strip().splitlines()
    assert command.startswith("$ scripts/run ")
    result = liqmon(shlex.split(command.removeprefix("$ scripts/run ")), cwd)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == shown
    assert (cwd / "alerts.jsonl").stat().st_size > 0


def test_every_sh_command_runs(tmp_path: Path) -> None:
    cwd = scratch(tmp_path)
    for kind, text in BLOCKS:
        if kind != "sh":
            continue
        for line in text.strip().splitlines():
            assert line.startswith("scripts/run "), line
            result = liqmon(shlex.split(line.removeprefix("scripts/run ")), cwd)
            assert result.returncode == 0, (line, result.stderr[-2000:])
