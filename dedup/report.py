"""The HTML report of a run: one self-contained page (no network requests) that people can read.

:func:`write_report` writes summary figures, every reuse cluster with its documents, the
side-by-side aligned passages of the best document pairs of each cluster (edits highlighted,
boilerplate greyed out; see :func:`dedup.render.html_side_by_side`) and the boilerplate found.

It stays usable with thousands of clusters: clusters are shown ``page_size`` at a time (a few
lines of inline JavaScript page through them; without JavaScript all are listed), each cluster is
a collapsed ``<details>`` element, and a pair's side-by-side view is kept in a ``<template>``
that is only turned into page content when its cluster is opened. The number of pairs rendered
is bounded (``max_pairs`` in all, ``pairs_per_cluster`` per cluster, best scores first) and the
page says how many were left out. All corpus text (texts, ids, titles) is escaped.
"""

from __future__ import annotations

import html
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from .index import Index
from .render import DIFF_CSS, html_side_by_side
from .results import Boilerplate, Cluster, DocPair

__all__ = ["write_report"]

_PAGE_CSS = """
body { margin: 2em; font-family: sans-serif; }
.summary { background: #f4f4f4; padding: .6em 1em; }
details.cluster { border: 1px solid #ddd; margin: .4em 0; padding: .3em .6em; }
details.cluster > summary { cursor: pointer; font-weight: bold; }
ul.docs small { color: #555; }
.pager button { margin: 0 .3em; }
.omitted { color: #777; font-style: italic; }
"""

# Pages through clusters and instantiates a cluster's pair views when it is opened.
_SCRIPT = """
(function () {
  var clusters = Array.prototype.slice.call(document.querySelectorAll('details.cluster'));
  var size = parseInt(document.body.getAttribute('data-page-size'), 10) || 50;
  var pages = Math.max(1, Math.ceil(clusters.length / size));
  var page = 0;
  var label = document.getElementById('page-label');
  function show(p) {
    page = Math.min(Math.max(p, 0), pages - 1);
    clusters.forEach(function (c, i) { c.hidden = Math.floor(i / size) !== page; });
    label.textContent = 'page ' + (page + 1) + ' of ' + pages;
  }
  document.getElementById('prev').addEventListener('click', function () { show(page - 1); });
  document.getElementById('next').addEventListener('click', function () { show(page + 1); });
  clusters.forEach(function (c) {
    c.addEventListener('toggle', function () {
      if (!c.open) { return; }
      c.querySelectorAll('template.pair').forEach(function (t) {
        t.parentNode.replaceChild(t.content.cloneNode(true), t);
      });
    });
  });
  document.getElementById('pager').hidden = false;
  show(0);
})();
"""


def _label(idx: Index, doc_id: str, n: int = 80) -> str:
    title = idx.metadata(doc_id).get("title")
    text = str(title) if title else idx.text(doc_id)
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def write_report(
    idx: Index,
    path: str | os.PathLike[str],
    pairs: Sequence[DocPair],
    clusters: Sequence[Cluster],
    boilerplate: Sequence[Boilerplate],
    *,
    summary: str,
    max_pairs: int = 300,
    pairs_per_cluster: int = 10,
    page_size: int = 50,
) -> None:
    """Write the report page to ``path`` atomically (temporary file, then rename).

    Args:
        idx: the index the results come from (texts, metadata, alignment).
        path: the ``.html`` file to write.
        pairs, clusters, boilerplate: results of ``idx.pairs()``, ``idx.clusters()``,
            ``idx.boilerplate()``.
        summary: one line of summary figures shown at the top.
        max_pairs: side-by-side views rendered in all (default 300).
        pairs_per_cluster: side-by-side views per cluster at most, best pairs first (default 10).
        page_size: clusters per page (default 50).
    """
    e = html.escape
    cluster_of = {d: n for n, c in enumerate(clusters) for d in c.doc_ids}
    by_cluster: dict[int, list[DocPair]] = defaultdict(list)
    for p in pairs:
        n = cluster_of.get(p.a)
        if n is not None and cluster_of.get(p.b) == n:
            by_cluster[n].append(p)
    budget = max_pairs
    body = [
        f'<p class="summary">{e(summary)}</p>',
        f"<h2>Clusters ({len(clusters)})</h2>",
        '<p id="pager" class="pager" hidden><button id="prev" type="button">previous</button>'
        '<span id="page-label"></span><button id="next" type="button">next</button></p>',
        "<noscript><p>JavaScript is off: every cluster is listed, and pair views are not shown.</p></noscript>",
    ]
    for n, c in enumerate(clusters):
        docs = "".join(f"<li>{e(d)} <small>{e(_label(idx, d))}</small></li>" for d in c.doc_ids)
        parts = [
            f'<details class="cluster" id="cluster-{n}"><summary>#{n}: {len(c.doc_ids)} documents, '
            f"score {c.score:.2f} — {e(_label(idx, c.doc_ids[0], 60))}</summary>",
            f'<ul class="docs">{docs}</ul>',
        ]
        ranked = sorted(by_cluster.get(n, []), key=lambda p: (-p.score, p.a, p.b))
        shown = ranked[: min(pairs_per_cluster, budget)]
        budget -= len(shown)
        for i, p in enumerate(shown):
            frag = html_side_by_side(
                idx.text(p.a),
                idx.text(p.b),
                idx.passages(p.a, p.b),
                a_title=p.a,
                b_title=p.b,
                boilerplate_spans_a=idx.boilerplate_spans(p.a),
                boilerplate_spans_b=idx.boilerplate_spans(p.b),
                id_prefix=f"c{n}p{i}-",
            )
            parts.append(f'<template class="pair"><h4>{e(p.a)} ~ {e(p.b)}: score {p.score:.2f}</h4>{frag}</template>')
        if len(ranked) > len(shown):
            parts.append(f'<p class="omitted">{len(ranked) - len(shown)} more pairs in this cluster not shown</p>')
        parts.append("</details>")
        body.append("".join(parts))
    if boilerplate:
        body.append(f"<h2>Boilerplate ({len(boilerplate)} recurring texts, not counted as reuse)</h2><ul>")
        for b in boilerplate[:200]:
            snippet = " ".join(b.text.split())
            snippet = snippet if len(snippet) <= 200 else snippet[:199] + "…"
            body.append(f"<li>{b.doc_count} documents: {e(snippet)}</li>")
        if len(boilerplate) > 200:
            body.append(f'<li class="omitted">{len(boilerplate) - 200} more not shown</li>')
        body.append("</ul>")
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>dedup report</title>\n'
        f"<style>{_PAGE_CSS}{DIFF_CSS}</style>\n</head>\n"
        f'<body data-page-size="{int(page_size)}">\n<h1>dedup report</h1>\n'
        + "\n".join(body)
        + f"\n<script>{_SCRIPT}</script>\n</body>\n</html>\n"
    )
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
