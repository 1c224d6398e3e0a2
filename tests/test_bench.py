"""Smoke test of the NumPy-vs-torch LSTM benchmark (sanity of the numbers, not speed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from companion import bench


def test_flop_count_matches_the_products():
    N, T, D, H = 2, 3, 5, 7
    forward = 2 * N * T * D * 4 * H + 2 * N * T * H * 4 * H  # x Wx and h Wh for every step
    backward = 2 * forward  # each product has two gradient products of the same size
    assert bench.lstm_matmul_flops(N, T, D, H) == forward + backward


def test_run_benchmark_returns_sane_numbers():
    threads_before = torch.get_num_threads()
    (row,) = bench.run_benchmark(sizes=((8, 2, 3),), threads=1, repeats=1)
    assert torch.get_num_threads() == threads_before  # restored
    assert (row["H"], row["B"], row["T"], row["threads"]) == (8, 2, 3, 1)
    for key in ("numpy_s", "torch_s", "numpy_gflops", "matmul_gflops", "flop_fraction", "ratio"):
        assert math.isfinite(row[key]) and row[key] > 0, key
    assert row["numpy_s"] < 5.0 and row["torch_s"] < 5.0
    assert row["ratio"] == pytest.approx(row["numpy_s"] / row["torch_s"])
    assert row["flop_fraction"] == pytest.approx(row["numpy_gflops"] / row["matmul_gflops"])
    assert row["numpy_gflops"] == pytest.approx(bench.lstm_matmul_flops(2, 3, 8, 8) / row["numpy_s"] / 1e9)
    table = bench.format_results([row])
    assert "np/torch" in table and "fraction" in table and len(table.splitlines()) == 3


def test_timers():
    calls = []
    seconds = bench.median_time(lambda: calls.append(1), repeats=3, warmup=2)
    assert len(calls) == 5 and 0 <= seconds < 1
    medians = bench.time_interleaved({"a": lambda: None, "b": lambda: None}, repeats=2)
    assert set(medians) == {"a", "b"} and all(0 <= v < 1 for v in medians.values())
    with pytest.raises(ValueError, match="need repeats >= 1"):
        bench.median_time(lambda: None, repeats=0)


def test_numpy_and_torch_steps_run_on_the_same_problem():
    arrays = bench._lstm_arrays(4, 2, 3, 5)
    assert all(a.dtype == np.float32 for a in arrays.values())
    bench.numpy_lstm_step(arrays)()
    bench.torch_lstm_step(arrays)()


def test_blas_thread_control_restores():
    old = bench.set_numpy_blas_threads(1)
    if old is None:
        pytest.skip("this numpy's BLAS does not expose a thread setter")
    assert bench.set_numpy_blas_threads(old) == 1


def test_main_prints_a_table(capsys):
    bench.main(["--sizes", "8x2x3", "--repeats", "1", "--threads", "1"])
    out = capsys.readouterr().out
    assert "torch.set_num_threads" in out and "np/torch" in out
    assert len([line for line in out.splitlines() if line.strip().startswith("8 ")]) == 1
    with pytest.raises(SystemExit):
        bench.main(["--sizes", "8x2"])
