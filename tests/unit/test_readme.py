"""The README and docs/ stay true to the code: commands, layout, links, size, metrics."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from monitor.cli import build_parser
from monitor.observability.catalogue import BEGIN, END, markdown_table

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
MADE_BY_USERS = {"deploy/.env"}  # copied from deploy/.env.example by the operator
OUTPUTS = ("bench/results/",)  # written by the benchmarks
FORBIDDEN = re.compile(r"DETECTION\.md|DESIGN §|STYLE §|still to come|\(to come\)")


def block(text: str, name: str) -> str:
    return text.split("<!-- %s:begin -->" % name, 1)[1].split("<!-- %s:end -->" % name, 1)[0]


def test_docs_metrics_table_matches_the_code() -> None:
    text = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    table = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert table == markdown_table(), (
        "run: python -m monitor.observability.catalogue --update docs/metrics.md"
    )


def test_readme_names_the_commands_ci_runs() -> None:
    readme = README.read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "`scripts/test`" in readme
    assert "`scripts/run`" in readme
    assert "scripts/test" in ci


def test_readme_is_short() -> None:
    assert len(README.read_bytes()) < 15_000


def test_readme_command_table_is_the_parsers() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help for c in sub._choices_actions}
    rows = re.findall(r"^\| `([a-z-]+)` \| (.+) \|$", block(README.read_text(), "commands"), re.M)
    assert dict(rows) == helps


def test_readme_layout_names_every_package_and_top_level_directory() -> None:
    layout = block(README.read_text(encoding="utf-8"), "layout")
    named = set(re.findall(r"[A-Za-z_][\w.]*(?:\.py|/)", layout))
    modules = {
        p.name + ("/" if p.is_dir() else "")
        for p in (ROOT / "monitor").iterdir()
        if (p.suffix == ".py" and not p.name.startswith("__")) or (p / "__init__.py").exists()
    }
    assert modules - named == set(), "add to the README layout"
    tops = {
        p.name + "/"
        for p in ROOT.iterdir()
        if p.is_dir() and not p.name.startswith(".") and p.name not in {"__pycache__"}
    }
    assert tops - named == set(), "add to the README layout"
    for entry in named - {"monitor/"}:
        if entry.endswith("/") and entry in tops:
            continue
        name = entry.rstrip("/")
        bases = (ROOT / "monitor", ROOT, ROOT / "tests")
        nested = any((ROOT / "monitor").rglob(name))  # a module or package inside a package
        assert any((base / name).exists() for base in bases) or nested, entry


@pytest.mark.parametrize("doc", [README, *DOCS], ids=lambda p: p.name)
def test_every_relative_link_resolves_and_nothing_cites_what_a_clone_lacks(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    assert not FORBIDDEN.search(text), FORBIDDEN.search(text)
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        assert (doc.parent / target).exists(), "%s links to missing %s" % (doc.name, target)
    for path in re.findall(
        r"`((?:deploy|tests|monitor|scripts|bench|grafana|docs)/[\w./-]+)`", text
    ):
        if "*" in path or "<" in path or path in MADE_BY_USERS or path.startswith(OUTPUTS):
            continue
        assert (ROOT / path).exists(), "%s names missing %s" % (doc.name, path)
