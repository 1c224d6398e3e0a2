"""Companion package of the course *Recurrent Neural Networks, from equations to code*.

Subpackages mirror the book:

- :mod:`companion.numpy`: every equation as a NumPy function with a hand-written backward pass.
- :mod:`companion.torch`: the same cells written with ``nn.Parameter``, task models, sampling, a trainer.
- :mod:`companion.data`: vocabularies, batching, real datasets (offline-capable) and synthetic tasks.
- :mod:`companion.exercises`: checkers that grade a learner's function and explain what is wrong.
- :mod:`companion.plotting`: figures used by the chapters.
"""

from companion.reproducibility import default_rng, environment_report, seed_everything

__version__ = "0.1.0"
__all__ = ["__version__", "seed_everything", "environment_report", "default_rng"]
