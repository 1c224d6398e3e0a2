"""Benchmark: a character LSTM on Tiny Shakespeare, trained for a fixed time on the CPU.

Run with::

    python -m companion.torch.bench_charlm [--seconds 150] [--sample]

It trains :class:`~companion.torch.models.RNNLanguageModel` with
:func:`~companion.torch.trainer.fit` (AdamW, gradient clipping, stateful
truncated BPTT over parallel streams of the text) and prints the validation loss
in nats per character a few times, measured on the last 10 % of the text.  The
time budget covers training *and* the evaluations: the last evaluation, on the
whole validation split, is timed in advance and fits in the budget.  Targets:
<= 1.55 nats/char after 150 s and <= 1.45 after 600 s (:data:`TARGETS`); the
exit status is 1 if the target is missed.

Schedule.  The learning rate follows a warm-up and a cosine decay defined on
the *fraction of the time budget used* (:class:`~companion.torch.schedules.BudgetSchedule`),
so a slower or busier machine takes fewer steps along the same curve and still
ends at a small learning rate, instead of being cut off half-way.  Intermediate
evaluations use a quarter of the validation text (marked ``val~``) to save
time; the final one uses all of it.

Precision.  The matrix products of training run in bfloat16 under
:class:`torch.autocast` (``fit(autocast=torch.bfloat16)``; weights, AdamW and the
loss stay float32, and every evaluation is float32) where the CPU has bfloat16
instructions (:func:`~companion.torch.trainer.cpu_has_bfloat16`), else in
float32 (``--precision`` overrides).  On the 2-core AMD EPYC (AVX-512 BF16) this
was tuned on, one thread trained at about 25 k chars/s instead of 15 k: with the
same settings, 600 s saw 13.4 M characters instead of 7.7 M and ended at 1.437
nats/char instead of 1.485.

Settings (:data:`PRESETS`).  Swept on that machine, two runs at a time (so each
had another CPU-bound process beside it), bfloat16, 2 x 256 LSTM, batch 32 x 64,
final validation loss in nats/char:

=======  =======  =====  ============  ======
budget   dropout  lr     weight decay  val
=======  =======  =====  ============  ======
150 s    0.1      4e-3   0.01          1.5457
150 s    0.0      4e-3   0.01          1.5770
150 s    0.0      6e-3   0.01          1.5179
150 s    0.1      6e-3   0.01          1.5188 (batch 16)
600 s    0.1      4e-3   0.01          1.4525
600 s    0.2      4e-3   0.1           1.4371
600 s    0.2      6e-3   0.1           1.4267
600 s    0.3      4e-3   0.1           1.5065 at 358 s (0.2: 1.4695), stopped
=======  =======  =====  ============  ======

A short budget wants a high learning rate and no dropout (the model sees the
text about three times and hardly overfits); ten minutes, about thirteen passes,
want the same learning rate with dropout 0.2 and a stronger weight decay.

Because the budget is wall-clock time, the result depends on the machine.  The
characters processed, the characters per second and the CPU time used (in
cores) are printed with every evaluation, and the thread count, the OpenMP wait
policy and the load average in the header, so runs can be compared.

Threads.  OpenMP threads that *spin* while waiting for each other collapse when
another process wants the same cores: on a 2-core machine with one other busy
process, two threads in the default (active) wait policy trained at 6 k chars/s
with batches of up to 2.6 s, against about 55-70 k chars/s with
``OMP_WAIT_POLICY=PASSIVE`` and about 100 k chars/s with one thread (measured
on an earlier, 128-unit model; for these matrix sizes a second thread does not
pay even on an idle machine: 2 x 256 in bfloat16 ran at 20 k chars/s on two
threads and 27 k on one).  So the
default is one thread, and when run as a program the benchmark sets
``OMP_WAIT_POLICY=PASSIVE`` unless the environment already chooses a policy:
OpenMP reads it when torch is loaded, which ``python -m`` does before this
module runs, so the process starts itself again with the variable set.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import torch

from companion.data.vocab import Vocab
from companion.reproducibility import seed_everything
from companion.torch.models import RNNLanguageModel
from companion.torch.sampling import sample_text
from companion.torch.schedules import SHAPES, BudgetSchedule
from companion.torch.trainer import cpu_has_bfloat16, evaluate_lm, fit, save_checkpoint

#: (budget in seconds, validation target in nats/char): a budget is held to the target of the
#: largest reference budget it reaches (see :func:`target_for`).
TARGETS: tuple[tuple[float, float], ...] = ((150.0, 1.55), (600.0, 1.45))

#: reference budget -> the settings the sweeps chose for it (see the module docstring); a budget
#: uses those of the largest reference budget it reaches (the smallest's below them), and an
#: option given on the command line wins
PRESETS: dict[float, dict[str, float]] = {
    150.0: {"dropout": 0.0, "lr": 6e-3, "weight_decay": 0.01},
    600.0: {"dropout": 0.2, "lr": 6e-3, "weight_decay": 0.1},
}

#: --precision -> the autocast dtype handed to fit (None: plain float32); "auto" is resolved by
#: :func:`autocast_dtype`
PRECISIONS: dict[str, torch.dtype | None] = {"bf16": torch.bfloat16, "fp32": None}

IGNORE = -100  # target value evaluate_lm does not count (padding of the validation streams)


def reference_budget(seconds: float, budgets: Iterable[float]) -> float | None:
    """The largest of ``budgets`` that ``seconds`` reaches, or None if it reaches none."""
    return max((budget for budget in budgets if seconds >= budget), default=None)


def target_for(seconds: float) -> float | None:
    """The validation target for a budget: that of the largest reference budget <= ``seconds``, or None."""
    budget = reference_budget(seconds, dict(TARGETS))
    return None if budget is None else dict(TARGETS)[budget]


def preset_for(seconds: float) -> dict[str, float]:
    """The swept settings for a budget: those of the largest reference budget <= ``seconds`` (else the smallest)."""
    budget = reference_budget(seconds, PRESETS)
    return dict(PRESETS[min(PRESETS) if budget is None else budget])


def apply_preset(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the options left unset (None) on the command line from :func:`preset_for` the budget."""
    for name, value in preset_for(args.seconds).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def ensure_passive_wait(environ: dict) -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` in ``environ`` unless a policy is chosen; True if it was set now."""
    if environ.get("OMP_WAIT_POLICY"):
        return False
    environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


def autocast_dtype(precision: str, bf16_supported: bool | None = None) -> torch.dtype | None:
    """The dtype for ``fit(autocast=...)``: ``"auto"`` means bfloat16 where the CPU has bfloat16 instructions.

    Without them (no AVX-512 BF16 or AMX) bfloat16 products are emulated, many
    times slower than float32, so "auto" stays in float32 there.
    """
    if precision == "auto":
        if bf16_supported is None:
            bf16_supported = cpu_has_bfloat16()
        return torch.bfloat16 if bf16_supported else None
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be 'auto' or one of {sorted(PRECISIONS)}, got {precision!r}")
    return PRECISIONS[precision]


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
    """Cut ``ids`` into ``batch_size`` contiguous streams; batch k holds columns [kT, (k+1)T) of every stream.

    Training batches: the tail that does not fill a whole batch is dropped (the
    next pass starts at another ``offset``, so no text is always left out).
    """
    n = (ids.numel() - offset - 1) // batch_size
    X = ids[offset : offset + batch_size * n].view(batch_size, n)
    Y = ids[offset + 1 : offset + 1 + batch_size * n].view(batch_size, n)
    return [(X[:, k : k + seq_len], Y[:, k : k + seq_len]) for k in range(0, n - seq_len + 1, seq_len)]


def validation_batches(
    ids: torch.Tensor, batch_size: int, seq_len: int, fraction: float = 1.0
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Every next-character target of ``ids`` exactly once, in ``batch_size`` streams of consecutive batches.

    Targets are ``ids[1:]`` (the first character is only read).  Stream ``b``
    holds targets ``[b m, (b + 1) m)`` with ``m = ceil((len(ids) - 1) / batch_size)``;
    the end of the last stream is padded with the ignored target ``-100``, and
    the last batch may be shorter than ``seq_len``.  With ``fraction < 1`` only
    the first ``ceil(fraction m)`` columns of every stream are kept (a cheaper
    estimate spread over the whole split).
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    targets = ids.numel() - 1
    if targets < 1:
        raise ValueError("ids must hold at least two characters (one input and one target)")
    m = math.ceil(targets / batch_size)
    pad = batch_size * m - targets
    X = torch.cat([ids[:-1], ids.new_zeros(pad)]).view(batch_size, m)
    Y = torch.cat([ids[1:], ids.new_full((pad,), IGNORE)]).view(batch_size, m)
    width = math.ceil(fraction * m)
    return [(X[:, k : min(k + seq_len, width)], Y[:, k : min(k + seq_len, width)]) for k in range(0, width, seq_len)]


def counted_targets(batches: list[tuple[torch.Tensor, torch.Tensor]]) -> int:
    """Number of targets :func:`~companion.torch.trainer.evaluate_lm` counts in ``batches``."""
    return sum(int((y != IGNORE).sum()) for _, y in batches)


def endless_batches(ids: torch.Tensor, batch_size: int, seq_len: int, generator: torch.Generator) -> Iterator:
    """Pass after pass over the training stream, each with a new random offset (new cut points)."""
    while True:
        offset = int(torch.randint(0, seq_len, (1,), generator=generator))
        yield from stream_batches(ids, batch_size, seq_len, offset)


def final_eval_reserve(sample_seconds: float, sample_targets: int, all_targets: int, margin: float = 1.5) -> float:
    """Seconds to keep for the final evaluation: the timed cheap one scaled to the whole split, with a margin."""
    if sample_targets < 1:
        raise ValueError("sample_targets must be >= 1")
    return margin * sample_seconds * all_targets / sample_targets


def segments(
    source: Iterator,
    schedule: BudgetSchedule,
    evaluations: int,
    clock: Callable[[], float] = time.perf_counter,
    counter: list[int] | None = None,
) -> Callable[[], Iterator]:
    """A zero-argument function for ``fit``'s ``train_batches``: call k yields batches until ``k / evaluations``
    of the schedule's budget is used, setting the learning rate before each batch.

    A batch is not started if the previous one's duration would carry it past the
    segment's end, and every segment holds at least one batch.  ``counter[0]``
    accumulates the characters handed out.
    """
    if evaluations < 1:
        raise ValueError(f"evaluations must be >= 1, got {evaluations}")
    calls = [0]
    counter = [0] if counter is None else counter

    def segment() -> Iterator:
        calls[0] += 1
        end = min(calls[0], evaluations) / evaluations
        last = 0.0  # duration of the previous batch, as a fraction of the budget
        first = True
        while first or schedule.fraction() + last < end:
            first = False
            schedule.step()
            x, y = next(source)
            counter[0] += x.numel()
            started = clock()
            yield x, y  # fit trains on it before asking for the next one
            last = (clock() - started) / schedule.seconds

    return segment


class _Phases:
    """fit's ``val_batches``: the cheap subset for every evaluation but the last, then the whole split."""

    def __init__(self, part: list, whole: list, evaluations: int) -> None:
        self.part, self.whole, self.evaluations, self.calls = part, whole, evaluations, 0

    def __call__(self) -> list:
        self.calls += 1
        return self.whole if self.calls >= self.evaluations else self.part


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (defaults: the configuration chosen by the sweeps in the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=150.0, help="time budget (training + evaluations)")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads (see the module docstring)")
    p.add_argument("--cell", choices=("lstm", "gru", "rnn"), default="lstm")
    p.add_argument("--from-scratch", action="store_true", help="the course's own cells instead of torch.nn's")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--dropout", type=float, default=None,
                   help="on embeddings, between layers and before the head (default: the budget's preset)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the budget's preset)")
    p.add_argument("--schedule", choices=sorted(SHAPES), default="cosine")
    p.add_argument("--warmup", type=float, default=0.02, help="fraction of the budget spent warming up")
    p.add_argument("--final-lr", type=float, default=0.05, help="learning rate at the end, as a fraction of --lr")
    p.add_argument("--weight-decay", type=float, default=None,
                   help="AdamW decay of the weight matrices (default: the budget's preset)")
    p.add_argument("--clip", type=float, default=1.0, help="maximum global gradient norm")
    p.add_argument("--evals", type=int, default=5, help="evaluations during training (the last on the whole split)")
    p.add_argument("--val-fraction", type=float, default=0.25, help="share of the split used by the others")
    p.add_argument("--target", type=float, default=None, help="nats/char to reach (default: from TARGETS)")
    p.add_argument("--sample", type=int, nargs="?", const=300, default=0, metavar="CHARS",
                   help="print CHARS (default 300) sampled characters from the trained model")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--prime", default="ROMEO:\n")
    p.add_argument("--save", type=Path, default=None, help="write the trained model's checkpoint here")
    p.add_argument("--precision", choices=["auto", *sorted(PRECISIONS)], default="auto",
                   help="training matrix products in bfloat16 (autocast) or float32; auto: bf16 where the CPU "
                   "has bfloat16 instructions; evaluation is always float32")
    p.add_argument("--seed", type=int, default=0)
    return p


def check_options(args: argparse.Namespace) -> None:
    """Reject options the run could not honour, before any time is spent."""
    positive = ("seconds", "threads", "layers", "hidden", "embed", "batch_size", "seq_len", "lr", "clip", "evals")
    for name in positive:
        if not getattr(args, name) > 0:
            raise SystemExit(f"--{name.replace('_', '-')} must be > 0, got {getattr(args, name)}")
    if not 0 <= args.dropout < 1:
        raise SystemExit(f"--dropout must be in [0, 1), got {args.dropout}")
    if not 0 <= args.warmup < 1 or not 0 <= args.final_lr <= 1 or not 0 < args.val_fraction <= 1:
        raise SystemExit("--warmup must be in [0, 1), --final-lr in [0, 1] and --val-fraction in (0, 1]")
    if args.weight_decay < 0 or args.sample < 0 or args.temperature < 0:
        raise SystemExit("--weight-decay, --sample and --temperature must be >= 0")


def make_optimizer(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW that decays the weight matrices (and embeddings) but not the biases."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    rest = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=lr, betas=(0.9, 0.99))


def main(argv: list[str] | None = None) -> int:
    args = apply_preset(build_parser().parse_args(argv))
    check_options(args)
    target = args.target if args.target is not None else target_for(args.seconds)
    precision = autocast_dtype(args.precision)

    seed_everything(args.seed, threads=args.threads)
    text = load_text()
    vocab = Vocab.from_texts([text], level="char", specials=False)
    ids = torch.from_numpy(vocab.encode(text)).long()
    split = int(0.9 * ids.numel())
    train_ids, val_ids = ids[:split], ids[split:]
    whole_val = validation_batches(val_ids, 32, 256)
    part_val = validation_batches(val_ids, 32, 256, fraction=args.val_fraction)

    model = RNNLanguageModel(
        len(vocab), embed_dim=args.embed, hidden_size=args.hidden, num_layers=args.layers, cell=args.cell,
        dropout=args.dropout, from_scratch=args.from_scratch,
    )
    optimizer = make_optimizer(model, args.lr, args.weight_decay)
    source = endless_batches(train_ids, args.batch_size, args.seq_len, torch.Generator().manual_seed(args.seed))
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"char {args.cell.upper()}: V={len(vocab)} E={args.embed} H={args.hidden} x {args.layers} layer(s), "
        f"{n_params / 1e6:.2f}M parameters, dropout {args.dropout} | train {train_ids.numel():,} chars, "
        f"val {counted_targets(whole_val):,} targets | batch {args.batch_size} x {args.seq_len}, AdamW lr {args.lr} "
        f"(warm-up {args.warmup:.0%}, {args.schedule} to x{args.final_lr} over the budget), weight decay "
        f"{args.weight_decay}, clip {args.clip}, {'float32' if precision is None else 'bfloat16 autocast'} | "
        f"{args.seconds:.0f} s, target "
        f"{'none' if target is None else f'<= {target}'}\n{machine_note()}",
        flush=True,
    )

    wall0, cpu0 = time.perf_counter(), time.process_time()
    initial = evaluate_lm(model, part_val)[0]
    eval_seconds = time.perf_counter() - wall0
    reserve = final_eval_reserve(eval_seconds, counted_targets(part_val), counted_targets(whole_val))
    # the schedule spans what is left after the cheap first evaluation and the reserve for the last one
    schedule = BudgetSchedule(
        optimizer, max(args.seconds - eval_seconds - reserve, 1e-3), args.schedule,
        warmup=args.warmup, final=args.final_lr,
    )
    print(f"{eval_seconds:7.1f} s  val~ {initial:.4f} nats/char (untrained; {reserve:.1f} s kept for the last "
          "evaluation)", flush=True)
    chars = [0]

    def report(h: dict) -> None:
        t, train, val = time.perf_counter() - wall0, h["train_loss"][-1], h["val_loss"][-1]
        label = "val " if len(h["val_loss"]) >= args.evals else "val~"
        print(
            f"{t:7.1f} s  {label} {val:.4f} nats/char ({val / math.log(2):.3f} bits/char)  train {train:.4f}  "
            f"lr {h['lr'][-1]:.2e}  {chars[0] / 1e6:.2f}M chars seen  {throughput(chars[0], cpu0, wall0)}  "
            f"{load_average()}",
            flush=True,
        )

    history = fit(
        model,
        segments(source, schedule, args.evals, counter=chars),
        _Phases(part_val, whole_val, args.evals),
        task="lm",
        optimizer=optimizer,
        epochs=args.evals,
        clip=args.clip,
        restore_best=False,
        seed=args.seed,
        progress=False,
        callback=report,
        autocast=precision,
    )
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    final = history["val_loss"][-1]
    verdict = "no target" if target is None else f"target <= {target}: {'met' if final <= target else 'MISSED'}"
    print(
        f"final: val {final:.4f} nats/char on the whole split after {wall:.1f} s wall ({cpu:.0f} s CPU, "
        f"{cpu / wall:.2f} cores), {chars[0] / 1e6:.2f}M training chars ({chars[0] / wall / 1e3:.0f}k chars/s, "
        f"{chars[0] / train_ids.numel():.1f} passes); {verdict}; {load_average()}",
        flush=True,
    )
    if args.save is not None:
        save_checkpoint(args.save, model, optimizer, val_loss=final, argv=list(sys.argv[1:] if argv is None else argv))
    if args.sample:
        sample = sample_text(model, vocab, args.prime, args.sample, temperature=args.temperature, seed=args.seed)
        print(f"sample (temperature {args.temperature}, seed {args.seed}, {args.sample} chars after the prime):\n"
              f"{sample}", flush=True)
    return 0 if target is None or final <= target else 1


if __name__ == "__main__":
    if ensure_passive_wait(os.environ):
        # OpenMP read the wait policy when torch was loaded (``python -m`` imports the
        # companion.torch package first): start again with the variable set
        if __spec__ is not None:
            os.execv(sys.executable, [sys.executable, "-m", __spec__.name, *sys.argv[1:]])
        os.execv(sys.executable, [sys.executable, *sys.argv])
    sys.exit(main())
