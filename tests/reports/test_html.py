"""``compare --html``: one self-contained page whose numbers are table.md's, opened and sorted in a real browser."""

from __future__ import annotations

import argparse
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fabricated_runs import ALIGN, BASE, write_run  # tests/reports/

from xlingual.reports.compare import register


class _Tables(HTMLParser):
    """Every table's rows as cell texts, by the table's id."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.current: str | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.current = attrs.get("id") or f"table{len(self.tables)}"
            self.tables[self.current] = []
        elif tag == "tr" and self.current:
            self.tables[self.current].append([])
        elif tag in ("td", "th") and self.current:
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None and self.current:
            self.tables[self.current][-1].append("".join(self.cell).strip())
            self.cell = None
        elif tag == "table":
            self.current = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def _markdown_rows(markdown: str, heading: str) -> list[list[str]]:
    block = markdown.split(f"## {heading}\n", 1)[1].lstrip("\n").split("\n\n", 1)[0]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in block.splitlines() if line.startswith("|")]
    return [rows[0], *rows[2:]]  # without the alignment row


@pytest.fixture
def report(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "sweep"
    for seed, right in BASE.items():
        write_run(root / "base" / f"seed{seed}", "base", seed, right)
    for seed, right in ALIGN.items():
        write_run(root / "align" / f"seed{seed}", "align", seed, right, alignment=True,
                  target_resources=("unlabeled-target",))
    parser = argparse.ArgumentParser(prog="xlingual")
    register(parser.add_subparsers(dest="command"))
    out = tmp_path / "out"
    args = parser.parse_args(["compare", str(root), "--out", str(out), "--baseline", "base", "--bootstrap", "200",
                              "--html"])
    assert args.func(args) == 0
    return out / "report.html", out / "table.md"


def test_report_holds_the_tables_numbers_and_nothing_from_the_network(report):
    page_path, markdown_path = report
    page = page_path.read_text()
    markdown = markdown_path.read_text()
    tables = _Tables()
    tables.feed(page)
    assert tables.tables["scores-macro_f1"] == _markdown_rows(markdown, "macro-F1 (%)")
    assert tables.tables["scores-accuracy"] == _markdown_rows(markdown, "accuracy (%)")
    # the protocol warning (one recipe uses target text) is on the page
    assert "only zero-shot runs use no target-language data" in page
    # paired Δ against the baseline, per-language bars and the confusion matrices are there
    assert tables.tables["baseline"][1][0] == "align"
    assert page.count('src="data:image/png;base64,') >= 2
    assert page.count('class="confusion"') == 4  # 2 recipes × 2 languages
    # self-contained: no URL other than data: anywhere a browser would fetch one
    assert not re.search(r'(src|href)="(?!data:)', page)
    assert "<link" not in page and "@import" not in page and "url(" not in page


def _browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("no headless Chromium: apt-get install chromium chromium-driver (.ci/run does where it can)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1600"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(driver), options=options)


def test_report_renders_and_sorts_in_chromium(report, tmp_path):
    page_path, _ = report
    browser = _browser()
    try:
        from selenium.webdriver.common.by import By

        browser.get(page_path.resolve().as_uri())
        table = browser.find_element(By.ID, "scores-macro_f1")
        rows = lambda: [r.find_elements(By.TAG_NAME, "td")[0].text  # noqa: E731
                        for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
        assert sorted(rows()) == ["align", "base"]
        headers = table.find_elements(By.TAG_NAME, "th")
        spanish = next(h for h in headers if h.text.strip() == "spanish")
        spanish.click()  # ascending: base (50.0) before align (80.0)
        assert rows() == ["base", "align"]
        assert spanish.get_attribute("data-order") == "asc"
        spanish.click()
        assert rows() == ["align", "base"]
        images = browser.find_elements(By.TAG_NAME, "img")
        assert images and all(browser.execute_script("return arguments[0].naturalWidth", i) > 100 for i in images)
        fetched = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert all(name.startswith("data:") for name in fetched), fetched
        shot = tmp_path / "report.png"
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    finally:
        browser.quit()
