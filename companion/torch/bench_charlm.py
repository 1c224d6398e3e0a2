"""Benchmark: a 128-unit character LSTM on Tiny Shakespeare, trained for a fixed time on 2 CPU threads.

Run with::

    python -m companion.torch.bench_charlm [--seconds 150] [--threads 2]

It trains :class:`~companion.torch.models.RNNLanguageModel` with
:func:`~companion.torch.trainer.fit` (Adam, gradient clipping, stateful truncated
BPTT over 32 parallel streams) and prints the validation loss in nats per
character about every ``--eval-every`` seconds, measured on the last 10 % of the
text.  The time budget covers training *and* these evaluations.  Target:
<= 1.65 nats/char after 150 s; the exit status is 1 if it is missed.

Settings (chosen by short sweeps of batch size, sequence length, learning rate
and decay at a fixed number of characters): embeddings of 64, batch 32 x 64
characters, Adam with lr 0.01 multiplied by 0.8 after each evaluation, global
gradient-norm clipping at 5.  About 6 M training characters reach ~1.59 nats/char.

Because the budget is wall-clock time, the result depends on the machine: on a
machine whose cores are busy with other work the model sees fewer characters.
The characters processed, the characters per second and the CPU time used (in
cores) are printed with every evaluation, and the thread count, the OpenMP wait
policy and the load average in the header, so runs can be compared.

Threads.  OpenMP threads that *spin* while waiting for each other collapse when
another process wants the same cores: on a 2-core machine with one other busy
process, two threads in the default (active) wait policy trained at 6 k chars/s
with batches of up to 2.6 s, against about 55-70 k chars/s with
``OMP_WAIT_POLICY=PASSIVE`` and about 100 k chars/s with one thread (this model is
too small for a second thread to pay).  So the default is one thread, and when
run as a program the benchmark sets ``OMP_WAIT_POLICY=PASSIVE`` unless the
environment already chooses a policy: OpenMP reads it when torch is loaded, which
``python -m`` does before this module runs, so the process starts itself again
with the variable set.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from companion.reproducibility import seed_everything
from companion.torch.models import RNNLanguageModel
from companion.torch.trainer import evaluate_lm, fit

TARGET = 1.65  # nats/char


def ensure_passive_wait(environ: dict) -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` in ``environ`` unless a policy is chosen; True if it was set now."""
    if environ.get("OMP_WAIT_POLICY"):
        return False
    environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


def load_average() -> str:
    """The 1-minute load average, or a note that the platform has none."""
    return f"load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "no load average"


def machine_note() -> str:
    """Threads, OpenMP wait policy, cores and load: what decides the characters per second."""
    return (
        f"{torch.get_num_threads()} intra-op thread(s), OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, "
        f"{os.cpu_count()} cores, {load_average()}"
    )


def throughput(chars: int, cpu0: float, wall0: float) -> str:
    """``k chars/s`` and CPU use (in cores) since ``(cpu0, wall0)``."""
    wall = max(time.perf_counter() - wall0, 1e-9)
    return f"{chars / wall / 1e3:.0f}k chars/s, {(time.process_time() - cpu0) / wall:.2f} cores"


def load_text() -> str:
    """Tiny Shakespeare via :func:`companion.data.datasets.load_tiny_shakespeare` if it can provide it,
    else from ``$COMPANION_DATA/tinyshakespeare.txt`` (default: the ``shared/data`` folder beside the checkout)."""
    try:
        from companion.data.datasets import load_tiny_shakespeare

        return load_tiny_shakespeare()
    except (ImportError, OSError):  # no loader yet, or no offline copy and no network
        pass
    default = Path(__file__).resolve().parents[2].parent / "shared" / "data"
    folder = Path(os.environ.get("COMPANION_DATA", default))
    return (folder / "tinyshakespeare.txt").read_text(encoding="utf-8")


def stream_batches(
    ids: torch.Tensor, batch_size: int, seq_len: int, offset: int = 0
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Cut ``ids`` into ``batch_size`` contiguous streams; batch k holds columns [kT, (k+1)T) of every stream."""
    n = (ids.numel() - offset - 1) // batch_size
    X = ids[offset : offset + batch_size * n].view(batch_size, n)
    Y = ids[offset + 1 : offset + 1 + batch_size * n].view(batch_size, n)
    return [(X[:, k : k + seq_len], Y[:, k : k + seq_len]) for k in range(0, n - seq_len + 1, seq_len)]


def endless_batches(ids: torch.Tensor, batch_size: int, seq_len: int, generator: torch.Generator) -> Iterator:
    """Pass after pass over the training stream, each with a new random offset (new cut points)."""
    while True:
        offset = int(torch.randint(0, seq_len, (1,), generator=generator))
        yield from stream_batches(ids, batch_size, seq_len, offset)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=150.0, help="time budget (training + evaluations)")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (see the module docstring)")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--embed", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--lr-decay", type=float, default=0.8, help="learning rate factor after each evaluation")
    parser.add_argument("--clip", type=float, default=5.0)
    parser.add_argument("--eval-every", type=float, default=15.0, help="seconds of training between evaluations")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    seed_everything(args.seed, threads=args.threads)
    text = load_text()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    split = int(0.9 * ids.numel())
    train_ids, val_ids = ids[:split], ids[split:]
    val_batches = stream_batches(val_ids, 32, 256)

    model = RNNLanguageModel(len(chars), embed_dim=args.embed, hidden_size=args.hidden, cell="lstm")
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=args.lr_decay)
    source = endless_batches(train_ids, args.batch_size, args.seq_len, torch.Generator().manual_seed(args.seed))
    tokens = [0]

    def segment() -> Iterator:
        """One 'epoch' = about eval_every seconds of the endless stream, so validation runs on a clock."""
        start = time.perf_counter()
        while time.perf_counter() - start < args.eval_every:
            x, y = next(source)
            tokens[0] += x.numel()
            yield x, y

    print(
        f"char LSTM: V={len(chars)} E={args.embed} H={args.hidden} | train {train_ids.numel():,} chars, "
        f"val {val_ids.numel():,} chars | batch {args.batch_size} x {args.seq_len}, Adam lr {args.lr} "
        f"(x{args.lr_decay} per evaluation), clip {args.clip} | {args.seconds:.0f} s\n{machine_note()}",
        flush=True,
    )
    def report(h: dict) -> None:
        t, train, val = h["seconds"][-1], h["train_loss"][-1], h["val_loss"][-1]
        print(
            f"{t:7.1f} s  val {val:.4f} nats/char ({val / math.log(2):.3f} bits/char)  train {train:.4f}  "
            f"lr {h['lr'][-1]:.2e}  {tokens[0] / 1e6:.2f}M chars seen  {throughput(tokens[0], cpu0, wall0)}",
            flush=True,
        )

    initial = evaluate_lm(model, val_batches)[0]
    print(f"{0.0:7.1f} s  val {initial:.4f} nats/char", flush=True)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    history = fit(
        model,
        segment,
        val_batches,
        task="lm",
        optimizer=optimizer,
        epochs=10**6,
        clip=args.clip,
        scheduler=scheduler,
        max_seconds=args.seconds,
        restore_best=False,
        seed=args.seed,
        progress=False,
        callback=report,
    )
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    final = history["val_loss"][-1]
    print(
        f"final: val {final:.4f} nats/char after {wall:.1f} s wall ({cpu:.0f} s CPU, {cpu / wall:.2f} cores), "
        f"{tokens[0] / 1e6:.2f}M training chars ({tokens[0] / wall / 1e3:.0f}k chars/s); target <= {TARGET}: "
        f"{'met' if final <= TARGET else 'MISSED'}; {load_average()}",
        flush=True,
    )
    return 0 if final <= TARGET else 1


if __name__ == "__main__":
    if ensure_passive_wait(os.environ):
        # OpenMP read the wait policy when torch was loaded (``python -m`` imports the
        # companion.torch package first): start again with the variable set
        if __spec__ is not None:
            os.execv(sys.executable, [sys.executable, "-m", __spec__.name, *sys.argv[1:]])
        os.execv(sys.executable, [sys.executable, *sys.argv])
    sys.exit(main())
