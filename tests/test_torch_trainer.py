"""companion.torch.trainer: history, truncated BPTT, clipping, early stopping, checkpoints, honest perplexity."""

from __future__ import annotations

import math
import time
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from companion.torch import (
    ManyToOneForecaster,
    RNNLanguageModel,
    Seq2Seq,
    SequenceClassifier,
    evaluate_lm,
    fit,
    load_checkpoint,
    save_checkpoint,
)

torch.set_num_threads(1)
V = 7


def _stream_batches(n_batches: int = 6, N: int = 4, T: int = 5, seed: int = 0) -> list[tuple[torch.Tensor, ...]]:
    """Consecutive chunks of N parallel streams: row n of batch i+1 continues row n of batch i.

    The streams follow a deterministic cycle 0 1 2 ... 6 0 1 ..., with random phase per row, so they are learnable.
    """
    g = torch.Generator().manual_seed(seed)
    phase = torch.randint(0, V, (N, 1), generator=g)
    stream = (phase + torch.arange(n_batches * T + 1)) % V
    return [(stream[:, i * T : (i + 1) * T], stream[:, i * T + 1 : (i + 1) * T + 1]) for i in range(n_batches)]


def _lm(**kw) -> RNNLanguageModel:
    torch.manual_seed(0)
    return RNNLanguageModel(V, embed_dim=6, hidden_size=12, cell="gru", **kw)


def test_history_has_one_entry_per_epoch_and_learning_happens() -> None:
    model = _lm()
    train, val = _stream_batches(), _stream_batches(seed=1)
    history = fit(model, train, val, epochs=8, lr=0.02, clip=1.0, progress=True)
    keys = {"epoch", "batches", "train_loss", "val_loss", "val_perplexity", "grad_norm", "lr", "seconds"}
    assert set(history) == keys
    assert all(len(v) == 8 for v in history.values())
    assert history["epoch"] == list(range(1, 9))
    assert history["batches"] == [6] * 8
    assert history.stop_reason == "epochs"
    assert history["val_loss"][-1] < 0.5 * history["val_loss"][0]
    assert history["train_loss"][-1] < history["train_loss"][0]
    for loss, ppl in zip(history["val_loss"], history["val_perplexity"]):
        assert math.isclose(ppl, math.exp(loss), rel_tol=1e-12)
    assert history["seconds"] == sorted(history["seconds"])
    assert "val_perplexity" in history.table()


def test_progress_bar_is_quiet_under_pytest(capsys: pytest.CaptureFixture[str]) -> None:
    fit(_lm(), _stream_batches(2), epochs=1, progress=True)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


class Recorder(nn.Module):
    """Wrap an LM and record the state it receives and returns at every call."""

    def __init__(self, lm: nn.Module) -> None:
        super().__init__()
        self.lm = lm
        self.received: list = []
        self.returned: list = []

    def forward(self, x: torch.Tensor, state=None):  # noqa: ANN001, ANN201
        self.received.append(state)
        logits, new_state = self.lm(x, state)
        self.returned.append(new_state.detach().clone())
        return logits, new_state


def test_stateful_tbptt_carries_detached_state_between_batches() -> None:
    model = Recorder(_lm())
    batches = _stream_batches(4)
    fit(model, batches, epochs=2, lr=0.01, stateful=True)  # would raise "backward through the graph a second time"
    received, returned = model.received, model.returned
    assert len(received) == 8
    assert received[0] is None and received[4] is None  # reset at each epoch start
    for i in (1, 2, 3, 5, 6, 7):
        assert received[i] is not None and received[i].grad_fn is None and not received[i].requires_grad
        assert torch.equal(received[i], returned[i - 1])  # the values are carried over
    model = Recorder(_lm())
    fit(model, batches, epochs=1, stateful=False)
    assert all(s is None for s in model.received)
    # A new batch size cannot continue the previous streams: the state is reset.
    model = Recorder(_lm())
    fit(model, batches[:2] + [(batches[2][0][:2], batches[2][1][:2])], epochs=1)
    assert model.received[1] is not None and model.received[2] is None


def test_without_detach_the_second_backward_fails() -> None:
    """The error the trainer's detach avoids (why truncated BPTT must cut the graph)."""
    lm = _lm()
    batches = _stream_batches(2)
    state = None
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        for x, y in batches:
            logits, state = lm(x, state)
            F.cross_entropy(logits.reshape(-1, V), y.reshape(-1)).backward()


class Bigram(nn.Module):
    """Stateless LM with fixed logits per input token, so NLLs can be computed by hand."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.table = nn.Parameter(3 * torch.randn(V, V, generator=g, dtype=torch.float64))

    def forward(self, x: torch.Tensor, state=None):  # noqa: ANN001, ANN201
        return self.table[x], None


def test_perplexity_is_token_weighted_not_a_mean_of_batch_perplexities() -> None:
    model = Bigram()
    g = torch.Generator().manual_seed(1)
    short = (torch.randint(0, V, (1, 2), generator=g), torch.randint(0, V, (1, 2), generator=g))
    long = (torch.randint(0, V, (3, 9), generator=g), torch.randint(0, V, (3, 9), generator=g))
    masked_y = long[1].clone()
    masked_y[:, 6:] = -100  # ignored targets do not count as tokens
    batches = [short, long, (long[0], masked_y)]
    mean_nll, ppl = evaluate_lm(model, batches)
    nll_sums, counts = [], []
    for x, y in batches:
        logp = torch.log_softmax(model.table[x], dim=-1)
        keep = y != -100
        nll_sums.append(-logp.gather(-1, y.clamp(min=0).unsqueeze(-1)).squeeze(-1)[keep].sum().item())
        counts.append(int(keep.sum()))
    assert counts == [2, 27, 18]
    expected = sum(nll_sums) / sum(counts)
    assert abs(mean_nll - expected) <= 1e-12
    assert abs(ppl - math.exp(expected)) <= 1e-9 * ppl
    mean_of_batch_ppl = sum(math.exp(s / c) for s, c in zip(nll_sums, counts)) / len(counts)
    mean_of_batch_nll = sum(s / c for s, c in zip(nll_sums, counts)) / len(counts)
    assert abs(mean_of_batch_ppl - ppl) > 0.05 * ppl  # the shortcut really gives a different number here
    assert abs(mean_of_batch_nll - mean_nll) > 0.01


def test_clipping_bounds_the_update_and_grad_norm_is_recorded_before_clipping() -> None:
    model = _lm()
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    history = fit(model, _stream_batches(1), optimizer=opt, epochs=1, clip=1e-3)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    step = (after - before).norm().item()
    assert history["grad_norm"][0] > 1e-3  # the raw gradient was larger than the clip ...
    assert abs(step - 1e-3) <= 1e-6  # ... and the step (lr = 1) was rescaled to exactly the clip norm


def test_early_stopping_triggers_and_restores_the_best_weights() -> None:
    model = _lm()
    train = _stream_batches()
    # Validation follows the opposite cycle, so learning the training data makes validation worse.
    val = [(x, (x - 1) % V) for x, _ in _stream_batches(seed=3)]
    history = fit(model, train, val, epochs=30, lr=0.02, patience=2)
    assert history.stop_reason == "early_stopping"
    assert len(history["epoch"]) == history.best_epoch + 2 < 30
    best = min(history["val_loss"])
    assert history["val_loss"][history.best_epoch - 1] == best
    assert abs(evaluate_lm(model, val)[0] - best) <= 1e-6  # the model ends with the best epoch's weights
    with pytest.raises(ValueError, match="patience\\) needs val_batches"):
        fit(model, train, epochs=2, patience=1)


def test_checkpoint_round_trip_restores_identical_outputs(tmp_path) -> None:  # noqa: ANN001
    model = _lm(num_layers=2)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    fit(model, _stream_batches(), optimizer=opt, epochs=2)
    path = tmp_path / "sub" / "lm.pt"
    save_checkpoint(path, model, opt, epoch=2, note="after two epochs")
    fresh = RNNLanguageModel(V, embed_dim=6, hidden_size=12, cell="gru", num_layers=2)
    fresh_opt = torch.optim.Adam(fresh.parameters(), lr=0.5)
    extra = load_checkpoint(path, fresh, fresh_opt)
    assert extra == {"epoch": 2, "note": "after two epochs"}
    x = _stream_batches(1, seed=5)[0][0]
    assert torch.equal(model(x)[0], fresh(x)[0])
    assert fresh_opt.param_groups[0]["lr"] == 0.01
    s1, s2 = opt.state_dict()["state"], fresh_opt.state_dict()["state"]
    assert all(torch.equal(s1[k]["exp_avg"], s2[k]["exp_avg"]) for k in s1)
    payload = torch.load(path, weights_only=True)  # loadable without unpickling arbitrary objects
    assert set(payload) == {"model", "optimizer", "extra"}
    # fit writes the best model when given checkpoint_path
    best_path = tmp_path / "best.pt"
    history = fit(_lm(), _stream_batches(), _stream_batches(seed=1), epochs=3, checkpoint_path=best_path)
    assert load_checkpoint(best_path, _lm())["epoch"] == history.best_epoch
    with pytest.raises(ValueError, match="holds no optimizer state"):
        save_checkpoint(path, model)
        load_checkpoint(path, model, opt)


def test_time_budget_stops_training() -> None:
    model = _lm()
    start = time.perf_counter()
    history = fit(model, _stream_batches(50), _stream_batches(1), epochs=10_000, max_seconds=0.3)
    elapsed = time.perf_counter() - start
    assert history.stop_reason == "max_seconds"
    assert elapsed < 3.0
    assert len(history["epoch"]) >= 1 and not math.isnan(history["val_loss"][-1])


def test_classification_regression_and_seq2seq_modes() -> None:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    # classification: is token 1 present in the (unpadded part of the) sequence?
    batches = []
    for _ in range(4):
        x = torch.randint(2, 6, (16, 6), generator=g)
        lengths = torch.randint(1, 7, (16,), generator=g)
        has = torch.rand(16, generator=g) < 0.5
        x[has, 0] = 1
        for i, length in enumerate(lengths.tolist()):
            x[i, length:] = 0
        batches.append((x, lengths, has.long()))
    clf = SequenceClassifier(2, 16, vocab_size=6, embed_dim=8, padding_idx=0, cell="gru")
    h = fit(clf, batches, batches, task="classification", epochs=15, lr=0.02)
    assert set(h) >= {"val_accuracy", "val_loss"} and h["val_accuracy"][-1] >= 0.9
    # regression: predict the mean of the window
    xs = [torch.randn(16, 5, 1, generator=g) for _ in range(4)]
    reg_batches = [(x, x.mean(dim=1)) for x in xs]
    f = ManyToOneForecaster(1, 16)
    h = fit(f, reg_batches, reg_batches, task="regression", epochs=20, lr=0.02)
    assert h["val_rmse"][-1] < 0.5 * h["val_rmse"][0]
    assert math.isclose(h["val_rmse"][-1] ** 2, h["val_loss"][-1], rel_tol=1e-9)
    with pytest.raises(ValueError, match=r"prediction shape \(16, 1\) does not match target shape \(16,\)"):
        fit(f, [(xs[0], xs[0].mean(dim=(1, 2)))], task="regression", epochs=1)
    # seq2seq: teacher-forced token accuracy, padded targets ignored
    s2s = Seq2Seq(6, 6, embed_dim=8, hidden_size=16, bos_idx=1, eos_idx=2, pad_idx=0)
    src = torch.randint(3, 6, (8, 4), generator=g)
    tgt_out = torch.cat([src, torch.full((8, 1), 2)], dim=1)
    tgt_in = torch.cat([torch.full((8, 1), 1), src], dim=1)
    h = fit(s2s, [(src, None, tgt_in, tgt_out)], [(src, tgt_in, tgt_out)], task="seq2seq", epochs=3, ignore_index=0)
    assert len(h["val_token_accuracy"]) == 3


def test_bad_arguments_raise_clear_errors() -> None:
    model = _lm()
    with pytest.raises(TypeError, match="one-shot iterator"):
        fit(model, iter(_stream_batches()), epochs=2)
    with pytest.raises(ValueError, match="task must be one of"):
        fit(model, _stream_batches(), task="translation")
    with pytest.raises(ValueError, match="clip must be > 0"):
        fit(model, _stream_batches(), clip=0.0)
    with pytest.raises(ValueError, match="language-model batch must be a pair"):
        fit(model, [(torch.zeros(2, 3, dtype=torch.long),) * 3], epochs=1)
    with pytest.raises(ValueError, match=r"logits of shape \(N, T, V\)"):
        evaluate_lm(Bigram(), [(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long))])
    assert fit(model, lambda: _stream_batches(2), epochs=2)["batches"] == [2, 2]  # a callable works as a batch source


def test_numpy_batches_and_callback() -> None:
    """Batches may be NumPy arrays (as companion.data.batching makes them); the callback sees each epoch."""
    import numpy as np

    batches = [(x.numpy(), y.numpy()) for x, y in _stream_batches(3)]
    assert isinstance(batches[0][0], np.ndarray)
    seen: list[int] = []
    history = fit(_lm(), batches, batches, epochs=3, callback=lambda h: seen.append(len(h["epoch"])))
    assert seen == [1, 2, 3]
    assert history["batches"] == [3, 3, 3]
    assert abs(evaluate_lm(_lm(), batches)[0] - evaluate_lm(_lm(), _stream_batches(3))[0]) <= 1e-12


class Confident(nn.Module):
    """Logits so confident and so wrong that the mean NLL is about 2000 nats (exp overflows)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(2000.0, dtype=torch.float64))

    def forward(self, x: torch.Tensor, state=None):  # noqa: ANN001, ANN201
        wrong = torch.nn.functional.one_hot((x + 3) % V, V).to(torch.float64)
        return self.scale * wrong, None


def test_a_diverged_model_has_infinite_perplexity_not_an_overflow_error() -> None:
    batches = [(torch.arange(V).view(1, V), torch.arange(V).view(1, V))]
    mean_nll, ppl = evaluate_lm(Confident(), batches)
    assert mean_nll > 709 and ppl == math.inf


def test_fit_reports_a_diverged_validation_loss_clearly() -> None:
    class Exploding(Confident):
        def forward(self, x, state=None):  # noqa: ANN001, ANN201
            logits, _ = super().forward(x, state)
            return logits * float("inf") if not self.training else logits * 1e-3, None

    batches = [(torch.arange(V).view(1, V), torch.arange(V).view(1, V))]
    with pytest.raises(FloatingPointError, match=r"validation loss became (inf|nan) at epoch 1: the model diverged"):
        fit(Exploding(), batches, batches, epochs=2, lr=0.01, progress=False)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_bfloat16_autocast_trains_in_bfloat16_and_validates_in_float32(cell: str) -> None:
    torch.manual_seed(0)
    model = RNNLanguageModel(V, embed_dim=6, hidden_size=12, cell=cell)
    seen: list[tuple[bool, torch.dtype]] = []
    model.head.register_forward_hook(lambda mod, args, out: seen.append((mod.training, out.dtype)))
    train, val = _stream_batches(), _stream_batches(seed=1)
    history = fit(model, train, val, epochs=8, lr=0.02, clip=1.0, autocast=torch.bfloat16)
    assert {dtype for training, dtype in seen if training} == {torch.bfloat16}
    assert {dtype for training, dtype in seen if not training} == {torch.float32}
    assert all(p.dtype == torch.float32 for p in model.parameters())  # the optimiser updates float32 weights
    assert history["val_loss"][-1] < 0.5 * history["val_loss"][0]


@pytest.mark.parametrize("dtype", [torch.float16, torch.float64, "bfloat16"])
def test_autocast_accepts_only_bfloat16(dtype: object) -> None:
    with pytest.raises(ValueError, match="autocast must be None or torch.bfloat16"):
        fit(_lm(), _stream_batches(), epochs=1, autocast=dtype)


def test_bfloat16_autocast_warns_on_a_cpu_that_would_emulate_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from companion.torch import trainer

    monkeypatch.setattr(trainer, "cpu_has_bfloat16", lambda: False)
    with pytest.warns(RuntimeWarning, match="without bfloat16 instructions"):
        fit(_lm(), _stream_batches(n_batches=1), epochs=1, autocast=torch.bfloat16)
    monkeypatch.setattr(trainer, "cpu_has_bfloat16", lambda: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit(_lm(), _stream_batches(n_batches=1), epochs=1, autocast=torch.bfloat16)
