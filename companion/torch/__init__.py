"""PyTorch implementations: cells from ``nn.Parameter``, task models, sampling and a trainer.

- :mod:`~companion.torch.cells`: ``RNNCell``, ``LSTMCell``, ``GRUCell`` and their update rules.
- :mod:`~companion.torch.recurrent`: multi-layer, bidirectional ``RNN``, ``LSTM``, ``GRU``
  (drop-in replacements for the :mod:`torch.nn` layers, same ``state_dict``).
- :mod:`~companion.torch.models`: language model, classifier, forecasters, seq2seq.
- :mod:`~companion.torch.decoding`: greedy and beam search over any step function, ``decode_until_eos``.
- :mod:`~companion.torch.metrics`: ``exact_match`` of decoded outputs.
- :mod:`~companion.torch.sampling`: temperature / top-k sampling of text.
- :mod:`~companion.torch.trainer`: ``fit`` with clipping, truncated BPTT, early stopping, checkpoints.
"""

from companion.torch.cells import GRUCell, LSTMCell, RNNCell, gru_step, lstm_step, rnn_step
from companion.torch.decoding import Hypothesis, beam_search, decode_until_eos, greedy_search
from companion.torch.metrics import exact_match
from companion.torch.models import (
    ManyToManyForecaster,
    ManyToOneForecaster,
    RNNLanguageModel,
    Seq2Seq,
    SequenceClassifier,
    make_recurrent,
)
from companion.torch.recurrent import GRU, LSTM, RNN
from companion.torch.sampling import sample_ids, sample_next, sample_text
from companion.torch.trainer import (
    History,
    detach_state,
    evaluate,
    evaluate_classifier,
    evaluate_lm,
    evaluate_regression,
    evaluate_seq2seq,
    fit,
    load_checkpoint,
    save_checkpoint,
)

__all__ = [
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    "rnn_step",
    "lstm_step",
    "gru_step",
    "RNN",
    "LSTM",
    "GRU",
    "make_recurrent",
    "RNNLanguageModel",
    "SequenceClassifier",
    "ManyToOneForecaster",
    "ManyToManyForecaster",
    "Seq2Seq",
    "Hypothesis",
    "greedy_search",
    "beam_search",
    "decode_until_eos",
    "exact_match",
    "sample_next",
    "sample_ids",
    "sample_text",
    "fit",
    "History",
    "evaluate",
    "evaluate_lm",
    "evaluate_classifier",
    "evaluate_regression",
    "evaluate_seq2seq",
    "detach_state",
    "save_checkpoint",
    "load_checkpoint",
]
