"""NumPy-from-scratch layers: forward returns ``(out, cache)``, ``backward(dout, cache)`` returns gradients."""

# -- vanilla RNN, BPTT, layers, losses, optimisers, sampling, models (numpy-rnn worker) --
from companion.numpy import activations, bptt, charmodel, classifier, gradcheck, layers, losses, optim, rnn, sampling
from companion.numpy.activations import relu, sigmoid, tanh
from companion.numpy.bptt import chunked_bptt, truncated_rnn_backward
from companion.numpy.classifier import (
    classifier_forward,
    classifier_loss_and_grads,
    init_classifier_params,
    last_hidden,
    last_hidden_backward,
    masked_mean_pool,
    masked_mean_pool_backward,
)
from companion.numpy.gradcheck import grad_check, numerical_gradient, rel_error
from companion.numpy.layers import (
    affine_backward,
    affine_forward,
    embedding_backward,
    embedding_forward,
    one_hot,
    temporal_affine_backward,
    temporal_affine_forward,
)
from companion.numpy.losses import (
    bits_per_char,
    log_softmax,
    mae_loss,
    mse_loss,
    perplexity,
    perplexity_from_logits,
    sigmoid_binary_cross_entropy,
    softmax_cross_entropy,
    temporal_softmax_cross_entropy,
)
from companion.numpy.optim import SGD, Adagrad, Adam, RMSProp, clip_grad_norm, clip_grad_value
from companion.numpy.rnn import (
    count_rnn_parameters,
    init_rnn_params,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
)
from companion.numpy.sampling import sample_next, softmax_with_temperature, top_k_filter

# -- LSTM, GRU, stacked/bidirectional layers, torch weight exchange (numpy-gated worker) --
from companion.numpy import gru, lstm, stacked, torch_io
from companion.numpy.gru import gru_backward, gru_forward, gru_step_backward, gru_step_forward, init_gru_params
from companion.numpy.lstm import (
    init_lstm_params,
    lstm_backward,
    lstm_backward_with_cell,
    lstm_final_state,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
)
from companion.numpy.stacked import stacked_backward, stacked_forward
from companion.numpy.torch_io import params_from_state_dict, params_to_state_dict
