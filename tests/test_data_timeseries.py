"""Sliding windows, scalers fitted on train only, leakage-free splits, baselines and metrics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.data.timeseries import (
    MinMaxScaler,
    StandardScaler,
    chronological_split,
    chronological_windows,
    mae,
    mape,
    naive_forecast,
    rmse,
    seasonal_naive_drift_forecast,
    seasonal_naive_forecast,
    sliding_windows,
    smape,
)


def test_sliding_windows_values_1d():
    X, Y = sliding_windows(np.arange(10.0), window=3, horizon=2)
    assert X.shape == (6, 3, 1) and Y.shape == (6, 2, 1)
    np.testing.assert_array_equal(X[0, :, 0], [0, 1, 2])
    np.testing.assert_array_equal(Y[0, :, 0], [3, 4])
    np.testing.assert_array_equal(X[-1, :, 0], [5, 6, 7])
    np.testing.assert_array_equal(Y[-1, :, 0], [8, 9])


def test_sliding_windows_2d_stride_and_copy():
    s = np.stack([np.arange(12.0), -np.arange(12.0)], axis=1)
    X, Y = sliding_windows(s, window=4, horizon=1, stride=3)
    assert X.shape == (3, 4, 2) and Y.shape == (3, 1, 2)
    np.testing.assert_array_equal(X[1, :, 1], [-3, -4, -5, -6])
    np.testing.assert_array_equal(Y[2, 0], [10, -10])
    X[0, 0, 0] = 99.0
    assert s[0, 0] == 0.0  # windows are copies, not views into the series
    Xi, _ = sliding_windows(np.arange(5), 2)  # integer series become float
    assert Xi.dtype == np.float64


def test_sliding_windows_errors():
    with pytest.raises(ValueError, match="exceeds the series length 5"):
        sliding_windows(np.arange(5.0), window=4, horizon=2)
    with pytest.raises(ValueError, match="window"):
        sliding_windows(np.arange(5.0), window=0)
    with pytest.raises(ValueError, match="NaN"):
        sliding_windows(np.array([1.0, np.nan, 2.0]), 1)
    with pytest.raises(ValueError, match="1-D"):
        sliding_windows(np.zeros((3, 3, 3)), 1)
    with pytest.raises(TypeError):
        sliding_windows(np.array(["a", "b"]), 1)


@settings(max_examples=30, deadline=None)
@given(L=st.integers(2, 40), W=st.integers(1, 10), H=st.integers(1, 5), S=st.integers(1, 4))
def test_sliding_windows_count_property(L, W, H, S):
    if W + H > L:
        with pytest.raises(ValueError):
            sliding_windows(np.arange(float(L)), W, H, S)
        return
    X, Y = sliding_windows(np.arange(float(L)), W, H, S)
    assert X.shape[0] == (L - W - H) // S + 1
    np.testing.assert_array_equal(Y[:, 0, 0], X[:, -1, 0] + 1)  # targets follow the window


def test_chronological_windows_never_straddle_a_boundary():
    y = np.arange(100.0)  # value == time index
    parts = chronological_windows(y, window=5, horizon=3, fractions=(0.7, 0.15, 0.15))
    cuts = [0, 70, 85, 100]
    for k, (X, Y) in enumerate(parts):
        lo, hi = cuts[k], cuts[k + 1]
        assert X.min() >= lo and Y.max() < hi  # inputs and targets inside the same piece
    train_targets = set(parts[0][1].ravel())
    test_values = set(parts[2][0].ravel()) | set(parts[2][1].ravel())
    assert not train_targets & test_values
    with pytest.raises(ValueError, match="split 1 has 15 steps"):
        chronological_windows(y, window=14, horizon=2)


def test_chronological_split_order():
    tr, va, te = chronological_split(np.arange(20), (0.5, 0.25, 0.25))
    assert tr.tolist() == list(range(10)) and va.tolist() == list(range(10, 15)) and te[0] == 15


def test_standard_scaler_is_fitted_on_train_only():
    y = np.concatenate([np.arange(50.0), 1000 + np.arange(50.0)])
    train, test = y[:50], y[50:]
    sc = StandardScaler().fit(train)
    assert sc.mean_ == pytest.approx(train.mean()) and sc.scale_ == pytest.approx(train.std())
    z = sc.transform(test)
    assert z.min() > 10  # the test period is far outside the training distribution: not hidden by refitting
    np.testing.assert_allclose(sc.inverse_transform(z), test, rtol=0, atol=1e-9)
    np.testing.assert_allclose(sc.fit_transform(train).mean(), 0.0, atol=1e-12)


def test_scalers_per_feature_and_constant_columns():
    x = np.stack([np.linspace(0, 1, 20), np.full(20, 3.0)], axis=1)
    sc = StandardScaler().fit(x)
    assert sc.mean_.shape == (2,)
    z = sc.transform(x)
    assert np.all(np.isfinite(z)) and np.allclose(z[:, 1], 0.0)
    mm = MinMaxScaler((-1, 1)).fit(x)
    zm = mm.transform(x)
    assert zm[:, 0].min() == pytest.approx(-1) and zm[:, 0].max() == pytest.approx(1)
    np.testing.assert_allclose(mm.inverse_transform(zm), x, atol=1e-12)
    windows = np.stack([x[:5], x[5:10]])  # (N, T, F) works as well
    np.testing.assert_allclose(sc.transform(windows)[1], z[5:10])
    with pytest.raises(ValueError, match="features"):
        sc.transform(np.zeros((4, 3)))


def test_scaler_must_be_fitted_first():
    with pytest.raises(RuntimeError, match="not fitted"):
        StandardScaler().transform(np.ones(3))
    with pytest.raises(ValueError, match="lo < hi"):
        MinMaxScaler((1, 0))


def test_minmax_on_test_data_is_not_clipped():
    mm = MinMaxScaler().fit(np.array([0.0, 10.0]))
    np.testing.assert_allclose(mm.transform(np.array([20.0, -5.0])), [2.0, -0.5])


def test_naive_and_seasonal_naive_forecasts():
    X = np.arange(24.0)  # (W,)
    np.testing.assert_array_equal(naive_forecast(X, horizon=3), [23, 23, 23])
    np.testing.assert_array_equal(seasonal_naive_forecast(X, season=12, horizon=14), list(range(12, 24)) + [12, 13])
    Xb = np.arange(2 * 6 * 1, dtype=float).reshape(2, 6, 1)  # (N, W, F)
    out = seasonal_naive_forecast(Xb, season=4, horizon=2)
    assert out.shape == (2, 2, 1)
    np.testing.assert_array_equal(out[:, :, 0], [[2, 3], [8, 9]])
    assert naive_forecast(Xb, 2).shape == (2, 2, 1)
    with pytest.raises(ValueError, match="fewer than one season"):
        seasonal_naive_forecast(np.arange(5.0), season=12)


def test_seasonal_naive_is_exact_on_a_periodic_series():
    t = np.arange(120)
    y = np.sin(2 * np.pi * t / 12)
    X, Y = sliding_windows(y, window=24, horizon=12)
    assert mae(Y, seasonal_naive_forecast(X, 12, 12)) < 1e-12


def test_seasonal_naive_drift_is_exact_on_a_linear_trend_plus_season():
    # y = trend + periodic: the latest seasonal growth is exactly m * slope, so the forecast is exact,
    # also beyond one season (k = 2 seasons back, raised by twice the growth).
    t = np.arange(120.0)
    y = 0.3 * t + np.sin(2 * np.pi * t / 12)
    X, Y = sliding_windows(y, window=13, horizon=20)
    assert np.max(np.abs(Y - seasonal_naive_drift_forecast(X, 12, 20))) < 1e-9
    assert mae(Y, seasonal_naive_forecast(X, 12, 20)) > 3.0  # without the growth it lags a season behind


def test_seasonal_naive_drift_values_layouts_and_errors():
    x = np.array([0.0, 10.0, 1.0, 11.0, 2.0])  # growth over the last season (m = 2): 2 - 1 = 1
    np.testing.assert_array_equal(seasonal_naive_drift_forecast(x, season=2, horizon=3), [12.0, 3.0, 13.0])
    Xb = np.stack([x, 2 * x])[:, :, None]  # (N=2, W=5, F=1)
    out = seasonal_naive_drift_forecast(Xb, season=2, horizon=1)
    assert out.shape == (2, 1, 1)
    np.testing.assert_array_equal(out[:, 0, 0], [12.0, 24.0])
    assert seasonal_naive_drift_forecast(x[:, None], season=2, horizon=2).shape == (2, 1)
    with pytest.raises(ValueError, match="season \\+ 1"):
        seasonal_naive_drift_forecast(np.arange(12.0), season=12)
    with pytest.raises(ValueError, match="horizon"):
        seasonal_naive_drift_forecast(np.arange(13.0), season=12, horizon=0)
    with pytest.raises(ValueError):
        seasonal_naive_drift_forecast(np.array([0.0, np.nan, 1.0]), season=1)


def test_metrics_known_values():
    y, p = np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 2.0])
    assert mae(y, p) == pytest.approx(1.0)
    assert rmse(y, p) == pytest.approx(np.sqrt(5 / 3))
    assert mape(y, p) == pytest.approx(100 * (1 + 0 + 0.5) / 3)
    assert smape(y, p) == pytest.approx(100 * (2 / 3 + 0 + 4 / 6) / 3)
    assert smape(np.zeros(2), np.zeros(2)) == 0.0
    with pytest.raises(ValueError, match="zeros"):
        mape(np.array([0.0, 1.0]), np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match="must match exactly"):
        mae(np.zeros((3, 1)), np.zeros(3))
