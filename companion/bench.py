"""How fast is the NumPy LSTM?  ``python -m companion.bench``

Times one forward + backward pass of :func:`companion.numpy.lstm.lstm_forward` /
:func:`~companion.numpy.lstm.lstm_backward` next to ``torch.nn.LSTM`` (float32,
CPU, the same weights, the same thread count for both libraries, warmed up, the
median of several repeats) and reports

* the ratio numpy time / torch time, and
* the NumPy LSTM's achieved FLOP/s (counting only its matrix products) as a
  fraction of what one large ``np.matmul`` reaches in the same run: how much of
  the machine's matrix-multiply speed the Python loop and the element-wise work
  leave on the table.

Matrix-product FLOPs of one forward + backward pass, with batch N, length T,
input size D and hidden size H (each product ``(m, k) @ (k, n)`` costs ``2 m k n``):

* forward: input projection ``2 N T D 4H`` and recurrent products ``2 N T H 4H``;
* backward: ``dx``, ``dWx`` (``2 N T D 4H`` each), ``dh_{t-1}``, ``dWh`` (``2 N T H 4H`` each);

in total ``24 N T H (D + H)``.
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import os
import statistics
import time
from typing import Callable

import numpy as np

from companion.numpy.lstm import lstm_backward, lstm_forward

__all__ = [
    "lstm_matmul_flops",
    "median_time",
    "numpy_lstm_step",
    "torch_lstm_step",
    "time_interleaved",
    "set_numpy_blas_threads",
    "run_benchmark",
    "format_results",
    "main",
]

DEFAULT_SIZES = ((128, 32, 50), (256, 64, 100))  # (H, B, T), input size D = H


def lstm_matmul_flops(N: int, T: int, D: int, H: int) -> int:
    """Floating-point operations in the matrix products of one LSTM forward + backward pass."""
    return 24 * N * T * H * (D + H)


def median_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` calls, after ``warmup`` untimed calls."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats} and {warmup}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _openblas():
    """NumPy's bundled OpenBLAS (``numpy.libs``), or None if it cannot be found."""
    libdir = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in glob.glob(os.path.join(libdir, "*openblas*")):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def set_numpy_blas_threads(n: int) -> int | None:
    """Set the thread count of NumPy's OpenBLAS; returns the previous count, or None if not controllable.

    NumPy has no public API for this (``threadpoolctl`` does the same via ``ctypes``);
    without it the two libraries would not be compared on equal terms.
    """
    lib = _openblas()
    for prefix in ("scipy_openblas", "openblas"):
        for suffix in ("64_", ""):
            get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None) if lib is not None else None
            put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None) if lib is not None else None
            if get is not None and put is not None:
                old = int(get())
                put(ctypes.c_int(int(n)))
                return old
    return None


def _lstm_arrays(H: int, N: int, T: int, D: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    s = 1.0 / np.sqrt(H)
    f32 = np.float32
    return {
        "x": rng.standard_normal((N, T, D)).astype(f32),
        "h0": np.zeros((N, H), f32),
        "Wx": rng.uniform(-s, s, (D, 4 * H)).astype(f32),
        "Wh": rng.uniform(-s, s, (H, 4 * H)).astype(f32),
        "b": rng.uniform(-s, s, 4 * H).astype(f32),
        "dh": rng.standard_normal((N, T, H)).astype(f32),
    }


def numpy_lstm_step(arrays: dict[str, np.ndarray]) -> Callable[[], None]:
    """A closure running ``lstm_forward`` + ``lstm_backward`` once on ``arrays`` (from the same seed as torch's)."""
    a = arrays

    def step() -> None:
        _, cache = lstm_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"])
        lstm_backward(a["dh"], cache)

    return step


def torch_lstm_step(arrays: dict[str, np.ndarray]) -> Callable[[], None]:
    """A closure running ``torch.nn.LSTM`` forward + backward (input and weight gradients) with the same weights."""
    import torch

    D, H4 = arrays["Wx"].shape
    lstm = torch.nn.LSTM(D, H4 // 4, batch_first=True)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(arrays["Wx"].T))
        lstm.weight_hh_l0.copy_(torch.from_numpy(arrays["Wh"].T))
        lstm.bias_ih_l0.copy_(torch.from_numpy(arrays["b"]))
        lstm.bias_hh_l0.zero_()
    x = torch.from_numpy(arrays["x"]).requires_grad_(True)
    dh = torch.from_numpy(arrays["dh"])

    def step() -> None:
        for p in (x, *lstm.parameters()):
            p.grad = None
        out, _ = lstm(x)
        out.backward(dh)

    return step


def time_interleaved(fns: dict[str, Callable[[], object]], repeats: int = 5, warmup: int = 1) -> dict[str, float]:
    """Median seconds of each function, timed in alternation so that a busy machine slows all of them alike."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats} and {warmup}")
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def run_benchmark(
    sizes: tuple[tuple[int, int, int], ...] = DEFAULT_SIZES, threads: int = 1, repeats: int = 5
) -> list[dict[str, float]]:
    """Time numpy vs torch for every ``(H, B, T)`` in ``sizes`` with ``threads`` threads in both libraries.

    Returns
    -------
    list of dict
        Per size: ``H, B, T, threads, numpy_s, torch_s, ratio`` (numpy / torch),
        ``numpy_gflops`` (matrix-product FLOPs / numpy time), ``matmul_gflops``
        (one ``(B T, H) @ (H, 4H)`` product, the shape of the input projection) and
        ``flop_fraction`` (their quotient).
    """
    import torch

    old_torch = torch.get_num_threads()
    old_blas = set_numpy_blas_threads(threads)
    torch.set_num_threads(threads)
    try:
        results = []
        for H, B, T in sizes:
            arrays = _lstm_arrays(H, B, T, H)
            # the reference product has the shape of the LSTM's input projection; timed in the same rounds
            A = np.random.default_rng(1).standard_normal((B * T, H)).astype(np.float32)
            W, C = arrays["Wx"], np.empty((B * T, 4 * H), np.float32)
            t = time_interleaved(
                {
                    "numpy": numpy_lstm_step(arrays),
                    "torch": torch_lstm_step(arrays),
                    "matmul": lambda A=A, W=W, C=C: np.matmul(A, W, out=C),
                },
                repeats,
            )
            numpy_s, torch_s = t["numpy"], t["torch"]
            flops = lstm_matmul_flops(B, T, H, H)
            peak = 2.0 * B * T * H * 4 * H / t["matmul"]
            achieved = flops / numpy_s
            results.append(
                {
                    "H": H,
                    "B": B,
                    "T": T,
                    "threads": threads,
                    "numpy_s": numpy_s,
                    "torch_s": torch_s,
                    "ratio": numpy_s / torch_s,
                    "numpy_gflops": achieved / 1e9,
                    "matmul_gflops": peak / 1e9,
                    "flop_fraction": achieved / peak,
                }
            )
        return results
    finally:
        torch.set_num_threads(old_torch)
        if old_blas is not None:
            set_numpy_blas_threads(old_blas)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def format_results(results: list[dict[str, float]]) -> str:
    """A plain-text table of :func:`run_benchmark`'s results."""
    header = (
        f"{'H':>5} {'B':>4} {'T':>4} {'threads':>7} {'numpy':>10} {'torch':>10} {'np/torch':>8} "
        f"{'numpy GFLOP/s':>13} {'matmul GFLOP/s':>14} {'fraction':>8}"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        lines.append(
            f"{r['H']:>5} {r['B']:>4} {r['T']:>4} {r['threads']:>7} {_ms(r['numpy_s']):>10} {_ms(r['torch_s']):>10} "
            f"{r['ratio']:>8.2f} {r['numpy_gflops']:>13.1f} {r['matmul_gflops']:>14.1f} {r['flop_fraction']:>8.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: ``python -m companion.bench [--repeats R] [--threads N ...]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per measurement (median reported)")
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=None,
        help="thread counts to try, the same for numpy's BLAS and torch (default: all cores, then 1)",
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        default=None,
        metavar="HxBxT",
        help="problem sizes as hidden x batch x length (default: 128x32x50 256x64x100)",
    )
    args = parser.parse_args(argv)
    try:
        sizes = tuple(tuple(int(v) for v in s.lower().split("x")) for s in args.sizes) if args.sizes else DEFAULT_SIZES
    except ValueError:
        parser.error(f"--sizes must look like 128x32x50, got {args.sizes}")
    if any(len(s) != 3 or min(s) < 1 for s in sizes):
        parser.error(f"--sizes must be three positive integers HxBxT, got {args.sizes}")
    cores = os.cpu_count() or 1
    load = ", load average %.1f" % os.getloadavg()[0] if hasattr(os, "getloadavg") else ""
    threads = args.threads or ([cores, 1] if cores > 1 else [1])
    import torch

    blas = "controllable" if set_numpy_blas_threads(cores) is not None else "NOT controllable (numpy BLAS default)"
    print(
        f"LSTM forward + backward, float32, CPU, input size D = H; median of {args.repeats} after warm-up\n"
        f"(numpy and torch timed in alternation, the same weights and data).\n"
        f"numpy {np.__version__} (OpenBLAS threads {blas}), torch {torch.__version__}, {cores} cores{load}.\n"
        f"Each row uses the same thread count for numpy's BLAS and torch (torch.set_num_threads).\n"
        f"fraction = numpy LSTM matmul FLOP/s / np.matmul FLOP/s on a (B*T, H) @ (H, 4H) product.\n"
    )
    for n in threads:
        print(format_results(run_benchmark(sizes, threads=n, repeats=args.repeats)))
        print()


if __name__ == "__main__":
    main()
