from pathlib import Path

from monitor.catalogue import BEGIN, END, markdown_table

ROOT = Path(__file__).resolve().parents[2]


def test_readme_metrics_table_matches_the_code():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()

    assert block == markdown_table(), "run: python -m monitor.catalogue --update README.md"


def test_readme_names_the_commands_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")

    assert "`scripts/test`" in readme
    assert "`scripts/run`" in readme
    assert "scripts/test" in ci
