"""The shared initialiser: torch's U(-1/sqrt(H), 1/sqrt(H)) range, gate blocks, draw order, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from companion.numpy.gru import init_gru_params
from companion.numpy.initialisation import uniform_recurrent_weights
from companion.numpy.lstm import init_lstm_params
from companion.numpy.rnn import init_rnn_params


@pytest.mark.parametrize("gates", [1, 3, 4])
def test_shapes_range_and_draw_order(gates: int) -> None:
    Wx, Wh = uniform_recurrent_weights(5, 16, np.random.default_rng(0), gates=gates)
    assert Wx.shape == (5, gates * 16) and Wh.shape == (16, gates * 16)
    assert np.abs(np.concatenate([Wx.ravel(), Wh.ravel()])).max() <= 0.25  # 1/sqrt(16)
    ref = np.random.default_rng(0)  # Wx first, then Wh: the order every notebook's stored output relies on
    np.testing.assert_array_equal(Wx, ref.uniform(-0.25, 0.25, size=(5, gates * 16)))
    np.testing.assert_array_equal(Wh, ref.uniform(-0.25, 0.25, size=(16, gates * 16)))


def test_cells_use_it() -> None:
    D, H = 3, 4
    rnn = init_rnn_params(D, H, np.random.default_rng(1))
    gru = init_gru_params(D, H, np.random.default_rng(1))
    lstm = init_lstm_params(D, H, np.random.default_rng(1), forget_bias=1.0)
    assert rnn["b"].shape == (H,) and gru["bx"].shape == gru["bh"].shape == (3 * H,)
    np.testing.assert_array_equal(lstm["b"], np.r_[np.zeros(H), np.ones(H), np.zeros(2 * H)])
    np.testing.assert_array_equal(rnn["Wx"], uniform_recurrent_weights(D, H, np.random.default_rng(1))[0])


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="hidden_size must be >= 1, got 0"):
        uniform_recurrent_weights(3, 0, np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        uniform_recurrent_weights(3, 2, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scale must be finite and > 0"):
        uniform_recurrent_weights(3, 2, np.random.default_rng(0), scale=-1.0)
