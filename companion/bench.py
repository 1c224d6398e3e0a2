"""How fast are the NumPy cells?  ``python -m companion.bench``

Times one forward + backward pass of the NumPy RNN, GRU and LSTM
(:mod:`companion.numpy.rnn`, :mod:`~companion.numpy.gru`, :mod:`~companion.numpy.lstm`)
next to ``torch.nn.RNN`` / ``GRU`` / ``LSTM`` on the CPU, with the same weights, the
same data and the same thread count for both libraries, in float32 and float64.

Honest on a shared machine:

* the contenders are timed **interleaved** (one call of each per round, the order
  rotating), so a load that comes and goes slows all of them alike;
* every timing is reported as median and min–max over the rounds, and a row whose
  spread ``(max - min) / median`` exceeds 10 % for either library is marked
  *unreliable*;
* the load average and the BLAS libraries in use are printed with the tables;
* a third contender runs **only the matrix products** the cell needs (in NumPy,
  with preallocated outputs): the NumPy cell cannot be faster than this floor, so
  ``floor/torch`` says how much of the ratio is NumPy's BLAS and how much is the
  rest (element-wise work, Python, memory).

Matrix-product FLOPs of one forward + backward pass, with batch N, length T, input
size D, hidden size H and G = gates x H output columns (1, 3 or 4 gates), each
product ``(m, k) @ (k, n)`` costing ``2 m k n``:

* forward: the input projection ``(T N, D) @ (D, G)`` and T recurrent products
  ``(N, H) @ (H, G)``;
* backward: for each of the two, the gradient of its input and of its weight
  (products of the same size): ``dh_{t-1}`` per step, ``dx``, ``dWx`` and ``dWh``
  over all steps at once;

in total ``6 N T G (D + H)`` (the LSTM: ``24 N T H (D + H)``).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import glob
import os
import re
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from companion.numpy.gru import gru_backward, gru_forward
from companion.numpy.lstm import lstm_backward, lstm_forward
from companion.numpy.rnn import rnn_backward, rnn_forward

__all__ = [
    "CELLS",
    "GATES",
    "SPREAD_LIMIT",
    "Timing",
    "product_shapes",
    "matmul_flops",
    "lstm_matmul_flops",
    "summarize",
    "median_time",
    "time_interleaved",
    "cell_arrays",
    "numpy_step",
    "torch_step",
    "products_step",
    "set_numpy_blas_threads",
    "blas_info",
    "run_benchmark",
    "format_results",
    "main",
]

CELLS = ("rnn", "gru", "lstm")
GATES = {"rnn": 1, "gru": 3, "lstm": 4}  # gate blocks stacked along the weights' output axis
DEFAULT_SIZES = ((128, 32, 50), (256, 64, 100))  # (H, B, T), input size D = H
DTYPES = ("float32", "float64")
SPREAD_LIMIT = 0.10  # (max - min) / median above this marks a row unreliable


# -- arithmetic -----------------------------------------------------------------------------


def product_shapes(cell: str, N: int, T: int, D: int, H: int) -> list[tuple[int, int, int, int]]:
    """The matrix products of one forward + backward pass, as ``(count, m, k, n)`` for ``(m, k) @ (k, n)``."""
    G = GATES[cell] * H
    return [
        (1, T * N, D, G),  # input projection x_t Wx, all steps at once
        (T, N, H, G),  # recurrent h_{t-1} Wh, one per step
        (T, N, G, H),  # dh_{t-1} = da_t Wh^T, one per step
        (1, T * N, G, D),  # dx = dA Wx^T
        (1, D, T * N, G),  # dWx = X^T dA
        (1, H, T * N, G),  # dWh = H_prev^T dA
    ]


def matmul_flops(cell: str, N: int, T: int, D: int, H: int) -> int:
    """Floating-point operations in the matrix products of one forward + backward pass of ``cell``."""
    return sum(2 * count * m * k * n for count, m, k, n in product_shapes(cell, N, T, D, H))


def lstm_matmul_flops(N: int, T: int, D: int, H: int) -> int:
    """:func:`matmul_flops` of the LSTM: ``24 N T H (D + H)``."""
    return matmul_flops("lstm", N, T, D, H)


@dataclass(frozen=True)
class Timing:
    """Median and range of repeated timings, in seconds."""

    median: float
    lo: float
    hi: float

    @property
    def spread(self) -> float:
        """``(max - min) / median``: 0.1 means the runs differed by 10 % of the median."""
        return (self.hi - self.lo) / self.median if self.median > 0 else float("inf")


def summarize(seconds: list[float]) -> Timing:
    """The :class:`Timing` of a list of measurements."""
    if not seconds:
        raise ValueError("need at least one measurement")
    return Timing(statistics.median(seconds), min(seconds), max(seconds))


# -- timers -------------------------------------------------------------------------------


def median_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` calls, after ``warmup`` untimed calls."""
    return statistics.median(time_interleaved({"fn": fn}, repeats, warmup)["fn"])


def time_interleaved(
    fns: dict[str, Callable[[], object]], repeats: int = 7, warmup: int = 1
) -> dict[str, list[float]]:
    """Seconds of every call of each function, timed in rounds of one call each.

    The order rotates from round to round, so no function always runs right after
    the same neighbour, and a busy spell on the machine slows all of them alike.
    The garbage collector is paused while timing.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats} and {warmup}")
    names = list(fns)
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in names}
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(repeats):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                start = time.perf_counter()
                fns[name]()
                times[name].append(time.perf_counter() - start)
    finally:
        if was_enabled:
            gc.enable()
    return times


# -- the contenders -------------------------------------------------------------------------


def cell_arrays(cell: str, H: int, N: int, T: int, D: int, dtype: str = "float32", seed: int = 0) -> dict:
    """Random weights in torch's initial range ``U(-1/sqrt(H), 1/sqrt(H))``, inputs and upstream gradients."""
    rng = np.random.default_rng(seed)
    s, G, dt = 1.0 / np.sqrt(H), GATES[cell] * H, np.dtype(dtype)
    return {
        "x": rng.standard_normal((N, T, D)).astype(dt),
        "h0": np.zeros((N, H), dt),
        "Wx": rng.uniform(-s, s, (D, G)).astype(dt),
        "Wh": rng.uniform(-s, s, (H, G)).astype(dt),
        "bx": rng.uniform(-s, s, G).astype(dt),
        "bh": rng.uniform(-s, s, G).astype(dt),
        "dh": rng.standard_normal((N, T, H)).astype(dt),
    }


def numpy_step(cell: str, a: dict) -> Callable[[], None]:
    """A closure running the NumPy cell's sequence forward + backward once on ``a`` (from :func:`cell_arrays`)."""
    if cell == "gru":
        return lambda: gru_backward(a["dh"], gru_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["bx"], a["bh"])[1])
    b = a["bx"] + a["bh"]  # the RNN and the LSTM need only the sum of torch's two biases
    forward, backward = (rnn_forward, rnn_backward) if cell == "rnn" else (lstm_forward, lstm_backward)
    return lambda: backward(a["dh"], forward(a["x"], a["h0"], a["Wx"], a["Wh"], b)[1])


def torch_step(cell: str, a: dict) -> Callable[[], None]:
    """A closure running ``torch.nn.RNN/GRU/LSTM`` forward + backward (input and weight gradients), same weights."""
    import torch

    D, G = a["Wx"].shape
    module = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell]
    m = module(D, G // GATES[cell], batch_first=True).to(torch.from_numpy(a["x"]).dtype)
    with torch.no_grad():
        for name, value in (("weight_ih_l0", a["Wx"].T), ("weight_hh_l0", a["Wh"].T), ("bias_ih_l0", a["bx"])):
            getattr(m, name).copy_(torch.from_numpy(np.ascontiguousarray(value)))
        m.bias_hh_l0.copy_(torch.from_numpy(a["bh"]))
    x, dh = torch.from_numpy(a["x"]).requires_grad_(True), torch.from_numpy(a["dh"])

    def step() -> None:
        for p in (x, *m.parameters()):
            p.grad = None
        out, _ = m(x)
        out.backward(dh)

    return step


def products_step(cell: str, a: dict) -> Callable[[], None]:
    """A closure running only the matrix products of :func:`product_shapes` (outputs preallocated): the floor."""
    N, T, D = a["x"].shape
    rng, dt = np.random.default_rng(1), a["x"].dtype
    work = []
    for count, m, k, n in product_shapes(cell, N, T, D, a["Wh"].shape[0]):
        A, B = rng.standard_normal((m, k)).astype(dt), rng.standard_normal((k, n)).astype(dt)
        work.append((count, A, B, np.empty((m, n), dt)))

    def step() -> None:
        for count, A, B, C in work:
            for _ in range(count):
                np.matmul(A, B, out=C)

    return step


# -- the libraries ------------------------------------------------------------------------


def _openblas():
    """NumPy's bundled OpenBLAS (``numpy.libs``), or None if it cannot be found."""
    libdir = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in glob.glob(os.path.join(libdir, "*openblas*")):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def _openblas_function(name: str):
    """``openblas_<name>`` of NumPy's OpenBLAS under whichever prefix and suffix the wheel uses, or None."""
    lib = _openblas()
    for prefix in ("scipy_openblas", "openblas"):
        for suffix in ("64_", ""):
            fn = getattr(lib, f"{prefix}_{name}{suffix}", None) if lib is not None else None
            if fn is not None:
                return fn
    return None


def set_numpy_blas_threads(n: int) -> int | None:
    """Set the thread count of NumPy's OpenBLAS; returns the previous count, or None if not controllable.

    NumPy has no public API for this (``threadpoolctl`` does the same via ``ctypes``);
    without it the two libraries would not be compared on equal terms.
    """
    get, put = _openblas_function("get_num_threads"), _openblas_function("set_num_threads")
    if get is None or put is None:
        return None
    old = int(get())
    put(ctypes.c_int(int(n)))
    return old


def blas_info() -> dict[str, str]:
    """What does the arithmetic: NumPy's BLAS (build configuration and the kernel chosen at run time) and torch's."""
    import torch

    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    corename = _openblas_function("get_corename")
    core = "?"
    if corename is not None:
        corename.restype = ctypes.c_char_p
        core = corename().decode()
    config = torch.__config__.show()
    mkl = re.search(r"Math Kernel Library Version ([\w.]+)", config)
    onednn = re.search(r"(?:MKL-DNN|oneDNN) v([\w.]+)", config)
    fused = torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled
    return {
        "torch_lstm": "torch.nn.LSTM in float32 runs oneDNN's fused LSTM kernel; "
        "GRU, RNN and float64 run per-step ATen ops"
        if fused
        else "oneDNN disabled: every torch.nn cell runs per-step ATen ops",
        "numpy": f"numpy {np.__version__}: {blas.get('name', '?')} {blas.get('version', '')} "
        f"({blas.get('openblas configuration', 'no configuration string').strip()}), kernel in use: {core}",
        "torch": f"torch {torch.__version__}: MKL {mkl.group(1) if mkl else 'absent'}, "
        f"oneDNN {onednn.group(1) if onednn else 'absent'}, CPU capability {torch.backends.cpu.get_cpu_capability()}",
    }


def _load() -> str:
    if not hasattr(os, "getloadavg"):
        return "load average unavailable"
    return "load average %.2f, %.2f, %.2f (1, 5, 15 min)" % os.getloadavg()


# -- the benchmark ------------------------------------------------------------------------


def _row(cell: str, H: int, B: int, T: int, dtype: str, threads: int, times: dict[str, list[float]]) -> dict:
    """One result row from the raw timings of ``numpy``, ``torch`` and ``floor``."""
    t = {name: summarize(times[name]) for name in ("numpy", "torch", "floor")}
    spread = max(t["numpy"].spread, t["torch"].spread)
    return {
        "cell": cell, "H": H, "B": B, "T": T, "dtype": dtype, "threads": threads,
        "numpy": t["numpy"], "torch": t["torch"], "floor": t["floor"],
        "ratio": t["numpy"].median / t["torch"].median,
        "floor_ratio": t["floor"].median / t["torch"].median,
        "numpy_gflops": matmul_flops(cell, B, T, H, H) / t["numpy"].median / 1e9,
        "spread": spread,
        "reliable": spread <= SPREAD_LIMIT,
    }  # fmt: skip


def run_benchmark(
    cells: tuple[str, ...] = CELLS,
    sizes: tuple[tuple[int, int, int], ...] = DEFAULT_SIZES,
    dtypes: tuple[str, ...] = DTYPES,
    threads: int = 1,
    repeats: int = 7,
) -> list[dict]:
    """Time numpy, torch and the products-only floor for every dtype, cell and ``(H, B, T)`` (D = H).

    Returns
    -------
    list of dict
        Per row: ``cell, H, B, T, dtype, threads``; ``numpy``, ``torch``, ``floor``
        (:class:`Timing`); ``ratio`` (numpy / torch medians), ``floor_ratio``
        (floor / torch), ``numpy_gflops`` (product FLOPs / numpy median), ``spread``
        (the larger of numpy's and torch's) and ``reliable`` (spread <= 10 %).
    """
    import torch

    unknown = set(cells) - set(CELLS)
    if unknown:
        raise ValueError(f"cells must be among {CELLS}, got {sorted(unknown)}")
    old_torch = torch.get_num_threads()
    old_blas = set_numpy_blas_threads(threads)
    torch.set_num_threads(threads)
    try:
        rows = []
        for dtype in dtypes:
            for cell in cells:
                for H, B, T in sizes:
                    a = cell_arrays(cell, H, B, T, H, dtype)
                    contenders = {"numpy": numpy_step(cell, a), "torch": torch_step(cell, a)}
                    contenders["floor"] = products_step(cell, a)
                    rows.append(_row(cell, H, B, T, dtype, threads, time_interleaved(contenders, repeats)))
        return rows
    finally:
        torch.set_num_threads(old_torch)
        if old_blas is not None:
            set_numpy_blas_threads(old_blas)


def _ms(t: Timing) -> str:
    """``median (min-max)`` in milliseconds."""
    return f"{t.median * 1e3:.1f} ({t.lo * 1e3:.1f}-{t.hi * 1e3:.1f})"


def format_results(rows: list[dict]) -> str:
    """A plain-text table of :func:`run_benchmark`'s rows; unreliable rows say so."""
    header = (
        f"{'cell':<5} {'H':>4} {'B':>3} {'T':>4} {'dtype':<7} {'numpy ms (min-max)':>22} "
        f"{'torch ms (min-max)':>22} {'np/torch':>8} {'floor/torch':>11}  note"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        note = "" if r["reliable"] else f"unreliable: spread {100 * r['spread']:.0f} % > {100 * SPREAD_LIMIT:.0f} %"
        lines.append(
            f"{r['cell']:<5} {r['H']:>4} {r['B']:>3} {r['T']:>4} {r['dtype']:<7} {_ms(r['numpy']):>22} "
            f"{_ms(r['torch']):>22} {r['ratio']:>8.2f} {r['floor_ratio']:>11.2f}  {note}".rstrip()
        )
    return "\n".join(lines)


def _parse_sizes(parser: argparse.ArgumentParser, values: list[str] | None) -> tuple[tuple[int, int, int], ...]:
    if not values:
        return DEFAULT_SIZES
    try:
        sizes = tuple(tuple(int(v) for v in s.lower().split("x")) for s in values)
    except ValueError:
        parser.error(f"--sizes must look like 128x32x50, got {values}")
    if any(len(s) != 3 or min(s) < 1 for s in sizes):
        parser.error(f"--sizes must be three positive integers HxBxT, got {values}")
    return sizes


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: ``python -m companion.bench [--repeats R] [--threads N ...] [--cells ...]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds per row (median and range reported)")
    parser.add_argument("--threads", type=int, nargs="+", default=None, help="thread counts (default: 1, then 2)")
    parser.add_argument("--cells", nargs="+", choices=CELLS, default=list(CELLS))
    parser.add_argument("--dtypes", nargs="+", choices=DTYPES, default=list(DTYPES))
    parser.add_argument("--sizes", nargs="+", default=None, metavar="HxBxT", help="default: 128x32x50 256x64x100")
    args = parser.parse_args(argv)
    sizes = _parse_sizes(parser, args.sizes)
    cores = os.cpu_count() or 1
    threads = args.threads or ([1, 2] if cores > 1 else [1])
    controllable = set_numpy_blas_threads(1) is not None
    info = blas_info()
    print(
        f"RNN / GRU / LSTM forward + backward on the CPU, NumPy (companion.numpy) vs torch.nn, input size D = H.\n"
        f"Same weights and data; one call of each contender per round, order rotating; {args.repeats} rounds after "
        f"a warm-up;\ntimes are median (min-max); a row whose numpy or torch spread exceeds "
        f"{100 * SPREAD_LIMIT:.0f} % is marked unreliable.\n"
        f"floor = only the matrix products the cell needs, in NumPy: the NumPy cell cannot beat it.\n"
        f"{info['numpy']}\n  (thread count {'set per table' if controllable else 'NOT controllable: default'})\n"
        f"{info['torch']}\n  ({info['torch_lstm']})\n"
        f"{cores} cores, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, {_load()}\n",
        flush=True,
    )
    start = time.perf_counter()
    for n in threads:
        rows = run_benchmark(tuple(args.cells), sizes, tuple(args.dtypes), threads=n, repeats=args.repeats)
        print(f"{n} thread{'s' if n > 1 else ''} (numpy's BLAS and torch.set_num_threads), {_load()}")
        print(format_results(rows))
        print(flush=True)
    print(f"The benchmark took {time.perf_counter() - start:.0f} s; {_load()}.")


if __name__ == "__main__":
    main()
