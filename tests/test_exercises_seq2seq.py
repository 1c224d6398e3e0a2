"""check_scheduled_inputs: the reference passes, realistic mistakes are named, the stub is "not implemented"."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from companion.exercises.seq2seq import check_scheduled_inputs, scheduled_inputs
from companion.torch import Seq2Seq


@pytest.fixture(autouse=True)
def _private_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_CACHE", str(tmp_path))


def own(fn):
    return lambda *args, **kwargs: fn(*args, **kwargs)


def _learner(mode: str):
    def scheduled(step_fn, tgt_in, teacher_forcing, rng):
        N, T = tgt_in.shape
        inputs = [tgt_in[:, 0]]
        if mode == "extra_draw":
            rng.random(N)
        for t in range(T - 1):
            read = tgt_in[:, t] if mode == "truth_prefix" else inputs[-1]
            guess = np.argmax(step_fn(read, t), axis=1)
            u = rng.random() if mode == "one_draw" else rng.random(N)
            keep = u > teacher_forcing if mode == "inverted" else u < teacher_forcing
            truth = tgt_in[:, t] if mode == "off_by_one" else tgt_in[:, t + 1]
            if mode == "always_truth":
                keep = np.ones(N, dtype=bool)
            inputs.append(np.where(keep, truth, guess))
        out = np.stack(inputs, axis=1)
        return out.astype(float) if mode == "floats" else out

    return scheduled


def test_reference_and_a_learner_solution_pass() -> None:
    assert check_scheduled_inputs(own(scheduled_inputs)).passed
    assert check_scheduled_inputs(_learner("ok")).passed


def test_the_reference_itself_is_refused_and_the_stub_is_not_implemented() -> None:
    assert check_scheduled_inputs(scheduled_inputs).status == "refused"

    def scheduled_inputs_stub(step_fn, tgt_in, teacher_forcing, rng):
        raise NotImplementedError("replace this line with your solution")

    assert check_scheduled_inputs(scheduled_inputs_stub).status == "not_implemented"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("inverted", "the probabilities are swapped"),
        ("one_draw", "one number for the whole batch"),
        ("off_by_one", "off by one: the true input for step t + 1"),
        ("truth_prefix", "must come from what it actually read"),
        ("extra_draw", "random numbers for step 0 too"),
        ("always_truth", "Wrong values in inputs"),
        ("floats", "expected integers"),
    ],
)
def test_realistic_mistakes_are_rejected(mode: str, expected: str) -> None:
    fb = check_scheduled_inputs(_learner(mode))
    assert not fb.passed
    assert expected in fb.text, fb.text


def test_a_hung_solution_is_stopped() -> None:
    def hangs(step_fn, tgt_in, teacher_forcing, rng):
        while True:
            pass

    assert check_scheduled_inputs(hangs, time_limit=0.5).status == "timed_out"


def test_the_rule_is_the_one_of_seq2seq_forward() -> None:
    # Seq2Seq.forward(..., teacher_forcing=p) reads the same inputs as the NumPy rule: with p = 1 all true
    # tokens; with p = 0 its own argmax at every step, i.e. the greedy decoder's inputs.
    torch.manual_seed(0)
    model = Seq2Seq(7, 6, embed_dim=4, hidden_size=8, bos_idx=2, eos_idx=3, pad_idx=0).eval()
    src = torch.randint(1, 7, (3, 4))
    tgt_in = torch.randint(4, 6, (3, 5))
    tgt_in[:, 0] = 2
    with torch.no_grad():
        free = model(src, tgt_in, teacher_forcing=0.0)
        tokens, _ = model.greedy_decode(src, max_len=5)
        state, ctx = model.encode(src)

        def step_fn(prev, t):
            nonlocal state
            logits, state = model.decode(torch.as_tensor(prev)[:, None], state, ctx)
            return logits[:, -1].numpy()

        inputs = scheduled_inputs(step_fn, tgt_in.numpy(), 0.0, np.random.default_rng(0))
    assert np.array_equal(inputs[:, 1:], free.argmax(-1)[:, :-1].numpy())
    assert np.array_equal(free.argmax(-1)[:, :4].numpy(), tokens[:, :4].numpy())
