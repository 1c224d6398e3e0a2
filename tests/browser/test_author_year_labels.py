"""The bibliography's author-year labels (book/_ext/author_year_labels.py) match the in-text citations."""

from __future__ import annotations

import sys
from pathlib import Path

from pybtex.database import parse_string

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "book" / "_ext"))
import author_year_labels as ayl  # noqa: E402

BIB = r"""
@misc{one, author = {Elman, Jeffrey L.}, title = {Finding structure in time}, year = {1990}}
@misc{two, author = {Hochreiter, Sepp and Schmidhuber, J{\"u}rgen}, title = {Long short-term memory},
  year = {1997}}
@misc{many1, author = {Cho, Kyunghyun and van Merri{\"e}nboer, Bart and Bengio, Yoshua},
  title = {Learning phrase representations}, year = {2014}}
@misc{many2, author = {Cho, Kyunghyun and Gulcehre, Caglar and Bengio, Yoshua},
  title = {On the properties of neural machine translation}, year = {2014}}
@misc{prefix, author = {van der Maaten, Laurens}, title = {t-SNE}, year = {2008}}
"""


def labels() -> dict[str, str]:
    entries = parse_string(BIB, "bibtex").entries
    style = ayl.AuthorYearStyle()
    formatted = style.format_entries(entries.values())
    return {e.key: e.label for e in formatted}


def test_labels_read_like_the_citations_in_the_text():
    got = labels()
    assert got["one"] == "Elman, 1990"
    assert got["two"] == "Hochreiter and Schmidhuber, 1997"
    assert got["prefix"] == "van der Maaten, 2008"


def test_labels_that_would_collide_get_a_letter():
    got = labels()
    assert {got["many1"], got["many2"]} == {"Cho et al., 2014a", "Cho et al., 2014b"}
