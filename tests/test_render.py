"""Tests of dedup.render: terminal listing and the HTML side-by-side fragment."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.align import align
from dedup.errors import InvalidTypeError
from dedup.render import DIFF_CSS, format_passages, html_page, html_side_by_side
from dedup.text import tokenize

FIXTURES = Path(__file__).parent / "fixtures"
A = "Intro. Things are bad with food, we are constantly saving it, he said. End of story here."
B = "Things are bad with FOOD; we are always saving it, he said, the man. Outro."


def test_format_plain_markers():
    out = format_passages(A, B, align(A, B), color=False)
    assert out.splitlines()[0].startswith("passage 1: a[7:")
    assert "[-constantly-]{+always+}" in out
    assert "\x1b[" not in out


def test_format_color():
    out = format_passages(A, B, align(A, B), color=True)
    assert "\x1b[31;9mconstantly\x1b[0m" in out and "\x1b[32;1malways\x1b[0m" in out
    assert "[-" not in out


def test_format_no_passages():
    assert format_passages("x", "y", [], color=False) == "no passages"


def test_format_rejects_foreign_passages():
    ps = align(A * 3, A * 3)
    with pytest.raises(InvalidTypeError):
        format_passages(A, A, ps, color=False)
    with pytest.raises(InvalidTypeError):
        format_passages(A, A, ["nope"], color=False)  # type: ignore[list-item]


def test_format_reconstructs_b_without_markers():
    """Dropping the [-old-] parts and the {+ +} braces gives the words of the b passage."""
    texts = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("*.txt"))]
    ps = align(texts[0], texts[2])
    out = format_passages(texts[0], texts[2], ps, color=False)
    blocks = re.split(r"^passage \d+: .*$\n", out, flags=re.M)[1:]
    for p, block in zip(ps, blocks, strict=True):
        body = block.rstrip("\n")[2:].replace("\n  ", "\n")
        plain = re.sub(r"\[-.*?-\]", "", body, flags=re.S).replace("{+", "").replace("+}", "")
        assert tokenize(plain).words == tokenize(texts[2][p.b_start : p.b_end]).words
        if all(op.kind != "delete" for op in p.ops):
            assert plain == texts[2][p.b_start : p.b_end]


class _Checker(HTMLParser):
    """Collects tags and text; checks that every tag is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.stack.append(tag)
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (self.stack, tag)
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def _parse(fragment: str) -> _Checker:
    c = _Checker()
    c.feed(fragment)
    c.close()
    assert c.stack == []
    return c


def test_html_escapes_everything():
    a = 'Hi <script>alert("x")</script> & one two three four five six seven eight nine'
    b = 'Re: <script>alert("x")</script> & one two three four five six seven eight nine'
    frag = html_side_by_side(a, b, align(a, b), a_title="<b>A</b>", b_title="B & co")
    assert "<script" not in frag and "&lt;" in frag
    assert "<b>A</b>" not in frag and "&lt;b&gt;A&lt;/b&gt;" in frag
    c = _parse(frag)
    assert "".join(c.text).count('<script>alert("x")</script>') == 2


def test_html_links_passages_on_both_sides():
    texts = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("*.txt"))]
    ps = align(texts[0], texts[2])
    frag = html_side_by_side(texts[0], texts[2], ps, a_title="000", b_title="002")
    assert frag.startswith('<div class="dedup-diff">')
    c = _parse(frag)
    anchors = {attrs["id"]: attrs for tag, attrs in c.tags if tag == "a"}
    for n in range(1, len(ps) + 1):
        a_id, b_id = f"p{n}a", f"p{n}b"
        assert anchors[a_id]["href"] == f"#{b_id}" and anchors[b_id]["href"] == f"#{a_id}"
        assert anchors[a_id]["class"] == anchors[b_id]["class"]
    classes = {attrs.get("class") for _, attrs in c.tags}
    assert {"del", "ins"} <= classes
    # The visible text of each side is the whole document, unchanged.
    side_text = html.unescape(re.sub(r"<[^>]+>", "", frag))
    assert texts[0] in side_text and texts[2] in side_text


def test_html_boilerplate_greyed():
    texts = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("*.txt"))]
    lo = texts[2].index("Help those fleeing")
    frag = html_side_by_side(
        texts[0], texts[2], align(texts[0], texts[2]), boilerplate_spans_b=[(lo, len(texts[2]))]
    )
    c = _parse(frag)
    grey = [i for i, (_, attrs) in enumerate(c.tags) if attrs.get("class") == "boilerplate"]
    assert grey
    assert "Help those fleeing" in re.findall(r'<span class="boilerplate">(.*?)</span>', frag,
                                               flags=re.S)[0]


def test_html_boilerplate_overlapping_passage_keeps_nesting():
    a = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu"
    frag = html_side_by_side(a, a, align(a, a), boilerplate_spans_a=[(3, 30), (25, 200)])
    _parse(frag)


def test_html_bad_spans():
    with pytest.raises(InvalidTypeError):
        html_side_by_side("a", "b", [], boilerplate_spans_a=[("x", 1)])  # type: ignore[list-item]


def test_html_page_standalone():
    page = html_page(html_side_by_side("a b", "c d", []), "Report <1>")
    assert page.startswith("<!DOCTYPE html>") and DIFF_CSS in page
    assert "<title>Report &lt;1&gt;</title>" in page


@settings(max_examples=80, deadline=None)
@given(
    a=st.text(st.characters(blacklist_categories=("Cs",)), max_size=200),
    words=st.lists(st.sampled_from(["<b>", "&amp;", "war", "Pskov", "\"q\"", "x"]), max_size=40),
)
def test_html_well_formed_on_arbitrary_text(a, words):
    b = a + " " + " ".join(words)
    frag = html_side_by_side(a, b, align(a, b, min_words=2, shingle_size=2))
    c = _parse(frag)
    text = "".join(c.text)
    assert a in text and b in text
    out = format_passages(a, b, align(a, b, min_words=2, shingle_size=2), color=False)
    assert isinstance(out, str)
