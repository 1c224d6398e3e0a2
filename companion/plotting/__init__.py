"""Figures used by the chapters; one module per kind of picture, each function returns the ``Axes`` it drew on."""
