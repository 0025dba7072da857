"""Show alignments to people: a terminal listing and an HTML side-by-side view.

:func:`format_passages` lists the passages of an alignment with their offsets and similarity and
the ``b`` text of each with its edits marked (ANSI colours, or ``[-old-]{+new+}`` markers).
:func:`html_side_by_side` returns an HTML *fragment* (a ``<div class="dedup-diff">``; style it
with :data:`DIFF_CSS`) with both documents side by side, the aligned passages highlighted and
linked (same colour and anchor ids on both sides), edits marked inside them and boilerplate greyed
out. :func:`html_page` wraps a fragment into a standalone page. All document text is escaped with
:func:`html.escape`, so a document containing ``<script>`` shows as text.

>>> from dedup.align import align
>>> a = "Intro. Things are bad with food, we are constantly saving it, he said."
>>> b = "Things are bad with FOOD; we are always saving it, he said. Outro."
>>> print(format_passages(a, b, align(a, b), color=False))
passage 1: a[7:69] b[0:58] similarity 0.92
  Things are bad with FOOD; we are [-constantly-]{+always+} saving it, he said
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from .align import Passage
from .errors import InvalidTypeError
from .text import coerce_text

__all__ = ["format_passages", "html_side_by_side", "html_page", "DIFF_CSS"]

_RED = "\x1b[31;9m"  # red, strikethrough
_GREEN = "\x1b[32;1m"  # bold green
_DIM = "\x1b[2m"
_RESET = "\x1b[0m"


def _check_passages(passages: Iterable[Passage], len_a: int, len_b: int) -> list[Passage]:
    out = list(passages)
    for p in out:
        if not isinstance(p, Passage):
            raise InvalidTypeError(f"passages must be dedup.align.Passage, not {type(p).__name__}")
        if not (0 <= p.a_start <= p.a_end <= len_a and 0 <= p.b_start <= p.b_end <= len_b):
            raise InvalidTypeError(
                f"passage {p.a_start}:{p.a_end} / {p.b_start}:{p.b_end} does not fit the texts "
                f"({len_a} and {len_b} characters); were they aligned on other texts?"
            )
    return out


def format_passages(
    a_text: str, b_text: str, passages: Iterable[Passage], *, color: bool = False
) -> str:
    """Format passages for a terminal, the ``b`` text of each with its edits marked.

    Parameters
    ----------
    a_text, b_text : str
        The texts the passages were aligned on.
    passages : iterable of Passage
        The output of :func:`dedup.align.align` on these texts.
    color : bool, default False
        ``True``: ANSI colours (words of ``a`` that ``b`` dropped or replaced in red with
        strikethrough, words ``b`` added in bold green). ``False``: plain markers, ``[-old-]``
        for words of ``a`` that are gone and ``{+new+}`` for words of ``b`` that are new.

    Returns
    -------
    str
        One header line per passage (1-based number, character spans, similarity) followed by
        the marked-up text indented by two spaces; ``"no passages"`` when there are none.
    """
    a_text = coerce_text(a_text, what="a_text")
    b_text = coerce_text(b_text, what="b_text")
    items = _check_passages(passages, len(a_text), len(b_text))
    if not items:
        return "no passages"
    if color:
        old = (_RED, _RESET)
        new = (_GREEN, _RESET)
    else:
        old = ("[-", "-]")
        new = ("{+", "+}")
    lines = []
    for n, p in enumerate(items, 1):
        head = (
            f"passage {n}: a[{p.a_start}:{p.a_end}] b[{p.b_start}:{p.b_end}] "
            f"similarity {p.similarity:.2f}"
        )
        lines.append(f"{_DIM}{head}{_RESET}" if color else head)
        body = []
        for op in p.ops:
            a_part = a_text[op.a_start : op.a_end]
            b_part = b_text[op.b_start : op.b_end]
            if op.kind == "equal":
                body.append(b_part)
                continue
            # Marks hold the words; the separator after them stays outside, unmarked.
            a_cut = _trim_end(a_text, op.a_start, op.a_end) - op.a_start if a_part else 0
            b_cut = _trim_end(b_text, op.b_start, op.b_end) - op.b_start if b_part else 0
            if a_part:
                body.append(f"{old[0]}{a_part[:a_cut]}{old[1]}")
            if b_part:
                body.append(f"{new[0]}{b_part[:b_cut]}{new[1]}")
            body.append(b_part[b_cut:] if b_part else " ")
        text = "".join(body).replace("\n", "\n  ")
        lines.append("  " + text)
    return "\n".join(lines)


#: CSS for the fragment returned by :func:`html_side_by_side` (scoped to ``.dedup-diff``).
DIFF_CSS = """\
.dedup-diff { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5em;
  font-family: Georgia, serif; font-size: 15px; line-height: 1.45; }
.dedup-diff .doc { white-space: pre-wrap; overflow-wrap: anywhere; border: 1px solid #ddd;
  padding: 0.8em; border-radius: 4px; }
.dedup-diff h3 { font-family: sans-serif; font-size: 14px; margin: 0 0 0.6em 0; }
.dedup-diff .psg { border-radius: 3px; padding: 0 1px; }
.dedup-diff a.psg { color: inherit; text-decoration: none; }
.dedup-diff .c0 { background: #fff3b0; } .dedup-diff .c1 { background: #c9f2ff; }
.dedup-diff .c2 { background: #ffd6e7; } .dedup-diff .c3 { background: #d4f7c5; }
.dedup-diff .c4 { background: #e6dcff; } .dedup-diff .c5 { background: #ffe0c2; }
.dedup-diff .del { color: #b00020; text-decoration: line-through; }
.dedup-diff .ins { color: #006b1b; font-weight: bold; }
.dedup-diff .boilerplate { color: #999; }
.dedup-diff .psg:target { outline: 2px solid #333; }
.dedup-diff .legend { grid-column: 1 / span 2; font-family: sans-serif; font-size: 12px;
  color: #555; }
"""

_N_COLOURS = 6


def _render_side(
    text: str,
    marks: list[tuple[int, int, str, str]],
    boilerplate: Sequence[tuple[int, int]],
) -> str:
    """Escape ``text`` and wrap the ``(start, end, open_tag, close_tag)`` spans of ``marks``.

    Marks must nest properly (edit marks inside their passage). Boilerplate spans are applied
    to the escaped text between tag boundaries, so overlapping boilerplate never breaks nesting.
    """
    n = len(text)
    bp = sorted((max(0, s), min(n, e)) for s, e in boilerplate if min(n, e) > max(0, s))
    cuts = {0, n}
    for s, e, _, _ in marks:
        cuts.update((s, e))
    for s, e in bp:
        cuts.update((s, e))
    points = sorted(cuts)
    opens: dict[int, list[tuple[int, str, str]]] = {}
    for s, e, open_tag, close_tag in marks:
        opens.setdefault(s, []).append((e, open_tag, close_tag))
    out: list[str] = []
    stack: list[tuple[int, str]] = []
    for idx, pos in enumerate(points):
        while stack and stack[-1][0] <= pos:
            out.append(stack.pop()[1])
        for end, open_tag, close_tag in sorted(opens.get(pos, []), key=lambda x: -x[0]):
            out.append(open_tag)
            stack.append((end, close_tag))
        if idx + 1 < len(points):
            nxt = points[idx + 1]
            chunk = html.escape(text[pos:nxt])
            in_bp = any(s <= pos and nxt <= e for s, e in bp)
            out.append(f'<span class="boilerplate">{chunk}</span>' if in_bp and chunk else chunk)
    while stack:
        out.append(stack.pop()[1])
    return "".join(out)


def html_side_by_side(
    a_text: str,
    b_text: str,
    passages: Iterable[Passage],
    *,
    a_title: str = "a",
    b_title: str = "b",
    boilerplate_spans_a: Iterable[tuple[int, int]] = (),
    boilerplate_spans_b: Iterable[tuple[int, int]] = (),
    id_prefix: str = "p",
) -> str:
    """Both documents side by side as an HTML fragment, aligned passages highlighted and linked.

    Parameters
    ----------
    a_text, b_text : str
        The texts the passages were aligned on (shown in full, escaped).
    passages : iterable of Passage
        The output of :func:`dedup.align.align`. Passage ``n`` gets the same background colour
        on both sides and the ids ``{id_prefix}{n}a`` / ``{id_prefix}{n}b``; clicking it on one
        side jumps to it on the other. Words of ``a`` that ``b`` dropped or replaced are struck
        through (class ``del``), words ``b`` added are bold (class ``ins``). Passages that
        overlap on one side (the same sentence reused twice) are shown on that side with the
        first one only.
    a_title, b_title : str
        Headings of the two columns (escaped).
    boilerplate_spans_a, boilerplate_spans_b : iterable of (start, end)
        Character spans to grey out (class ``boilerplate``), such as detected boilerplate.
    id_prefix : str, default "p"
        Prefix of the element ids, so several fragments can live in one report page.

    Returns
    -------
    str
        ``<div class="dedup-diff">...</div>``; include :data:`DIFF_CSS` in the page to style it.

    >>> frag = html_side_by_side("<script>x</script> one two", "nothing", [])
    >>> "&lt;script&gt;" in frag and "<script>" not in frag
    True
    """
    a_text = coerce_text(a_text, what="a_text")
    b_text = coerce_text(b_text, what="b_text")
    items = _check_passages(passages, len(a_text), len(b_text))
    pre = html.escape(id_prefix, quote=True)
    marks_a: list[tuple[int, int, str, str]] = []
    marks_b: list[tuple[int, int, str, str]] = []
    taken_a: list[tuple[int, int]] = []
    taken_b: list[tuple[int, int]] = []

    def free(taken: list[tuple[int, int]], s: int, e: int) -> bool:
        return all(e <= x or s >= y for x, y in taken)

    for n, p in enumerate(items, 1):
        colour = f"c{(n - 1) % _N_COLOURS}"
        title = html.escape(f"passage {n}, similarity {p.similarity:.2f}", quote=True)
        for side, marks, taken, s, e, other in (
            ("a", marks_a, taken_a, p.a_start, p.a_end, "b"),
            ("b", marks_b, taken_b, p.b_start, p.b_end, "a"),
        ):
            if not free(taken, s, e):
                continue
            taken.append((s, e))
            marks.append(
                (
                    s,
                    e,
                    f'<a class="psg {colour}" id="{pre}{n}{side}" href="#{pre}{n}{other}" '
                    f'title="{title}">',
                    "</a>",
                )
            )
            for op in p.ops:
                if op.kind == "equal":
                    continue
                os_, oe = (op.a_start, op.a_end) if side == "a" else (op.b_start, op.b_end)
                if oe > os_:
                    cls = "del" if side == "a" else "ins"
                    text = a_text if side == "a" else b_text
                    end = _trim_end(text, os_, oe)
                    marks.append((os_, end, f'<span class="{cls}">', "</span>"))
    body_a = _render_side(a_text, marks_a, _spans(boilerplate_spans_a, "boilerplate_spans_a"))
    body_b = _render_side(b_text, marks_b, _spans(boilerplate_spans_b, "boilerplate_spans_b"))
    legend = (
        f"{len(items)} aligned passage{'s' if len(items) != 1 else ''}; "
        '<span class="del">struck</span>: only on the left, '
        '<span class="ins">bold</span>: only on the right, '
        '<span class="boilerplate">grey</span>: boilerplate'
    )
    return (
        '<div class="dedup-diff">\n'
        f'<div class="doc side-a"><h3>{html.escape(a_title)}</h3>{body_a}</div>\n'
        f'<div class="doc side-b"><h3>{html.escape(b_title)}</h3>{body_b}</div>\n'
        f'<div class="legend">{legend}</div>\n'
        "</div>"
    )


def _trim_end(text: str, start: int, end: int) -> int:
    """Shrink ``[start, end)`` so trailing spaces and punctuation stay outside an edit mark."""
    while end > start + 1 and not text[end - 1].isalnum():
        end -= 1
    return end


def _spans(spans: Iterable[tuple[int, int]], what: str) -> list[tuple[int, int]]:
    out = []
    for sp in spans:
        try:
            s, e = sp
        except (TypeError, ValueError):
            raise InvalidTypeError(f"{what} must hold (start, end) pairs, not {sp!r}") from None
        if not isinstance(s, int) or not isinstance(e, int):
            raise InvalidTypeError(f"{what} must hold (start, end) int pairs, not {sp!r}")
        out.append((s, e))
    return out


def html_page(fragment: str, title: str = "dedup alignment") -> str:
    """Wrap a fragment from :func:`html_side_by_side` into a standalone HTML page.

    >>> html_page("<div></div>", "A & B").count("A &amp; B")  # in <title> and <h1>
    2
    """
    if not isinstance(fragment, str) or not isinstance(title, str):
        raise InvalidTypeError("fragment and title must be str")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<style>\n"
        "body { margin: 2em; }\n"
        f"{DIFF_CSS}</style>\n</head>\n<body>\n<h1>{html.escape(title)}</h1>\n"
        f"{fragment}\n</body>\n</html>\n"
    )
