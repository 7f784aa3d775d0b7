"""Shared fixtures: a tiny random multilingual BERT and XLM-R built on the fly, and toy data.

Nothing here touches the network; the real-encoder tests (marker ``real``) read
``../shared`` and skip with a reason where it is absent.

Layout: ``tests/<area>/test_<module>.py`` mirrors the package, an area per layer of README "Development"
(``tests/runner/test_merging.py`` tests ``xlingual/merging/``, ``tests/base/test_results.py``
``xlingual/results/``); the suites that cut across it stay here at the top, each marked
(:data:`CROSS_CUTTING`), so ``-m bad_input`` or ``-m "not fuzz"`` picks them. Test file names are unique
across areas: pytest imports them by name.
"""

from __future__ import annotations

import os
import random
import struct
import subprocess
from pathlib import Path

import pytest

from xlingual.testing import (  # noqa: F401  (re-exported: tests import them from conftest)
    FILLER,
    LABELS,
    WORDS,
    build_tiny_bert,
    build_tiny_xlmr,
    tiny_recipe_overrides,
    toy_sentences,
    write_umsab,
)

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

CROSS_CUTTING = {
    "test_bad_input.py": "bad_input", "test_user_datasets.py": "bad_input", "test_fuzz.py": "fuzz",
    "test_resume.py": "resume", "test_safety.py": "resume", "test_real.py": "real",
    "test_recipes.py": None, "test_readme.py": None, "test_layers.py": None, "test_benchmarks.py": None,
}
"""Top-level suites that cut across the package, and the marker each carries (besides ``cross_cutting``)."""


def pytest_collection_modifyitems(config, items):
    for item in items:
        name = item.path.name
        if name in CROSS_CUTTING and item.path.parent == REPO / "tests":
            item.add_marker("cross_cutting")
            if CROSS_CUTTING[name]:
                item.add_marker(CROSS_CUTTING[name])


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("models") / "tiny-bert")


@pytest.fixture(scope="session")
def tiny_xlmr(tmp_path_factory) -> Path:
    return build_tiny_xlmr(tmp_path_factory.mktemp("models") / "tiny-xlmr")


@pytest.fixture(scope="session")
def toy_umsab(tmp_path_factory) -> Path:
    return write_umsab(tmp_path_factory.mktemp("data") / "umsab")


@pytest.fixture
def train_tiny(tiny_bert, toy_umsab, tmp_path):
    """Train a recipe on the tiny model; returns the run folder."""
    import xlingual

    def _train(recipe: str = "recipes/umsab_e5small.yaml", out: Path | None = None, model: Path | None = None,
               **extra: object) -> Path:
        out = out or tmp_path / "run"
        overrides = tiny_recipe_overrides(model or tiny_bert, toy_umsab, out, **extra)
        return xlingual.train(REPO / recipe, overrides, progress=False)

    return _train


# ----------------------------------------------------------------------------- real encoder


@pytest.fixture(scope="session")
def e5_small() -> Path:
    """multilingual-e5-small built from ../shared (cached outside the repo); skips where absent."""
    builder = SHARED / "models" / "build-e5-small"
    if not builder.is_file():
        pytest.skip(f"real-encoder test: {builder} not found (../shared is not beside the checkout)")
    cache = Path(os.environ.get("XLINGUAL_E5_SMALL", Path.home() / ".cache" / "xlingual" / "e5-small"))
    if not (cache / "config.json").is_file():
        result = subprocess.run(["bash", str(builder), str(cache)], capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            pytest.skip(f"real-encoder test: building e5-small failed: {result.stderr.strip()[-300:]}")
    return cache


@pytest.fixture(scope="session")
def umsab_real() -> Path:
    root = SHARED / "data" / "umsab"
    if not (root / "english" / "train_text.txt").is_file():
        pytest.skip(f"real-data test: {root} not found (../shared is not beside the checkout)")
    return root


def write_pairs(root: Path, n: int = 40) -> Path:
    """Toy Tatoeba-style translation pairs (``tatoeba.spa-eng.{spa,eng}``, ``tatoeba.deu-eng.{deu,eng}``)."""
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    for language, code in (("spanish", "spa"), ("german", "deu")):
        english, other = [], []
        for _ in range(n):
            label = rng.choice(LABELS)
            k = rng.randrange(4)
            f = rng.randrange(5)
            english.append(f"{FILLER['english'][f]} {WORDS['english'][label][k]}")
            other.append(f"{FILLER[language][f]} {WORDS[language][label][k]}")
        (root / f"tatoeba.{code}-eng.eng").write_text("\n".join(english), encoding="utf-8")
        (root / f"tatoeba.{code}-eng.{code}").write_text("\n".join(other), encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def toy_pairs(tmp_path_factory) -> Path:
    return write_pairs(tmp_path_factory.mktemp("data") / "tatoeba")


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the PNG signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])
