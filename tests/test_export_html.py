"""The flame graph page in a real browser: headless Chromium (Debian's chromium, installed by make test's set-up)
opens the file with the network off, logs no console error, asks for nothing but the file itself, and the
page zooms on a click, searches, shows a tooltip and resets (read back from the DOM)."""
from __future__ import annotations

import json

import pytest

from chromium_cdp import Browser, chromium_path
from export_helpers import input_copy, pyperf, unpack_symfs

FRAME = "[...document.querySelectorAll('.frame')].find(e => e.dataset.name === %s)"


@pytest.fixture(scope="module")
def browser():
    assert chromium_path(), "chromium is not installed: make test installs it (Makefile APT_PACKAGES)"
    with Browser() as b:
        yield b


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """Flame graph pages of a cpu-clock recording (frame pointers) and of a uprobe recording."""
    tmp = tmp_path_factory.mktemp("html")
    out = {}
    for key, data, group in (("cpu", "cpu_fp.data", "export"), ("probe", "report/mt.data", "report")):
        html = tmp / f"{key}.html"
        proc = pyperf("script", "report", "flamegraph", "-i", input_copy(data, tmp), "--symfs",
                      unpack_symfs(group, tmp), "-o", html, home=tmp)
        assert proc.returncode == 0, proc.stderr
        out[key] = html
    return out


def _center(page, name):
    rect = page.evaluate(f"(function(){{var r = {FRAME % json.dumps(name)}.getBoundingClientRect();"
                         "return [r.x + r.width / 2, r.y + r.height / 2, r.width];})()")
    return rect


def _frame_style(page, name):
    return page.evaluate(f"(function(){{var e = {FRAME % json.dumps(name)}; return e ? "
                         "[e.style.left, e.style.width, e.className] : null;})()")


@pytest.mark.parametrize("key, frame", [("cpu", "worker"), ("probe", "path_gamma")])
def test_page_loads_offline_and_a_click_zooms(browser, pages, key, frame):
    page = browser.open(pages[key].as_uri())
    assert page.evaluate("document.body.dataset.zoom") == "all"
    assert page.evaluate("document.querySelectorAll('.frame').length") > 5
    left, width, _ = _frame_style(page, frame)
    assert width != "100%"
    x, y, w = _center(page, frame)
    page.click(x, y)                       # a real mouse click where the frame is drawn
    assert page.evaluate("document.body.dataset.zoom") == frame
    assert _frame_style(page, frame)[:2] == ["0%", "100%"]
    assert "zoomed on " + frame in page.evaluate("document.getElementById('summary').textContent")
    # the root stays, dimmed, below the zoomed frame
    assert "dim" in _frame_style(page, "all")[2]
    assert page.errors == []
    assert page.requests == [pages[key].as_uri()]


def test_search_tooltip_and_reset(browser, pages):
    page = browser.open(pages["cpu"].as_uri())
    total = page.evaluate("JSON.parse(document.getElementById('flamegraph-data').textContent)")
    def count(node):
        return node["v"] + sum(count(c) for c in node["c"])
    def under(node, name):
        if node["n"] == name:
            return count(node)
        return sum(under(c, name) for c in node["c"])
    all_samples, hash_samples = count(total), under(total, "ex_hash")
    assert 0 < hash_samples < all_samples
    page.evaluate("(function(){var s = document.getElementById('search'); s.value = '^ex_hash$';"
                  "s.dispatchEvent(new Event('input'));})()")
    text = page.evaluate("document.getElementById('matched').textContent")
    share = f"{100 * hash_samples / all_samples:.2f}%"
    assert text.startswith(f"Matched: {share} ({hash_samples} of {all_samples} samples")
    assert "match" in _frame_style(page, "ex_hash")[2]
    assert "match" not in _frame_style(page, "worker")[2]
    # tooltip: samples and percentage of the frame under the mouse
    x, y, _ = _center(page, "main")
    page.browser.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y}, session=page.session)
    tip = page.evaluate("[document.getElementById('tooltip').hidden, "
                        "document.getElementById('tooltip').textContent]")
    main = under(total, "main")
    assert tip[0] is False
    assert tip[1].startswith(f"main\n{main} samples, {100 * main / all_samples:.2f}% of all")
    # zoom, then Reset: the whole graph again, search cleared
    x, y, _ = _center(page, "worker")
    page.click(x, y)
    assert page.evaluate("document.body.dataset.zoom") == "worker"
    x, y, _ = page.evaluate("(function(){var r = document.getElementById('reset').getBoundingClientRect();"
                            "return [r.x + r.width / 2, r.y + r.height / 2, 0];})()")
    page.click(x, y)
    assert page.evaluate("document.body.dataset.zoom") == "all"
    assert page.evaluate("document.getElementById('matched').textContent") == ""
    assert page.evaluate("document.querySelectorAll('.frame.match').length") == 0
    assert page.errors == []


def test_harness_sees_errors_and_requests(browser, tmp_path):
    """The checks above can fail: a page that logs an error and asks the network is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text("<script>console.error('boom'); fetch('http://example.com/x').catch(function(){});</script>")
    page = browser.open(bad.as_uri())
    assert any("boom" in e for e in page.errors)
    assert "http://example.com/x" in page.requests
