"""The recursive (iterated) multi-step forecast: it feeds back its own predictions, and only those."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from companion.torch import ManyToOneForecaster
from companion.torch.forecasting import iterated_forecast


def _linear_step(weights: torch.Tensor):
    """A one-step model y = sum_w weights[w] * window[:, w]  (N, W, F) -> (N, F)."""

    def step(window: torch.Tensor) -> torch.Tensor:
        return torch.einsum("nwf,w->nf", window, weights.to(window.dtype))

    return step


def _by_hand(step, history: torch.Tensor, horizon: int) -> torch.Tensor:
    """The recursion written out with Python lists, one series at a time."""
    out = []
    for n in range(history.shape[0]):
        values = list(history[n])  # W tensors of shape (F,)
        W = len(values)
        preds = []
        for _ in range(horizon):
            window = torch.stack(values[-W:])[None]  # (1, W, F)
            y = step(window)[0]
            preds.append(y)
            values.append(y)
        out.append(torch.stack(preds))
    return torch.stack(out)


def test_shapes_and_agreement_with_the_recursion_by_hand() -> None:
    g = torch.Generator().manual_seed(0)
    history = torch.randn(4, 5, 2, generator=g, dtype=torch.float64)
    step = _linear_step(torch.tensor([0.1, -0.2, 0.3, 0.5, 0.4], dtype=torch.float64))
    for horizon in (1, 3, 5, 9):  # shorter than, equal to and longer than the window
        got = iterated_forecast(step, history, horizon)
        assert got.shape == (4, horizon, 2) and got.dtype == torch.float64
        torch.testing.assert_close(got, _by_hand(step, history, horizon), rtol=1e-12, atol=1e-12)
    # horizon 1 is the one-step forecast
    torch.testing.assert_close(iterated_forecast(step, history, 1)[:, 0], step(history))


def test_it_feeds_back_its_own_predictions_not_the_observations() -> None:
    # "next = last value + 1" on a window that ends at 10 must count on: 11, 12, 13, ...
    history = torch.arange(1.0, 11.0).reshape(1, 10, 1)
    plus_one = lambda w: w[:, -1] + 1.0  # noqa: E731
    got = iterated_forecast(plus_one, history, 6)
    assert got[0, :, 0].tolist() == [11.0, 12.0, 13.0, 14.0, 15.0, 16.0]
    # "next = the oldest value in the window": after W steps the window holds predictions only
    oldest = lambda w: w[:, 0]  # noqa: E731
    got = iterated_forecast(oldest, torch.tensor([[[1.0], [2.0], [3.0]]]), 7)
    assert got[0, :, 0].tolist() == [1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0]


def test_the_window_it_passes_keeps_its_length_and_never_contains_the_future() -> None:
    seen = []

    def spy(window: torch.Tensor) -> torch.Tensor:
        seen.append(window.clone())
        return -window[:, -1]

    history = torch.tensor([[[1.0], [2.0], [3.0], [4.0]]])
    iterated_forecast(spy, history, 3)
    assert [tuple(w.shape) for w in seen] == [(1, 4, 1)] * 3
    assert seen[1][0, :, 0].tolist() == [2.0, 3.0, 4.0, -4.0]
    assert seen[2][0, :, 0].tolist() == [3.0, 4.0, -4.0, 4.0]


def test_a_module_runs_in_eval_mode_without_gradients_and_keeps_its_mode() -> None:
    torch.manual_seed(0)
    model = ManyToOneForecaster(1, hidden_size=8, output_size=1, cell="lstm", dropout=0.0)
    model.train()
    history = torch.randn(3, 12, 1)
    got = iterated_forecast(model, history, 4)
    assert got.shape == (3, 4, 1) and not got.requires_grad
    assert model.training  # restored
    with torch.no_grad():
        model.eval()
        first = model(history)
    torch.testing.assert_close(got[:, 0], first)


def test_numpy_history_gives_a_numpy_result() -> None:
    torch.manual_seed(0)
    model = ManyToOneForecaster(1, hidden_size=4, output_size=1)
    history = np.linspace(-1.0, 1.0, 20).reshape(2, 10, 1)
    got = iterated_forecast(model, history, 3)
    assert isinstance(got, np.ndarray) and got.shape == (2, 3, 1) and got.dtype == np.float64
    again = iterated_forecast(model, torch.tensor(history, dtype=torch.float32), 3)
    np.testing.assert_allclose(got, again.double().numpy(), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("history", "horizon", "error", "message"),
    [
        (torch.zeros(5, 1), 2, ValueError, r"\(N, W, F\).*history\[None, :, None\]"),
        (torch.zeros(2, 5, 1), 0, ValueError, "horizon must be >= 1"),
        (torch.zeros(2, 5, 1), 2.0, TypeError, "horizon must be an int"),
        (torch.zeros(2, 5, 1, dtype=torch.long), 2, TypeError, "floating-point"),
        (torch.tensor([[[1.0], [float("nan")]]]), 2, ValueError, "NaN or inf"),
        (torch.zeros(0, 5, 1), 2, ValueError, "empty"),
        ([[1.0, 2.0]], 2, TypeError, "torch.Tensor or a NumPy array"),
        (np.array([[["a"]]]), 2, TypeError, "must hold numbers"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(history, horizon, error, message) -> None:
    with pytest.raises(error, match=message):
        iterated_forecast(lambda w: w[:, -1], history, horizon)


def test_a_direct_model_cannot_be_iterated() -> None:
    model = ManyToOneForecaster(1, hidden_size=4, output_size=12)  # direct: 12 values at once
    with pytest.raises(ValueError, match=r"shape \(N, F\) = \(2, 1\); got \(2, 12\) at step 1.*one-step model"):
        iterated_forecast(model, torch.zeros(2, 5, 1), 3)
    with pytest.raises(TypeError, match="must return a tensor"):
        iterated_forecast(lambda w: w[:, -1].numpy(), torch.zeros(2, 5, 1), 3)
    with pytest.raises(TypeError, match="module or a callable"):
        iterated_forecast("model", torch.zeros(2, 5, 1), 3)
