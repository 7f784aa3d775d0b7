"""The benchmark scripts run end to end in --quick mode (tiny model, toy data, CPU); numbers are not checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO, png_size

BENCHMARKS = REPO / "benchmarks"


def run_script(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCHMARKS / script), *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.fixture
def gpu_script():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import gpu_side_by_side

        yield gpu_side_by_side
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_mfu_peak_is_looked_up_by_card_name(gpu_script):
    assert gpu_script.peak_tflops("NVIDIA H200", None)[0] == 989.0
    assert gpu_script.peak_tflops("NVIDIA H100 PCIe", None)[0] == 756.0
    assert gpu_script.peak_tflops("NVIDIA A100-SXM4-80GB", None)[0] == 312.0
    assert gpu_script.peak_tflops("Some Card", None) == (None, "unknown card: pass --peak-tflops")
    assert gpu_script.peak_tflops("Some Card", 50.0) == (50.0, "--peak-tflops")


@pytest.mark.slow
def test_gpu_script_quick_mode_runs_on_the_cpu(tmp_path):
    torch = pytest.importorskip("torch")
    done = run_script("gpu_side_by_side.py", "--quick", "--out", str(tmp_path), "--peak-tflops", "100")
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    training = results["sections"]["training"]
    # fp32 and bf16; without a GPU fp32 only (xlingual refuses bf16 training on the CPU)
    assert set(training) == ({"no", "bf16"} if torch.cuda.is_available() else {"no"})
    for rows in training.values():
        assert set(rows) == {"xlingual", "stock_dynamic", "stock_padded"}
        assert rows["xlingual"]["samples_per_second"]["median"] > 0
        assert rows["xlingual"]["real_tokens_per_second"]["median"] > 0
        assert rows["xlingual"]["ratio_vs_stock_dynamic"]["n"] == 1
        assert rows["xlingual"]["mfu"]["median"] > 0  # 6 × params × tokens/s / peak, with --peak-tflops
    assert results["mfu"]["non_embedding_parameters"] > 0 and results["mfu"]["peak_bf16_tflops"] == 100
    evaluation = results["sections"]["evaluation"]
    assert evaluation["predictions"]["identical"] and evaluation["ratio_samples_vs_pipeline"]["n"] == 1
    assert [g["goal"][:30] for g in results["goals"]].count("training samples/s ≥ 1.5× the ") == len(training)
    assert "## Training" in (tmp_path / "results.md").read_text()


def test_gpu_script_without_a_gpu_says_so_and_exits_0(tmp_path):
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: the full run would start")
    done = run_script("gpu_side_by_side.py", "--out", str(tmp_path))
    assert done.returncode == 0
    assert "SKIPPED gpu_side_by_side: no GPU visible" in done.stderr
    assert not (tmp_path / "results.json").exists()


@pytest.mark.slow
def test_scaling_quick_mode_fits_and_draws_the_figure(tmp_path):
    figure = tmp_path / "scaling.png"
    done = run_script("scaling.py", "--quick", "--threads", "1", "--clock", "cpu", "--max-steps", "3",
                      "--out", str(tmp_path), "--figure", str(figure))
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    sections = results["sections"]
    assert set(sections) == {"examples", "max_length", "languages"}
    examples = sections["examples"]
    assert [p["extrapolated"] for p in examples["points"]] == [True, True]  # 4 and 8 steps, 3 timed
    assert examples["fits"]["power_law_examples_wanted"]["exponent"] is not None
    assert all(p["cpu_seconds"] > 0 for p in examples["points"])
    assert [p["languages"] for p in sections["languages"]["points"]] == [1, 2]
    assert png_size(figure) == (1100, 800)
    redrawn = tmp_path / "again.png"  # the figure again from results.json alone, nothing re-measured
    done = run_script("scaling.py", "--figure-from", str(tmp_path / "results.json"), "--figure", str(redrawn))
    assert done.returncode == 0, done.stderr[-2000:]
    assert redrawn.read_bytes() == figure.read_bytes()
