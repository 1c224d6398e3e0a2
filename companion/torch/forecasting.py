"""Multi-step forecasting with a one-step model: the recursive (iterated) strategy.

Two ways to forecast ``H`` steps ahead with a network (Hyndman & Athanasopoulos, FPP3, 12.7;
Ben Taieb et al., 2012):

- **direct**: one model outputs all ``H`` values at once from the window
  (``ManyToOneForecaster(..., output_size=H)``);
- **recursive** (iterated): a one-step model predicts ``ŷ_{t+1}``, the window slides by one
  step with ``ŷ_{t+1}`` appended as if it had been observed, and the model is applied again,
  ``H`` times.  Only one model is trained, for every horizon, but the errors of earlier steps
  become the inputs of later ones.

:func:`iterated_forecast` implements the second for any callable that maps a batch of windows
``(N, W, F)`` to the next values ``(N, F)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from companion.torch._validate import check_count

__all__ = ["iterated_forecast"]

StepFn = Callable[[torch.Tensor], torch.Tensor]


def _as_history(history: torch.Tensor | np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """``history`` as a finite floating tensor ``(N, W, F)``; a NumPy array gets ``dtype``."""
    if isinstance(history, np.ndarray):
        if history.dtype.kind not in "iuf":
            raise TypeError(f"history must hold numbers, got dtype {history.dtype}")
        history = torch.as_tensor(history, dtype=dtype)
    if not isinstance(history, torch.Tensor):
        raise TypeError(f"history must be a torch.Tensor or a NumPy array, got {type(history).__name__}")
    if not history.is_floating_point():
        raise TypeError(f"history must be a floating-point tensor, got dtype {history.dtype}")
    if history.dim() != 3:
        raise ValueError(
            f"history must be a batch of windows (N, W, F), got shape {tuple(history.shape)}; "
            "for one 1-D window use history[None, :, None]"
        )
    if history.numel() == 0:
        raise ValueError(f"history is empty (shape {tuple(history.shape)})")
    if not torch.isfinite(history).all():
        raise ValueError("history contains NaN or inf: fill or drop the missing observations first")
    return history


def _next_values(step_fn: StepFn, window: torch.Tensor, h: int) -> torch.Tensor:
    """Call the one-step model on ``window (N, W, F)``; insist on ``(N, F)`` next values."""
    out = step_fn(window)
    if isinstance(out, tuple):  # a model returning (prediction, state)
        out = out[0]
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"the step function must return a tensor (N, F), got {type(out).__name__} at step {h}")
    N, _, F = window.shape
    if tuple(out.shape) != (N, F):
        raise ValueError(
            f"the step function must return the next value of every window, shape (N, F) = {(N, F)}; "
            f"got {tuple(out.shape)} at step {h} (a direct model with output_size=H cannot be iterated: "
            "train a one-step model, output_size = number of features)"
        )
    return out.to(window.dtype)


def iterated_forecast(
    model_or_step_fn: nn.Module | StepFn,
    history: torch.Tensor | np.ndarray,
    horizon: int,
) -> torch.Tensor | np.ndarray:
    """Forecast ``horizon`` steps by feeding a one-step model its own predictions.

    With the window ``w^{(1)} = (x_{t-W+1}, ..., x_t)`` (the last ``W`` observations),
    step ``h = 1, ..., H`` computes

    ``ŷ_{t+h} = f(w^{(h)})``  and  ``w^{(h+1)} = (w^{(h)}_2, ..., w^{(h)}_W, ŷ_{t+h})``:

    drop the oldest step, append the prediction.  From step ``W + 1`` on, the window holds
    predictions only.  No value after ``x_t`` is ever read.

    Parameters
    ----------
    model_or_step_fn : nn.Module or callable
        Maps windows ``(N, W, F)`` to the next values ``(N, F)``, e.g. a
        :class:`~companion.torch.models.ManyToOneForecaster` with ``output_size = F``.  A
        module is run in eval mode under ``torch.no_grad()`` and its mode is restored.
    history : Tensor or ndarray, shape (N, W, F)
        The last ``W`` observed steps of ``N`` series (finite, floating point).  A NumPy array
        is converted to the module's parameter dtype (the default dtype for a plain callable).
    horizon : int
        ``H >= 1`` steps to forecast.

    Returns
    -------
    Tensor or ndarray, shape (N, H, F)
        ``out[:, h - 1]`` is ``ŷ_{t+h}``; a NumPy float64 array if ``history`` was one.

    Raises
    ------
    TypeError, ValueError
        For a history that is not a finite float (N, W, F) batch, a non-positive horizon, or a
        step function whose output is not ``(N, F)`` (e.g. a direct model with ``output_size=H``).
    """
    if not callable(model_or_step_fn):
        raise TypeError(f"model_or_step_fn must be a module or a callable, got {type(model_or_step_fn).__name__}")
    H = check_count("horizon", horizon)
    is_module = isinstance(model_or_step_fn, nn.Module)
    params = list(model_or_step_fn.parameters()) if is_module else []
    dtype = params[0].dtype if params else torch.get_default_dtype()
    was_numpy = isinstance(history, np.ndarray)
    window = _as_history(history, dtype)
    was_training = is_module and model_or_step_fn.training
    if is_module:
        model_or_step_fn.eval()
    try:
        with torch.no_grad():
            preds = []
            for h in range(1, H + 1):
                y = _next_values(model_or_step_fn, window, h)          # (N, F): ŷ_{t+h}
                preds.append(y)
                window = torch.cat([window[:, 1:], y[:, None]], dim=1)  # slide: drop oldest, append ŷ
    finally:
        if was_training:
            model_or_step_fn.train()
    out = torch.stack(preds, dim=1)                                     # (N, H, F)
    return out.double().numpy() if was_numpy else out
