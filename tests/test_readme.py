"""The README's notebook example runs as written (on the tiny model instead of e5-small)."""

from __future__ import annotations

import re

from conftest import REPO

from xlingual.objectives import registered_objectives, unregister_objective
from xlingual.results import Results

MARKER = "<!-- readme-example: notebook -->"


def readme_example() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(re.escape(MARKER) + r"\n```python\n(.*?)\n```", text, re.S)
    assert block, f"README.md has no python block after {MARKER}"
    return block.group(1)


def test_the_notebook_example_runs(tiny_bert, tmp_path, monkeypatch, capsys):
    code = readme_example()
    model_line = 'MODEL = "intfloat/multilingual-e5-small"'
    assert model_line in code
    code = code.replace(model_line, f"MODEL = {str(tiny_bert)!r}").replace('text_prefix="query: "', 'text_prefix=""')
    monkeypatch.chdir(tmp_path)  # the example writes runs/notebook
    namespace = {"__name__": "readme_notebook"}
    try:
        exec(compile(code, "README.md", "exec"), namespace)
        assert "mean_matching" in registered_objectives()
    finally:
        unregister_objective("mean_matching")
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("Prediction(label=")
    assert "target_avg_macro_f1" in printed[1]
    assert printed[-1] == "['unlabeled-target'] ['mean_matching']"
    results = Results.read(tmp_path / "runs" / "notebook" / "results.json")
    assert results.target_languages == ["spanish", "german"]
    assert list(results.splits["test"].languages) == ["english", "spanish", "german"]
    (objective,) = results.training.objectives
    assert objective["target_resources"] == ["unlabeled-target"] and objective["weight"] == 0.5
