"""A small, seeded training loop: clipping, stateful truncated BPTT, validation, early stopping, checkpoints.

:func:`fit` handles four tasks, which fix how a batch is read and what is measured:

- ``"lm"``: batches ``(x (N, T) long, y (N, T) long)``; ``logits (N, T, V), state = model(x, state)``;
  metric: perplexity.
- ``"classification"``: batches ``(x, y (N,) long)`` or ``(x, lengths, y)``;
  ``logits (N, C) = model(x)`` or ``model(x, lengths)``; metric: accuracy.
- ``"regression"``: batches ``(x, y)`` or ``(x, lengths, y)``; ``pred = model(x)`` (or ``model(x, lengths)``),
  of the same shape as ``y``; metric: RMSE.
- ``"seq2seq"``: batches ``(src, src_lengths, tgt_in, tgt_out)`` or ``(src, tgt_in, tgt_out)``;
  ``logits (N, T, V) = model(src, tgt_in, src_lengths)``; metric: token accuracy (teacher forcing).

Language models are trained with *stateful truncated BPTT*: consecutive batches
are consecutive chunks of a few long streams (row ``n`` of batch ``i + 1``
continues row ``n`` of batch ``i``), the final state of one batch starts the next,
and it is **detached** so gradients flow back at most ``T`` steps.

Losses are averaged the honest way: every reported loss is the sum of per-token
(or per-example) losses over the whole set divided by the number of tokens, and
perplexity is ``exp`` of that mean -- not a mean of per-batch values.
"""

from __future__ import annotations

import copy
import math
import os
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from companion.numpy.losses import perplexity
from companion.torch._validate import check_choice, check_count

__all__ = [
    "History",
    "fit",
    "evaluate",
    "evaluate_lm",
    "evaluate_classifier",
    "evaluate_regression",
    "evaluate_seq2seq",
    "detach_state",
    "save_checkpoint",
    "load_checkpoint",
    "cpu_has_bfloat16",
]

TASKS = ("lm", "classification", "regression", "seq2seq")
METRIC = {
    "lm": "val_perplexity",
    "classification": "val_accuracy",
    "regression": "val_rmse",
    "seq2seq": "val_token_accuracy",
}
Batches = Iterable[Any] | Callable[[], Iterable[Any]]


class History(dict):
    """Per-epoch records returned by :func:`fit`: a ``dict`` of equal-length lists.

    Keys: ``epoch``, ``batches`` (batches run that epoch), ``train_loss``, ``val_loss``,
    the task's metric (``val_perplexity`` / ``val_accuracy`` / ``val_rmse`` / ``val_token_accuracy``),
    ``grad_norm`` (mean global gradient norm before clipping), ``lr`` and ``seconds``
    (wall time since the start of training at the end of the epoch).

    Attributes
    ----------
    stop_reason : str
        ``"epochs"``, ``"early_stopping"`` or ``"max_seconds"``.
    best_epoch : int or None
        Epoch with the lowest validation loss.
    """

    def __init__(self, metric: str) -> None:
        keys = ["epoch", "batches", "train_loss", "val_loss", metric, "grad_norm", "lr", "seconds"]
        super().__init__({k: [] for k in keys})
        self.metric = metric
        self.stop_reason = "epochs"
        self.best_epoch: int | None = None

    def table(self, digits: int = 4) -> str:
        """The history as a plain-text table (timings left out so it is reproducible)."""
        cols = ["epoch", "train_loss", "val_loss", self.metric]
        lines = ["  ".join(f"{c:>14}" for c in cols)]
        for row in zip(*(self[c] for c in cols)):
            lines.append("  ".join(f"{v:>14}" if isinstance(v, int) else f"{v:>14.{digits}f}" for v in row))
        return "\n".join(lines)


def detach_state(state: Any) -> Any:
    """Cut the graph behind a recurrent state (a tensor, a tuple/list of tensors, or None), keeping its values."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    raise TypeError(f"state must be a tensor, a tuple/list of tensors or None, got {type(state).__name__}")


def _state_batch_size(state: Any) -> int | None:
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.shape[1] if state.dim() >= 2 else None
    return _state_batch_size(state[0])


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _iterate(batches: Batches, name: str) -> Iterable[Any]:
    """A fresh pass over ``batches``: a re-iterable (list, DataLoader) or a zero-argument callable."""
    if callable(batches) and not hasattr(batches, "__iter__"):
        return batches()
    if iter(batches) is batches:  # a one-shot iterator/generator would be empty from the second epoch on
        raise TypeError(
            f"{name} is a one-shot iterator; pass a list, a DataLoader or a function that returns a fresh iterable"
        )
    return batches


def _length(batches: Batches) -> int | None:
    try:
        return len(batches)  # type: ignore[arg-type]
    except TypeError:
        return None


def _as_tensor(x: Any) -> Any:
    """NumPy arrays (e.g. from :mod:`companion.data.batching`) become tensors sharing their memory."""
    return torch.from_numpy(x) if isinstance(x, np.ndarray) else x


def _unpack(batch: Any, task: str) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Return (x, lengths or None, y) from a batch tuple."""
    if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
        raise ValueError(f"a {task} batch must be a tuple (x, y) or (x, lengths, y), got {type(batch).__name__}")
    if task == "lm" and len(batch) != 2:
        raise ValueError("a language-model batch must be a pair (x, y) of (N, T) token tensors")
    batch = [_as_tensor(b) for b in batch]
    if len(batch) == 2:
        return batch[0], None, batch[1]
    return batch[0], batch[1], batch[2]


def _to(x: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    return None if x is None else x.to(device)


def _first(out: Any) -> torch.Tensor:
    """Models may return ``output`` or ``(output, state)``; keep the output."""
    return out[0] if isinstance(out, tuple) else out


def _lm_sums(logits: Any, y: torch.Tensor, ignore_index: int) -> tuple[torch.Tensor, int]:
    """Sum of token NLLs and number of counted tokens."""
    if not isinstance(logits, torch.Tensor) or logits.dim() != 3 or logits.shape[:2] != y.shape:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"an LM must return logits of shape (N, T, V) = {tuple(y.shape)} + (V,), got {shape}")
    flat = logits.reshape(-1, logits.shape[-1])
    if flat.dtype in (torch.bfloat16, torch.float16):  # autocast's logits: the softmax and the sum in float32
        flat = flat.float()
    nll = F.cross_entropy(flat, y.reshape(-1), ignore_index=ignore_index, reduction="sum")
    return nll, int((y != ignore_index).sum())


def _regression_check(pred: torch.Tensor, y: torch.Tensor) -> None:
    if pred.shape != y.shape:  # no silent broadcast of (N, 1) against (N,)
        raise ValueError(f"prediction shape {tuple(pred.shape)} does not match target shape {tuple(y.shape)}")


@torch.no_grad()
def evaluate_lm(
    model: nn.Module, batches: Batches, *, stateful: bool = True, ignore_index: int = -100
) -> tuple[float, float]:
    """Token-weighted mean NLL and perplexity of a language model over a whole set.

    ``mean_nll = sum of -log p(y_t | ...) over every counted token / number of tokens``
    and ``perplexity = exp(mean_nll)``.  (Averaging per-batch perplexities instead
    would over-weight small batches and, by Jensen's inequality, overstate perplexity.)

    Parameters
    ----------
    model : nn.Module
        ``logits (N, T, V), state = model(x (N, T), state)``.
    batches : iterable of (x, y)
        Token tensors (N, T); targets equal to ``ignore_index`` are not counted.
    stateful : bool
        Carry the state from one batch to the next (for a contiguous stream).

    Returns
    -------
    mean_nll : float
        In nats per token.
    perplexity : float
    """
    was_training = model.training
    model.eval()
    device = _device_of(model)
    total, count, state = 0.0, 0, None
    try:
        for batch in _iterate(batches, "batches"):
            x, _, y = _unpack(batch, "lm")
            x, y = x.to(device), y.to(device)
            if not stateful or _state_batch_size(state) != x.shape[0]:
                state = None
            logits, state = model(x, state)
            nll, n = _lm_sums(logits, y, ignore_index)
            total += float(nll)
            count += n
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("no tokens to evaluate (empty batches or every target ignored)")
    mean = total / count
    if not math.isfinite(mean):  # nan stays nan; +inf (a diverged model) has perplexity inf
        return mean, mean
    return mean, perplexity(mean)


def _call(model: nn.Module, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    return _first(model(x) if lengths is None else model(x, lengths))


@torch.no_grad()
def evaluate_classifier(model: nn.Module, batches: Batches) -> tuple[float, float]:
    """Mean cross-entropy per example and accuracy over a whole set of ``(x[, lengths], y)`` batches."""
    was_training = model.training
    model.eval()
    device = _device_of(model)
    total, correct, count = 0.0, 0, 0
    try:
        for batch in _iterate(batches, "batches"):
            x, lengths, y = _unpack(batch, "classification")
            logits = _call(model, x.to(device), lengths)
            y = y.to(device)
            total += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(-1) == y).sum())
            count += y.numel()
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("no examples to evaluate")
    return total / count, correct / count


def _unpack_seq2seq(batch: Any) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor]:
    if not isinstance(batch, (tuple, list)) or len(batch) not in (3, 4):
        raise ValueError(
            "a seq2seq batch must be a tuple (src, tgt_in, tgt_out) or (src, src_lengths, tgt_in, tgt_out)"
        )
    batch = [_as_tensor(b) for b in batch]
    if len(batch) == 3:
        return batch[0], None, batch[1], batch[2]
    return batch[0], batch[1], batch[2], batch[3]


@torch.no_grad()
def evaluate_seq2seq(model: nn.Module, batches: Batches, *, ignore_index: int = -100) -> tuple[float, float]:
    """Token-weighted mean NLL and token accuracy (teacher forcing) over seq2seq batches.

    Batches are ``(src, src_lengths, tgt_in, tgt_out)`` or ``(src, tgt_in, tgt_out)``.
    """
    was_training = model.training
    model.eval()
    device = _device_of(model)
    total, correct, count = 0.0, 0, 0
    try:
        for batch in _iterate(batches, "batches"):
            src, lengths, tgt_in, y = _unpack_seq2seq(batch)
            logits = _first(model(src.to(device), tgt_in.to(device), lengths))
            y = y.to(device)
            nll, n = _lm_sums(logits, y, ignore_index)
            total += float(nll)
            count += n
            correct += int(((logits.argmax(-1) == y) & (y != ignore_index)).sum())
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("no target tokens to evaluate")
    return total / count, correct / count


@torch.no_grad()
def evaluate_regression(model: nn.Module, batches: Batches) -> tuple[float, float]:
    """Mean squared error per target element and its square root (RMSE) over a whole set."""
    was_training = model.training
    model.eval()
    device = _device_of(model)
    total, count = 0.0, 0
    try:
        for batch in _iterate(batches, "batches"):
            x, lengths, y = _unpack(batch, "regression")
            pred = _call(model, x.to(device), lengths)
            y = y.to(device)
            _regression_check(pred, y)
            total += float(((pred - y) ** 2).sum())
            count += y.numel()
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("no examples to evaluate")
    return total / count, math.sqrt(total / count)


def evaluate(model: nn.Module, batches: Batches, task: str = "lm", **kwargs: Any) -> tuple[float, float]:
    """``(mean loss, metric)`` for ``task``: perplexity (lm), accuracy (classification), RMSE (regression)
    or token accuracy (seq2seq)."""
    check_choice("task", task, TASKS)
    if task == "lm":
        return evaluate_lm(model, batches, **kwargs)
    if task == "seq2seq":
        return evaluate_seq2seq(model, batches, ignore_index=kwargs.get("ignore_index", -100))
    if task == "classification":
        return evaluate_classifier(model, batches)
    return evaluate_regression(model, batches)


def save_checkpoint(
    path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer | None = None, **extra: Any
) -> None:
    """Save model (and optimizer) state with :func:`torch.save`; ``extra`` must hold plain Python values.

    The file is written to a temporary name and renamed, so a crash never leaves half a checkpoint.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "model": model.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "extra": extra,
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(
    path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> dict[str, Any]:
    """Restore what :func:`save_checkpoint` wrote, loading with ``weights_only=True`` (no arbitrary code).

    Returns
    -------
    dict
        The ``extra`` values saved with the checkpoint.
    """
    payload = torch.load(Path(path), map_location=_device_of(model), weights_only=True)
    model.load_state_dict(payload["model"])
    if optimizer is not None:
        if payload["optimizer"] is None:
            raise ValueError(f"{path} holds no optimizer state")
        optimizer.load_state_dict(payload["optimizer"])
    return payload["extra"]


def cpu_has_bfloat16() -> bool:
    """True if this CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX) and torch's kernels may use it.

    Elsewhere bfloat16 products are emulated, many times slower than float32.  Torch
    is asked twice: oneDNN's view of the CPU, and the kernel level ATen runs at (an
    AVX2 level, chosen with ``ATEN_CPU_CAPABILITY``, rules bfloat16 out).
    """
    level = torch.backends.cpu.get_cpu_capability()
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()) and level.startswith("AVX512")


def _warn_if_emulated(autocast: torch.dtype | None, device: torch.device) -> None:
    if autocast is not None and device.type == "cpu" and not cpu_has_bfloat16():
        warnings.warn(
            "autocast=torch.bfloat16 on a CPU without bfloat16 instructions: the products are emulated and "
            "run many times slower than in float32 (pass autocast=None)",
            RuntimeWarning,
            stacklevel=3,
        )


def _batch_loss(
    model: nn.Module,
    batch: Any,
    task: str,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None,
    state: Any,
    ignore_index: int,
    device: torch.device,
) -> tuple[torch.Tensor, int, Any]:
    """Training loss of one batch, the number of targets it averages over, and (LM) the detached new state."""
    if task == "seq2seq":
        src, lengths, tgt_in, y = _unpack_seq2seq(batch)
        out, y = _first(model(src.to(device), tgt_in.to(device), lengths)), y.to(device)
    else:
        x, lengths, y = _unpack(batch, task)
        x, y = x.to(device), y.to(device)
        if task == "lm":
            if _state_batch_size(state) != x.shape[0]:
                state = None  # first batch, or the batch size changed: no stream to continue
            out, state = model(x, state)
            state = detach_state(state)  # truncated BPTT: the next batch cannot backprop into this one
        else:
            out = _call(model, x, _to(lengths, device))
    if task in ("lm", "seq2seq"):
        if loss_fn is None:
            nll, n = _lm_sums(out, y, ignore_index)
            return nll / max(n, 1), n, state
        return loss_fn(out, y), int((y != ignore_index).sum()), state
    if task == "regression":
        _regression_check(out, y)
        return loss_fn(out, y), y.numel(), state  # type: ignore[misc]
    return loss_fn(out, y), y.shape[0], state  # type: ignore[misc]


def _eval_kwargs(task: str, stateful: bool, ignore_index: int) -> dict[str, Any]:
    if task == "lm":
        return {"stateful": stateful, "ignore_index": ignore_index}
    if task == "seq2seq":
        return {"ignore_index": ignore_index}
    return {}


def _quiet() -> bool:
    return "PYTEST_CURRENT_TEST" in os.environ  # progress bars would only clutter test logs


def fit(
    model: nn.Module,
    train_batches: Batches,
    val_batches: Batches | None = None,
    *,
    task: str = "lm",
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    epochs: int = 10,
    clip: float | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    stateful: bool = True,
    ignore_index: int = -100,
    patience: int | None = None,
    restore_best: bool = True,
    checkpoint_path: str | os.PathLike | None = None,
    max_seconds: float | None = None,
    scheduler: Any = None,
    seed: int | None = 0,
    progress: bool = True,
    callback: Callable[[History], None] | None = None,
    autocast: torch.dtype | None = None,
) -> History:
    """Train ``model`` and return its per-epoch :class:`History`.

    Parameters
    ----------
    model : nn.Module
    train_batches, val_batches : list, DataLoader, or zero-argument callable returning an iterable
        Batches as in the module table (tensors or NumPy arrays); iterated once per epoch.
    task : {"lm", "classification", "regression", "seq2seq"}
    optimizer : torch.optim.Optimizer, optional
        Default ``Adam(model.parameters(), lr)``.
    epochs : int
    clip : float, optional
        Rescale the gradients so their global L2 norm is at most ``clip``.
    loss_fn : callable, optional
        Training loss ``loss_fn(output, y) -> scalar``; default cross-entropy (token mean for "lm" and
        "seq2seq") or MSE.
        Validation always reports the task's own loss (NLL or MSE), summed over the set and divided by its size.
    stateful : bool
        LM only: carry the (detached) state between consecutive batches (truncated BPTT over a stream).
        The state is reset at each epoch start and whenever the batch size changes.
    ignore_index : int
        LM / seq2seq targets with this value are not counted (pass the padding index for padded targets).
    patience : int, optional
        Stop after this many epochs without a lower validation loss.
    restore_best : bool
        With validation data, end with the weights of the best epoch.
    checkpoint_path : path, optional
        Save model + optimizer each time the validation loss improves.
    max_seconds : float, optional
        Time budget: no new batch starts once it is spent; the epoch then ends with a validation.
    scheduler : optional
        LR scheduler stepped once per epoch (with the validation loss for ReduceLROnPlateau).
    seed : int or None
        Seeds torch before training (dropout masks, shuffling done with torch's global generator).
    progress : bool
        Show a tqdm bar (never shown under pytest).
    callback : callable, optional
        Called with the history after every epoch's record (e.g. to print or plot as training goes).
    autocast : torch.dtype, optional
        Mixed precision for the training batches: ``torch.bfloat16`` runs the matrix products of the
        forward pass (and so of the backward pass) in bfloat16 under :class:`torch.autocast`, while the
        weights, the optimiser and the loss stay float32.  Validation always runs in full precision.
        On a CPU this pays only where :func:`cpu_has_bfloat16` (a warning says so elsewhere).

    Returns
    -------
    History
    """
    check_choice("task", task, TASKS)
    if autocast not in (None, torch.bfloat16):  # float16 would need a gradient scaler against underflow
        raise ValueError(f"autocast must be None or torch.bfloat16, got {autocast!r}")
    check_count("epochs", epochs)
    if clip is not None and not clip > 0:
        raise ValueError(f"clip must be > 0 (the maximum global gradient norm), got {clip}")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be > 0, got {max_seconds}")
    if patience is not None:
        check_count("patience", patience)
        if val_batches is None:
            raise ValueError("early stopping (patience) needs val_batches")
    if seed is not None:
        torch.manual_seed(seed)
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    if loss_fn is None:
        loss_fn = {"lm": None, "seq2seq": None, "classification": F.cross_entropy, "regression": F.mse_loss}[task]
    device = _device_of(model)
    _warn_if_emulated(autocast, device)
    history = History(METRIC[task])
    best_loss, best_state, bad_epochs = math.inf, None, 0
    n_batches = _length(train_batches)
    bar = tqdm(
        total=epochs * n_batches if n_batches else None,
        disable=not progress or _quiet(),
        unit="batch",
        dynamic_ncols=True,
    )
    start = time.perf_counter()
    out_of_time = False
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            state = None
            loss_sum, loss_count, norm_sum, done = 0.0, 0, 0.0, 0
            for batch in _iterate(train_batches, "train_batches"):
                if max_seconds is not None and time.perf_counter() - start >= max_seconds:
                    out_of_time = True
                    break
                optimizer.zero_grad(set_to_none=True)
                if task == "lm" and not stateful:
                    state = None
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast is not None):
                    loss, n, state = _batch_loss(model, batch, task, loss_fn, state, ignore_index, device)
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"training loss became {float(loss.detach())} at epoch {epoch}, batch {done + 1}"
                    )
                loss.backward()
                params = [p for p in model.parameters() if p.grad is not None]
                if not params:
                    raise ValueError("no parameter of the model received a gradient from the loss")
                if clip is not None:
                    norm = torch.nn.utils.clip_grad_norm_(params, clip)
                else:
                    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in params]))
                optimizer.step()
                loss_sum += float(loss.detach()) * n
                loss_count += n
                norm_sum += float(norm)
                done += 1
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{loss_sum / max(loss_count, 1):.4f}", refresh=False)
            if done == 0:
                if out_of_time:
                    history.stop_reason = "max_seconds"
                    break
                raise ValueError("train_batches produced no batches")
            val_loss = val_metric = math.nan
            if val_batches is not None:
                val_loss, val_metric = evaluate(model, val_batches, task, **_eval_kwargs(task, stateful, ignore_index))
                if not math.isfinite(val_loss):
                    raise FloatingPointError(
                        f"validation loss became {val_loss} at epoch {epoch}: the model diverged "
                        "(lower the learning rate or clip the gradients)"
                    )
            history["epoch"].append(epoch)
            history["batches"].append(done)
            history["train_loss"].append(loss_sum / max(loss_count, 1))
            history["val_loss"].append(val_loss)
            history[history.metric].append(val_metric)
            history["grad_norm"].append(norm_sum / done)
            history["lr"].append(float(optimizer.param_groups[0]["lr"]))
            history["seconds"].append(time.perf_counter() - start)
            bar.set_postfix(epoch=epoch, loss=f"{history['train_loss'][-1]:.4f}", val=f"{val_loss:.4f}")
            if callback is not None:
                callback(history)
            if scheduler is not None:
                is_plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
                scheduler.step(val_loss) if is_plateau else scheduler.step()
            if val_batches is not None:
                if val_loss < best_loss:
                    best_loss, bad_epochs, history.best_epoch = val_loss, 0, epoch
                    if restore_best:
                        best_state = copy.deepcopy(model.state_dict())
                    if checkpoint_path is not None:
                        save_checkpoint(checkpoint_path, model, optimizer, epoch=epoch, val_loss=val_loss)
                else:
                    bad_epochs += 1
                    if patience is not None and bad_epochs >= patience:
                        history.stop_reason = "early_stopping"
                        break
            if out_of_time:
                history.stop_reason = "max_seconds"
                break
    finally:
        bar.close()
    if restore_best and best_state is not None:
        model.load_state_dict(best_state)
    return history
