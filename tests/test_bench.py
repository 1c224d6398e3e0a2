"""The NumPy-vs-torch benchmark: its arithmetic (FLOPs, ratios, spread flag, formatting) and a tiny run end to end.

Nothing here measures the machine's speed: timings only have to be positive and finite.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from companion import bench


@pytest.mark.parametrize("cell, gates", [("rnn", 1), ("gru", 3), ("lstm", 4)])
def test_flop_count_is_six_products_of_the_forward_size(cell, gates):
    N, T, D, H = 2, 3, 5, 7
    G = gates * H
    forward = 2 * N * T * D * G + 2 * N * T * H * G  # x_t Wx and h_{t-1} Wh for every step
    backward = 2 * forward  # each product has two gradient products of the same size
    assert bench.matmul_flops(cell, N, T, D, H) == forward + backward == 6 * N * T * G * (D + H)
    shapes = bench.product_shapes(cell, N, T, D, H)
    assert sum(count for count, *_ in shapes) == 2 * T + 4  # two products per step, four over all steps


def test_lstm_flop_count_keeps_its_closed_form():
    assert bench.lstm_matmul_flops(2, 3, 5, 7) == 24 * 2 * 3 * 7 * (5 + 7)


def test_products_step_runs_exactly_the_counted_products(monkeypatch):
    a = bench.cell_arrays("gru", 4, 2, 3, 5, "float64")
    step = bench.products_step("gru", a)
    seen = []
    real_matmul = np.matmul
    def counting_matmul(A, B, out):
        seen.append((A.shape[0], A.shape[1], B.shape[1]))
        return real_matmul(A, B, out=out)

    monkeypatch.setattr(np, "matmul", counting_matmul)
    step()
    flops = sum(2 * m * k * n for m, k, n in seen)
    assert flops == bench.matmul_flops("gru", 2, 3, 5, 4)


def test_summary_and_spread():
    t = bench.summarize([0.30, 0.10, 0.11, 0.12, 0.10])
    assert (t.median, t.lo, t.hi) == (0.11, 0.10, 0.30)
    assert t.spread == pytest.approx(0.20 / 0.11)
    assert bench.summarize([2.0]).spread == 0.0
    with pytest.raises(ValueError, match="at least one"):
        bench.summarize([])


def _fake_times(numpy, torch_, floor):
    return {"numpy": numpy, "torch": torch_, "floor": floor}


def test_row_ratio_and_reliability():
    steady = bench._row("lstm", 8, 2, 3, "float32", 1, _fake_times([1.0, 1.05, 1.02], [2.0, 2.1, 2.05], [0.5] * 3))
    assert steady["ratio"] == pytest.approx(1.02 / 2.05)
    assert steady["floor_ratio"] == pytest.approx(0.5 / 2.05)
    assert steady["spread"] == pytest.approx(max(0.05 / 1.02, 0.1 / 2.05))  # the larger of numpy's and torch's
    assert steady["reliable"]
    assert steady["numpy_gflops"] == pytest.approx(bench.matmul_flops("lstm", 2, 3, 8, 8) / 1.02 / 1e9)
    noisy = bench._row("rnn", 8, 2, 3, "float64", 2, _fake_times([1.0, 1.0, 1.0], [2.0, 2.0, 2.5], [0.5] * 3))
    assert noisy["spread"] == pytest.approx(0.25) and not noisy["reliable"]


def test_format_marks_unreliable_rows():
    rows = [
        bench._row("gru", 128, 32, 50, "float32", 1, _fake_times([0.018, 0.0181, 0.0182], [0.02, 0.0201], [0.011])),
        bench._row("gru", 256, 64, 100, "float64", 1, _fake_times([0.3, 0.3, 0.6], [0.3, 0.31, 0.32], [0.2] * 3)),
    ]
    lines = bench.format_results(rows).splitlines()
    assert len(lines) == 4 and "np/torch" in lines[0] and "floor/torch" in lines[0]
    assert lines[2].split()[:5] == ["gru", "128", "32", "50", "float32"]
    assert "18.1 (18.0-18.2)" in lines[2] and " 0.90 " in lines[2] and "unreliable" not in lines[2]
    assert lines[3].endswith("unreliable: spread 100 % > 10 %")


def test_time_interleaved_rotates_and_counts():
    order = []
    fns = {"a": lambda: order.append("a"), "b": lambda: order.append("b")}
    times = bench.time_interleaved(fns, repeats=3, warmup=1)
    assert order == ["a", "b", "a", "b", "b", "a", "a", "b"]  # warm-up, then rounds starting at a, b, a
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3}
    assert all(0 <= s < 1 for v in times.values() for s in v)
    calls = []
    assert 0 <= bench.median_time(lambda: calls.append(1), repeats=3, warmup=2) < 1 and len(calls) == 5
    with pytest.raises(ValueError, match="need repeats >= 1"):
        bench.time_interleaved({"a": lambda: None}, repeats=0)


@pytest.mark.parametrize("cell", bench.CELLS)
def test_numpy_and_torch_compute_the_same_thing(cell):
    """The two contenders run the same problem: same outputs and input gradients from the same arrays."""
    a = bench.cell_arrays(cell, 4, 2, 3, 5, "float64")
    step = bench.torch_step(cell, a)
    step()  # runs; now compare values through a module built the same way
    D, G = a["Wx"].shape
    m = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell](D, 4, batch_first=True).double()
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.from_numpy(a["Wx"].T))
        m.weight_hh_l0.copy_(torch.from_numpy(a["Wh"].T))
        m.bias_ih_l0.copy_(torch.from_numpy(a["bx"]))
        m.bias_hh_l0.copy_(torch.from_numpy(a["bh"]))
    out, _ = m(torch.from_numpy(a["x"]))
    if cell == "gru":
        h, _ = bench.gru_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["bx"], a["bh"])
    else:
        forward = bench.rnn_forward if cell == "rnn" else bench.lstm_forward
        h, _ = forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["bx"] + a["bh"])
    assert np.max(np.abs(h - out.detach().numpy())) < 1e-12
    bench.numpy_step(cell, a)()


def test_blas_thread_control_restores():
    old = bench.set_numpy_blas_threads(1)
    if old is None:
        pytest.skip("this numpy's BLAS does not expose a thread setter")
    assert bench.set_numpy_blas_threads(old) == 1


def test_blas_info_names_both_libraries():
    info = bench.blas_info()
    assert info["numpy"].startswith(f"numpy {np.__version__}") and "kernel in use" in info["numpy"]
    assert info["torch"].startswith(f"torch {torch.__version__}") and "oneDNN" in info["torch"]


def test_tiny_run_end_to_end():
    threads_before = torch.get_num_threads()
    rows = bench.run_benchmark(sizes=((8, 2, 3),), threads=1, repeats=2)
    assert torch.get_num_threads() == threads_before  # restored
    assert [(r["dtype"], r["cell"]) for r in rows] == [(d, c) for d in bench.DTYPES for c in bench.CELLS]
    for r in rows:
        assert (r["H"], r["B"], r["T"], r["threads"]) == (8, 2, 3, 1)
        for key in ("ratio", "floor_ratio", "numpy_gflops", "spread"):
            assert math.isfinite(r[key]) and r[key] >= 0, key
        assert r["ratio"] == pytest.approx(r["numpy"].median / r["torch"].median)
    with pytest.raises(ValueError, match="cells must be among"):
        bench.run_benchmark(cells=("transformer",), sizes=((8, 2, 3),), repeats=1)


def test_main_prints_both_tables(capsys):
    bench.main(["--sizes", "8x2x3", "--repeats", "1", "--threads", "1", "2", "--cells", "lstm", "--dtypes", "float32"])
    out = capsys.readouterr().out
    assert "load average" in out and "kernel in use" in out and "floor" in out
    assert "1 thread (" in out and "2 threads (" in out
    assert len([line for line in out.splitlines() if line.startswith("lstm ")]) == 2
    with pytest.raises(SystemExit):
        bench.main(["--sizes", "8x2"])


def test_charlm_benchmark_sets_a_passive_wait_policy_only_when_none_is_chosen():
    from companion.torch import bench_charlm

    env = {}
    assert bench_charlm.ensure_passive_wait(env) and env == {"OMP_WAIT_POLICY": "PASSIVE"}
    assert not bench_charlm.ensure_passive_wait(env)  # set now: no second start
    chosen = {"OMP_WAIT_POLICY": "ACTIVE"}
    assert not bench_charlm.ensure_passive_wait(chosen) and chosen["OMP_WAIT_POLICY"] == "ACTIVE"


def test_charlm_benchmark_reports_throughput_and_machine():
    import time

    from companion.torch import bench_charlm

    text = bench_charlm.throughput(50_000, time.process_time(), time.perf_counter() - 0.5)
    assert text.endswith(" cores") and "k chars/s" in text
    assert float(text.split("k chars/s")[0]) <= 100  # 50 k characters in at least half a second
    note = bench_charlm.machine_note()
    assert "intra-op thread" in note and "OMP_WAIT_POLICY=" in note and "cores" in note


def test_charlm_targets_follow_the_largest_reference_budget_reached():
    from companion.torch import bench_charlm

    assert bench_charlm.target_for(60) is None
    assert bench_charlm.target_for(150) == 1.55 and bench_charlm.target_for(599) == 1.55
    assert bench_charlm.target_for(600) == 1.45 and bench_charlm.target_for(3600) == 1.45


def test_charlm_validation_batches_count_every_target_once():
    import torch

    from companion.torch import bench_charlm

    ids = torch.arange(1, 104)  # 103 characters: 102 targets, not a multiple of the 4 streams
    batches = bench_charlm.validation_batches(ids, batch_size=4, seq_len=10)
    assert bench_charlm.counted_targets(batches) == 102
    targets = torch.cat([y for _, y in batches], dim=1)  # (4 streams, 26 columns)
    kept = targets[targets != bench_charlm.IGNORE]
    assert sorted(kept.tolist()) == list(range(2, 104))  # each next character exactly once
    for x, y in batches:  # the input before each counted target is the previous character
        counted = y != bench_charlm.IGNORE
        assert torch.equal(y[counted] - 1, x[counted])
    assert [x.shape[1] for x, _ in batches] == [10, 10, 6]
    part = bench_charlm.validation_batches(ids, batch_size=4, seq_len=10, fraction=0.5)
    assert bench_charlm.counted_targets(part) == 4 * 13
    with pytest.raises(ValueError, match="fraction"):
        bench_charlm.validation_batches(ids, 4, 10, fraction=0)
    with pytest.raises(ValueError, match="two characters"):
        bench_charlm.validation_batches(ids[:1], 4, 10)


def test_charlm_final_evaluation_reserve_scales_the_timed_sample():
    from companion.torch import bench_charlm

    assert bench_charlm.final_eval_reserve(2.0, 1_000, 4_000, margin=1.5) == pytest.approx(12.0)
    with pytest.raises(ValueError, match="sample_targets"):
        bench_charlm.final_eval_reserve(1.0, 0, 10)


def test_charlm_segments_split_the_budget_between_evaluations():
    import itertools

    import torch

    from companion.torch import bench_charlm
    from companion.torch.schedules import BudgetSchedule

    now = [0.0]
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = BudgetSchedule(opt, 10.0, "linear", clock=lambda: now[0])
    source = ((torch.zeros(2, 3), torch.zeros(2, 3)) for _ in itertools.count())
    counter = [0]

    def tick(batches):  # fit trains on each batch: one second of clock per batch here
        n = 0
        for _ in batches:
            now[0] += 1.0
            n += 1
        return n

    segment = bench_charlm.segments(source, schedule, evaluations=2, clock=lambda: now[0], counter=counter)
    # half the budget: a batch (0.1 of it) is started only if it ends before 0.5, so 4 batches
    assert tick(segment()) == 4 and now[0] == 4.0
    assert tick(segment()) == 5 and now[0] == 9.0  # the second half, by the same rule
    assert tick(segment()) == 1  # past the budget: still one batch, never an empty epoch
    assert counter[0] == 10 * 6
    with pytest.raises(ValueError, match="evaluations"):
        bench_charlm.segments(source, schedule, evaluations=0)


def test_charlm_precision_is_bfloat16_only_where_the_cpu_has_it():
    import torch

    from companion.torch import bench_charlm

    assert bench_charlm.autocast_dtype("auto", bf16_supported=True) is torch.bfloat16
    assert bench_charlm.autocast_dtype("auto", bf16_supported=False) is None
    assert bench_charlm.autocast_dtype("bf16") is torch.bfloat16 and bench_charlm.autocast_dtype("fp32") is None
    assert bench_charlm.build_parser().parse_args([]).precision == "auto"
    with pytest.raises(ValueError, match="precision must be 'auto' or one of"):
        bench_charlm.autocast_dtype("fp16")


def test_charlm_presets_follow_the_budget_and_yield_to_the_command_line():
    from companion.torch import bench_charlm

    parse = bench_charlm.build_parser().parse_args
    short, long = dict(bench_charlm.PRESETS[150.0]), dict(bench_charlm.PRESETS[600.0])
    assert bench_charlm.preset_for(30) == short and bench_charlm.preset_for(599) == short
    assert bench_charlm.preset_for(600) == long and bench_charlm.preset_for(3600) == long
    args = bench_charlm.apply_preset(parse(["--seconds", "600"]))
    assert (args.dropout, args.lr, args.weight_decay) == (long["dropout"], long["lr"], long["weight_decay"])
    args = bench_charlm.apply_preset(parse(["--seconds", "600", "--dropout", "0.5", "--lr", "1e-3"]))
    assert (args.dropout, args.lr, args.weight_decay) == (0.5, 1e-3, long["weight_decay"])
    bench_charlm.preset_for(600)["dropout"] = 0.9  # a copy: the table itself is not changed
    assert bench_charlm.PRESETS[600.0]["dropout"] == long["dropout"]
