"""Exercise checkers: grade a learner's function on seeded cases and explain what is wrong.

Each ``check_<name>(learner_fn)`` calls the learner's function on a few seeded
cases (including N=1, T=1 and D != H), compares the result with the package's
reference implementation and returns a :class:`~companion.exercises.feedback.Feedback`: "passed", "not
implemented yet", or what is wrong (type, shape, NaN, modified input, the single
largest error with its location) plus a hint when the answer matches a known
mistake.  A checker never raises on the learner's mistakes.

Every checker refuses the course's own implementation (a function defined in
``companion``, e.g. one imported under the exercise's name): the verdict then says
"this is the reference implementation, not yours".  Each case runs under a time limit
(a few seconds, ``time_limit=`` on every checker, see
:func:`~companion.exercises.runner.default_time_limit`), so a hung solution is stopped
and reported.  A pass on the learner's own function is recorded locally (in the cache
folder, never in the course's repository), and ``progress()`` shows what has been
passed, per chapter; ``progress(reset=True)`` starts over.

>>> from companion.exercises import check_rnn_step_forward
>>> def rnn_step_forward(x, h_prev, Wx, Wh, b):
...     raise NotImplementedError("replace this line with your solution")
>>> check_rnn_step_forward(rnn_step_forward)
rnn_step_forward: not implemented yet.
Replace the `raise NotImplementedError` line with your solution, run that cell, then run this check again.
"""

from companion.exercises.ch1 import check_count_rnn_parameters, check_one_hot
from companion.exercises.ch2 import check_rnn_forward, check_rnn_step_forward
from companion.exercises.ch3 import (
    check_clip_grad_norm,
    check_rnn_backward,
    check_rnn_step_backward,
    check_truncated_rnn_backward,
)
from companion.exercises.ch4 import check_bits_per_char, check_perplexity, check_temporal_softmax_cross_entropy
from companion.exercises.ch5 import check_gru_step_forward, check_lstm_step_backward, check_lstm_step_forward
from companion.exercises.ch6 import (
    check_bag_of_words,
    check_beam_search,
    check_classifier_forward,
    check_last_hidden,
    check_sample_next,
    check_seasonal_naive,
    check_sliding_windows,
    check_softmax_with_temperature,
    check_top_p_filter,
)
from companion.exercises.ch7 import (
    check_count_lm_parameters,
    check_count_stacked_lstm_parameters,
    check_dropout_backward,
    check_embedding_backward,
    check_layer_norm_forward,
    check_locked_dropout_mask,
)
from companion.exercises.ch8 import (
    check_additive_attention,
    check_attention_backward,
    check_masked_softmax,
    check_scaled_dot_product_attention,
)
from companion.exercises.ch9 import (
    check_last_layer_state,
    check_linear_recurrence_scan,
    check_min_gru_coefficients,
    check_time_major_to_batch_first,
)
from companion.exercises.feedback import Feedback
from companion.exercises.forecasting import check_iterated_forecast
from companion.exercises.performance import check_gru_forward_hoisted, check_gru_matmul_flops
from companion.exercises.progress import Progress, progress, reset_progress
from companion.exercises.seq2seq import check_scheduled_inputs

#: Chapter titles for ``progress()`` (a chapter without one is "Chapter N").
CHAPTER_TITLES = {
    1: "Background",
    2: "Recurrence",
    3: "Backpropagation through time",
    4: "Losses",
    5: "LSTM and GRU",
    6: "Applications",
    7: "Training well",
    8: "Attention",
    9: "FAQ and appendices",
}

#: Every checker, by chapter (the fixed list of the course's exercises).
CHECKERS = {
    1: ("check_one_hot", "check_count_rnn_parameters"),
    2: ("check_rnn_step_forward", "check_rnn_forward"),
    3: ("check_rnn_step_backward", "check_rnn_backward", "check_truncated_rnn_backward", "check_clip_grad_norm"),
    4: ("check_temporal_softmax_cross_entropy", "check_perplexity", "check_bits_per_char"),
    5: ("check_lstm_step_forward", "check_lstm_step_backward", "check_gru_step_forward"),
    6: (
        "check_softmax_with_temperature",
        "check_sample_next",
        "check_top_p_filter",
        "check_last_hidden",
        "check_classifier_forward",
        "check_sliding_windows",
        "check_seasonal_naive",
        "check_iterated_forecast",
        "check_beam_search",
        "check_scheduled_inputs",
        "check_bag_of_words",
    ),
    7: (
        "check_embedding_backward",
        "check_count_lm_parameters",
        "check_dropout_backward",
        "check_locked_dropout_mask",
        "check_count_stacked_lstm_parameters",
        "check_layer_norm_forward",
    ),
    8: (
        "check_masked_softmax",
        "check_additive_attention",
        "check_attention_backward",
        "check_scaled_dot_product_attention",
    ),
    9: (
        "check_time_major_to_batch_first",
        "check_last_layer_state",
        "check_min_gru_coefficients",
        "check_linear_recurrence_scan",
        "check_gru_forward_hoisted",
        "check_gru_matmul_flops",
    ),
}

__all__ = [
    "Feedback",
    "CHECKERS",
    "CHAPTER_TITLES",
    "Progress",
    "progress",
    "reset_progress",
    *(name for names in CHECKERS.values() for name in names),
]
