"""The HTML report in a real headless browser (Debian's chromium via selenium + chromedriver).

Skips, saying why, where chromium, chromedriver or selenium is missing; `.ci/run` installs them.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from dedup import Index
from dedup.report import write_report

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
EVIL = "<script>alert(1)</script></template></script><b>not bold</b>"


def _report(tmp_path: Path, seeds: dict[str, str], page_size: int = 50) -> tuple[Path, Index]:
    idx = Index()
    idx.add_many(list(seeds.items()))
    idx.add("evil <id>", seeds["000"] + "\n\n" + EVIL + " and some closing words of the paragraph.", title=EVIL)
    pairs = list(idx.pairs())
    clusters = idx.clusters()
    out = tmp_path / "report.html"
    write_report(idx, out, pairs, clusters, idx.boilerplate(), summary="documents=6", page_size=page_size)
    return out, idx


def test_report_is_self_contained_and_escaped(tmp_path: Path, seeds: dict[str, str]) -> None:
    out, _ = _report(tmp_path, seeds)
    page = out.read_text(encoding="utf-8")
    # no network requests: no external resources or links (article text may mention URLs)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//|<link|@import|url\(""", page)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<script>") == 1  # only the report's own
    assert "evil &lt;id&gt;" in page and not list(tmp_path.glob(".*.tmp"))  # written atomically


def test_report_pages_through_many_clusters_and_bounds_pair_views(tmp_path: Path) -> None:
    from dedup.results import Cluster, DocPair

    idx = Index()
    recs = []
    for k in range(3000):
        body = " ".join(f"c{k}w{i}" for i in range(30)) + "."
        recs += [(f"d{k}a", body), (f"d{k}b", body)]
    idx.add_many(recs)
    clusters = [Cluster((f"d{k}a", f"d{k}b"), 1, 1.0) for k in range(3000)]
    pairs = [DocPair(f"d{k}a", f"d{k}b", 1.0, 1.0, 1.0, ()) for k in range(3000)]
    out = tmp_path / "r.html"
    write_report(idx, out, pairs, clusters, [], summary="x", max_pairs=40, page_size=100)
    page = out.read_text(encoding="utf-8")
    assert page.count('<details class="cluster"') == 3000
    assert page.count('<template class="pair">') == 40  # bounded
    assert out.stat().st_size < 5_000_000


@pytest.fixture
def browser() -> Any:
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
    if not (CHROMIUM and DRIVER):
        pytest.skip("Debian's chromium and chromium-driver are missing (apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(DRIVER), options=opts)
    try:
        yield drv
    finally:
        drv.quit()


def test_report_in_headless_chromium(tmp_path: Path, seeds: dict[str, str], browser: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    out, idx = _report(tmp_path, seeds, page_size=2)
    browser.get(out.as_uri())
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert  # noqa: B018 - the article's <script> must not have run
    n_clusters = len(idx.clusters())
    pages = -(-n_clusters // 2)
    label = browser.find_element(By.ID, "page-label")
    assert label.text == f"page 1 of {pages}"
    visible = [c for c in browser.find_elements(By.CSS_SELECTOR, "details.cluster") if c.is_displayed()]
    assert len(visible) == min(2, n_clusters)
    if pages > 1:
        browser.find_element(By.ID, "next").click()
        assert label.text == f"page 2 of {pages}"
        browser.find_element(By.ID, "prev").click()
    # open the cluster holding the article with <script> in it
    all_clusters = browser.find_elements(By.CSS_SELECTOR, "details.cluster")
    cluster = next(c for c in all_clusters if "evil <id>" in c.get_attribute("textContent"))
    if not cluster.is_displayed():
        while not cluster.is_displayed():
            browser.find_element(By.ID, "next").click()
    assert cluster.find_elements(By.CSS_SELECTOR, "a.psg") == []  # pair views are lazy
    cluster.find_element(By.TAG_NAME, "summary").click()
    assert cluster.get_attribute("open") is not None
    docs = [li.text for li in cluster.find_elements(By.CSS_SELECTOR, "ul.docs li")]
    assert any(d.startswith("evil <id>") for d in docs)
    passages = cluster.find_elements(By.CSS_SELECTOR, "a.psg")
    assert passages and all(p.is_displayed() for p in passages[:3])
    assert "<script>alert(1)</script>" in cluster.text  # the article's markup shows as text
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert  # noqa: B018
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []
