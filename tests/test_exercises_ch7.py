"""Checkers of chapter 7: embedding backward, LM parameter count, dropout backward, locked dropout mask."""

from __future__ import annotations

import numpy as np
import pytest

from companion.exercises.ch7 import (
    check_count_lm_parameters,
    check_dropout_backward,
    check_embedding_backward,
    check_locked_dropout_mask,
)
from companion.numpy.dropout import dropout_backward, locked_dropout_mask
from companion.numpy.layers import embedding_backward
from companion.torch.regularisation import count_lm_parameters


@pytest.fixture(autouse=True)
def _private_progress(tmp_path, monkeypatch):
    """Passes are recorded under a temporary cache, never in the developer's own."""
    monkeypatch.setenv("COMPANION_CACHE", str(tmp_path))


def own(fn):
    """The reference wrapped in a function defined here, as a learner's solution that calls it would be."""
    return lambda *args, **kwargs: fn(*args, **kwargs)


def stub(*args, **kwargs):
    raise NotImplementedError("replace this line with your solution")


CHECKS = [
    (check_embedding_backward, embedding_backward),
    (check_count_lm_parameters, count_lm_parameters),
    (check_dropout_backward, dropout_backward),
    (check_locked_dropout_mask, locked_dropout_mask),
]


@pytest.mark.parametrize(("check", "reference"), CHECKS, ids=lambda x: getattr(x, "__name__", ""))
def test_reference_passes_stub_is_not_implemented_and_reference_is_refused(check, reference) -> None:
    assert check(own(reference)).passed
    assert "not implemented yet" in check(stub).text
    assert not check(reference).passed  # the course's own function is refused, never "passed"


def _emb(kind):
    def f(dout, cache):
        idx, W = cache
        dW = W.copy() if kind == "from_W" else np.zeros_like(W)
        if kind == "buffered":
            dW[idx] += dout
        elif kind == "loop_assign":
            for n in range(idx.shape[0]):
                for t in range(idx.shape[1]):
                    dW[idx[n, t]] = dout[n, t]
        elif kind == "mean":
            np.add.at(dW, idx, dout)
            dW /= np.maximum(np.bincount(idx.ravel(), minlength=W.shape[0]), 1)[:, None]
        elif kind == "first_sample":
            np.add.at(dW, idx[:1], dout[:1])
        else:
            np.add.at(dW, idx, dout)
        return dW

    return f


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("buffered", "dW[idx] += dout does not accumulate"),
        ("loop_assign", "dW[idx] += dout does not accumulate"),
        ("from_W", "the gradient starts from zeros"),
        ("mean", "is their SUM"),
        ("first_sample", "only the first sequence contributed"),
    ],
)
def test_embedding_backward_mistakes(kind, expected) -> None:
    fb = check_embedding_backward(_emb(kind))
    assert not fb.passed
    assert expected in fb.text


def test_embedding_backward_loop_with_accumulation_passes() -> None:
    def f(dout, cache):
        idx, W = cache
        dW = np.zeros_like(W)
        for n in range(idx.shape[0]):
            for t in range(idx.shape[1]):
                dW[idx[n, t]] += dout[n, t]
        return dW

    assert check_embedding_backward(f).passed


def _count(kind):
    def f(V, E, H, tied):
        lstm = 4 * H * (E + H) + (4 * H if kind == "one_bias" else 8 * H)
        if kind == "no_gates":
            lstm = H * (E + H) + 2 * H
        total = V * E + lstm + V * H + V
        if tied and kind == "tie_drops_bias":
            return total - V * H - V
        if tied and kind != "tie_ignored":
            return total - V * H
        return total

    return f


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("one_bias", "two bias vectors"),
        ("no_gates", "four gate blocks"),
        ("tie_ignored", "subtract its V x H numbers once"),
        ("tie_drops_bias", "keeps its own bias"),
    ],
)
def test_count_lm_parameters_mistakes(kind, expected) -> None:
    fb = check_count_lm_parameters(_count(kind))
    assert not fb.passed
    assert expected in fb.text


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (lambda dout, cache: dout * cache[0], "the backward pass must too"),
        (lambda dout, cache: dout * cache[0] * (1 - cache[1]), "inverted dropout DIVIDES"),
        (lambda dout, cache: dout / (1 - cache[1]), "multiply by the mask too"),
        (lambda dout, cache: dout, "unchanged"),
        (lambda dout, cache: dout * ~cache[0] / (1 - cache[1]), "the mask is inverted"),
        (lambda dout, cache: dout * cache[0] / cache[1], "not 1 / p"),
    ],
)
def test_dropout_backward_mistakes(fn, expected) -> None:
    fb = check_dropout_backward(fn)
    assert not fb.passed
    assert expected in fb.text


def _locked(kind):
    def f(N, T, D, p, rng):
        if kind == "per_step":
            return (rng.random((N, T, D)) >= p) / (1 - p)
        if kind == "binomial_per_step":
            return rng.binomial(1, 1 - p, size=(N, T, D)) / (1 - p)
        u = rng.random((1, 1, D) if kind == "shared_batch" else (N, 1, D))
        keep = u < p if kind == "keep_below_p" else u >= p
        if kind == "no_scale":
            return np.repeat(keep.astype(float), T, axis=1)
        if kind == "return_small":
            return keep / (1 - p)
        return np.broadcast_to(keep / (1 - p), (N, T, D)).copy()

    return f


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("per_step", "a new mask at every time step"),
        ("binomial_per_step", "time step"),
        ("no_scale", "scaled by 1 / (1 - p)"),
        ("keep_below_p", "keep the entries with u >= p"),
        ("shared_batch", "each sequence gets its own"),
        ("return_small", "wrong shape"),
    ],
)
def test_locked_dropout_mask_mistakes(kind, expected) -> None:
    fb = check_locked_dropout_mask(_locked(kind))
    assert not fb.passed
    assert expected in fb.text


def test_locked_dropout_mask_with_another_draw_order_passes() -> None:
    def f(N, T, D, p, rng):
        keep = rng.random((N, D)) >= p  # the same numbers in the same order as (N, 1, D)
        return np.stack([keep / (1 - p)] * T, axis=1)

    assert check_locked_dropout_mask(f).passed


# -- section 7c: stacked-LSTM parameter count and layer normalisation -----------------------------

from companion.exercises.ch7 import check_count_stacked_lstm_parameters, check_layer_norm_forward  # noqa: E402
from companion.numpy.normalisation import layer_norm_forward  # noqa: E402
from companion.torch.deep import count_stacked_lstm_parameters  # noqa: E402


@pytest.mark.parametrize(
    ("check", "reference"),
    [
        (check_count_stacked_lstm_parameters, count_stacked_lstm_parameters),
        (check_layer_norm_forward, layer_norm_forward),
    ],
    ids=["count_stacked_lstm_parameters", "layer_norm_forward"],
)
def test_depth_checkers_pass_the_reference_refuse_it_and_report_the_stub(check, reference) -> None:
    assert check(own(reference)).passed
    assert "not implemented yet" in check(stub).text
    assert not check(reference).passed


def _wrong_stack(kind):
    def f(D, H, L, ln):
        first = 4 * H * (D + H) + (4 * H if kind == "one_bias" else 8 * H)
        upper = 4 * H * ((D if kind == "upper_D" else H) + H) + (4 * H if kind == "one_bias" else 8 * H)
        norms = {"per_layer": 2 * H * L, "gain_only": H * (L - 1), "ignored": 0}.get(kind, 2 * H * (L - 1))
        return first + (L - 1) * upper + (norms if ln else 0)

    return f


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("one_bias", "two bias vectors"),
        ("upper_D", "not the D inputs"),
        ("per_layer", "L - 1 of them"),
        ("gain_only", "gain AND a bias"),
        ("ignored", "add the LayerNorm parameters"),
    ],
)
def test_count_stacked_lstm_parameters_mistakes(kind, expected) -> None:
    fb = check_count_stacked_lstm_parameters(_wrong_stack(kind))
    assert not fb.passed
    assert expected in fb.text, fb.text


def _wrong_layer_norm(kind):
    def f(x, gamma, beta, eps=1e-5):
        axis = 0 if kind == "batch_axis" else -1
        mu = np.mean(x, axis=axis, keepdims=True)
        if kind == "ddof1":
            var = np.var(x, axis=axis, keepdims=True, ddof=1)
        else:
            var = np.mean((x - mu) ** 2, axis=axis, keepdims=True)
        if kind == "eps_outside":
            xhat = (x - mu) / (np.sqrt(var) + eps)
        elif kind == "no_eps":
            xhat = (x - mu) / np.sqrt(var)
        else:
            xhat = (x - mu) / np.sqrt(var + eps)
        out = {
            "gamma_ignored": xhat + beta,
            "beta_ignored": gamma * xhat,
            "both_ignored": xhat,
            "swapped": beta * xhat + gamma,
            "no_mean": gamma * x / np.sqrt(var + eps) + beta,
        }.get(kind, gamma * xhat + beta)
        return out, (xhat, var)

    return f


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("batch_axis", "over the batch axis"),
        ("ddof1", "unbiased variance (ddof=1"),
        ("eps_outside", "eps goes INSIDE the square root"),
        ("no_eps", "constant vector"),
        ("gamma_ignored", "gamma was ignored"),
        ("beta_ignored", "beta was ignored"),
        ("both_ignored", "gamma and beta were ignored"),
        ("swapped", "gamma and beta are swapped"),
        ("no_mean", "mean 0 along the last axis"),
    ],
)
def test_layer_norm_forward_mistakes(kind, expected) -> None:
    fb = check_layer_norm_forward(_wrong_layer_norm(kind))
    assert not fb.passed
    assert expected in fb.text, fb.text


def test_layer_norm_forward_other_correct_forms_pass_and_output_only_is_explained() -> None:
    def with_torch_style_std(x, gamma, beta, eps=1e-5):
        centred = x - x.mean(axis=-1, keepdims=True)
        return gamma * centred / np.sqrt(np.var(x, axis=-1, keepdims=True) + eps) + beta, None

    assert check_layer_norm_forward(with_torch_style_std).passed

    def output_only(x, gamma, beta, eps=1e-5):
        return layer_norm_forward(x, gamma, beta, eps)[0]

    fb = check_layer_norm_forward(output_only)
    assert not fb.passed and "expected a tuple of 2 values" in fb.text, fb.text
