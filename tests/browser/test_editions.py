"""The edition comparison (both_editions.py) and the CJK font judgement of check_book.py, on made-up pages."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_book import PageResult, judge_cjk  # noqa: E402
from both_editions import compare_editions  # noqa: E402

PAGE = """<html lang="{lang}"><body><a class="edition-switch" href="{switch}">x</a><main>
<p>{prose}</p><pre>{code}</pre><div class="math">\\[h_t\\]</div><img src="../_images/a.png"></main></body></html>"""


def write_book(root: Path, code_zh: str = "print(1)", switch_zh: str = "../../book/a.html") -> Path:
    (root / "book").mkdir(parents=True)
    (root / "zh" / "book").mkdir(parents=True)
    (root / "book" / "a.html").write_text(
        PAGE.format(lang="en", switch="../zh/book/a.html", prose="Text", code="print(1)"), encoding="utf8")
    (root / "zh" / "book" / "a.html").write_text(
        PAGE.format(lang="zh-CN", switch=switch_zh, prose="正文", code=code_zh), encoding="utf8")
    return root


def test_identical_editions_pass(tmp_path):
    problems, counts = compare_editions(write_book(tmp_path), ["book/a.html", "zh/book/a.html"])
    assert problems == []
    assert counts["code and outputs"] == 1 and counts["display equations"] == 1 and counts["images"] == 1


def test_a_changed_output_is_found(tmp_path):
    problems, _ = compare_editions(write_book(tmp_path, code_zh="print(2)"), ["book/a.html"])
    assert len(problems) == 1 and "code and outputs differ" in problems[0]


def test_a_wrong_switch_is_found(tmp_path):
    problems, _ = compare_editions(write_book(tmp_path, switch_zh="../../index.html"), ["book/a.html"])
    assert len(problems) == 1 and "language switch of zh/book/a.html" in problems[0]


def test_a_missing_chinese_page_is_found(tmp_path):
    write_book(tmp_path)
    (tmp_path / "book" / "b.html").write_text("<html></html>", encoding="utf8")
    problems, _ = compare_editions(tmp_path, ["book/a.html", "book/b.html"])
    assert problems == ["editions: book/b.html has no Chinese page zh/book/b.html"]


@pytest.mark.parametrize("fonts, ok", [
    ([{"familyName": "Noto Sans CJK SC", "glyphCount": 4}, {"familyName": "DejaVu Sans", "glyphCount": 3}], True),
    ([{"familyName": "PingFang SC", "glyphCount": 4}], True),
    ([{"familyName": "DejaVu Sans", "glyphCount": 7}], False),  # empty boxes drawn by a Latin font
    ([{"familyName": "Noto Sans CJK SC", "glyphCount": 2}], False),  # half the characters elsewhere
])
def test_cjk_judgement(fonts, ok):
    result = PageResult("zh/book/a.html", 1280)
    judge_cjk(result, [{"tag": "p", "cjk": 4, "text": "循环神经", "fonts": fonts}])
    assert ("cjk" not in result.failures) is ok


def test_a_page_without_chinese_fails():
    result = PageResult("zh/book/a.html", 1280)
    judge_cjk(result, [])
    assert "cjk" in result.failures
