"""The flame graph as one HTML file that works offline: its data, script and styles are inside it, and its
Content-Security-Policy forbids any request (no CDN, no font, no image from elsewhere).

perf 6.1's flamegraph.py fills a d3-flame-graph template (``/usr/share/d3-flame-graph/d3-flamegraph-base.html``,
which Debian does not package) by replacing ``/** @options_json **/`` and ``/** @flamegraph_json **/``; pyperf
fills its own template the same way, and takes perf's ``--template PATH`` as perf does.

What the page does (plain DOM, no library): frames as positioned ``div.frame`` elements, root at the bottom,
children in name order; a click zooms on a frame (its subtree spans the width, its ancestors stay below,
dimmed); the search box (a regular expression, or the text itself if it is not one) highlights matching
frames and shows the share of samples under them; a tooltip gives a frame's samples and percentages; Reset
(or Escape) returns to the whole graph. ``document.body.dataset.zoom`` names the frame zoomed on (tests read
it back). Frames narrower than a third of a pixel are not drawn.
"""
from __future__ import annotations

import json

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Flame graph</title>
<style>
body { font: 13px/1.4 sans-serif; margin: 0; padding: 8px 12px; color: #222; background: #fafafa; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 16px; margin-bottom: 8px; }
h1 { font-size: 16px; margin: 0; }
#summary, #matched { color: #555; }
#search { width: 18em; }
#chart { position: relative; width: 100%; overflow: hidden; background: #fff; border: 1px solid #ddd; }
.frame { position: absolute; height: 15px; box-sizing: border-box; border: 1px solid rgba(255,255,255,.7);
         border-width: 0 1px 1px 0; overflow: hidden; white-space: nowrap; text-overflow: ellipsis;
         font: 11px/15px monospace; padding-left: 2px; cursor: pointer; color: #000; }
.frame:hover { filter: brightness(.88); }
.frame.dim { opacity: .55; }
.frame.match { background: #e040fb !important; color: #fff; }
#tooltip { position: fixed; pointer-events: none; background: #222; color: #fff; padding: 4px 7px;
           border-radius: 3px; font: 12px/1.35 monospace; white-space: pre; z-index: 10; max-width: 80vw;
           overflow: hidden; text-overflow: ellipsis; }
details { margin-top: 10px; }
pre { font-size: 11px; overflow: auto; }
</style>
</head>
<body>
<header>
  <h1>Flame graph</h1>
  <span id="summary"></span>
  <span><input id="search" type="search" placeholder="Search (regular expression)" aria-label="Search">
  <button id="reset" type="button">Reset</button></span>
  <span id="matched"></span>
</header>
<div id="chart"></div>
<div id="tooltip" hidden></div>
<details id="context"><summary>perf.data header</summary><pre id="context-text"></pre></details>
<script type="application/json" id="flamegraph-options">/** @options_json **/</script>
<script type="application/json" id="flamegraph-data">/** @flamegraph_json **/</script>
<script>
"use strict";
(function () {
  var ROW = 16, MIN_PX = 0.34;
  var options = JSON.parse(document.getElementById("flamegraph-options").textContent);
  var root = JSON.parse(document.getElementById("flamegraph-data").textContent);
  var chart = document.getElementById("chart"), tooltip = document.getElementById("tooltip");
  var search = document.getElementById("search"), matched = document.getElementById("matched");
  var nodes = [], maxDepth = 0;

  // nodes in pre-order with parent, depth and total (own value plus the children's totals)
  (function flatten() {
    var stack = [[root, null, 0]];
    while (stack.length) {
      var item = stack.pop(), d = item[0];
      var node = {name: d.n, lib: d.l, self: d.v, total: d.v, parent: item[1], depth: item[2],
                  kids: [], id: nodes.length, x: 0, w: 0, match: false};
      nodes.push(node);
      if (item[1]) item[1].kids.push(node);
      if (node.depth > maxDepth) maxDepth = node.depth;
      var c = (d.c || []).slice().sort(function (a, b) { return a.n < b.n ? 1 : a.n > b.n ? -1 : 0; });
      for (var i = 0; i < c.length; i++) stack.push([c[i], node, node.depth + 1]);
    }
    for (var j = nodes.length - 1; j > 0; j--) nodes[j].parent.total += nodes[j].total;
  })();
  var top = nodes[0], focus = top;

  function hash(s) {
    var h = 2166136261;
    for (var i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 16777619); }
    return (h >>> 0) / 4294967295;
  }
  function color(n) {
    var v = hash(n.name);
    if (n.lib === "root") return "hsl(0,0%,80%)";
    if (n.lib === "kernel") return "hsl(" + (20 + 25 * v) + ",85%," + (58 + 10 * v) + "%)";
    if (options.colorscheme === "orange") return "hsl(" + (28 + 22 * v) + ",90%," + (55 + 12 * v) + "%)";
    return "hsl(" + (140 + 70 * v) + ",55%," + (55 + 12 * v) + "%)";
  }
  function pct(v, of) { return of ? (100 * v / of).toFixed(2) + "%" : "0.00%"; }
  function plural(v) { return v === 1 ? " sample" : " samples"; }

  function layout() {
    for (var i = 0; i < nodes.length; i++) nodes[i].w = 0;
    for (var a = focus; a; a = a.parent) { a.x = 0; a.w = 1; }
    var stack = [focus];
    while (stack.length) {
      var n = stack.pop(), x = n.x;
      for (var k = 0; k < n.kids.length; k++) {
        var c = n.kids[k];
        c.x = x; c.w = focus.total ? c.total / focus.total : 0; x += c.w;
        stack.push(c);
      }
    }
  }

  function render() {
    layout();
    var width = chart.clientWidth || 1200, frag = document.createDocumentFragment();
    chart.style.height = ((maxDepth + 1) * ROW) + "px";
    chart.textContent = "";
    for (var i = 0; i < nodes.length; i++) {
      var n = nodes[i];
      if (n.w * width < MIN_PX) continue;
      var div = document.createElement("div");
      div.className = "frame" + (n.lib ? " " + n.lib : "") + (n.match ? " match" : "") +
                      (n.depth < focus.depth ? " dim" : "");
      div.style.left = (100 * n.x) + "%";
      div.style.width = (100 * n.w) + "%";
      div.style.bottom = (n.depth * ROW) + "px";
      div.style.background = color(n);
      div.dataset.id = n.id;
      div.dataset.name = n.name;
      div.textContent = n.name;
      frag.appendChild(div);
    }
    chart.appendChild(frag);
    document.body.dataset.zoom = focus.name;
    document.getElementById("summary").textContent = top.total + plural(top.total) +
      (focus === top ? "" : "; zoomed on " + focus.name + ": " + focus.total + plural(focus.total) +
       " (" + pct(focus.total, top.total) + ")");
  }

  function nodeOf(target) {
    var el = target && target.closest ? target.closest(".frame") : null;
    return el ? nodes[+el.dataset.id] : null;
  }
  function zoom(n) { focus = n || top; render(); }

  function doSearch() {
    var term = search.value, re = null;
    if (term) {
      try { re = new RegExp(term); }
      catch (e) { re = new RegExp(term.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")); }
    }
    var sum = 0, count = 0;
    for (var i = 0; i < nodes.length; i++) {
      var n = nodes[i];
      n.match = !!re && n.lib !== "root" && re.test(n.name);
      if (n.match) {
        count++;
        var covered = false;
        for (var a = n.parent; a; a = a.parent) if (a.match) { covered = true; break; }
        if (!covered) sum += n.total;
      }
    }
    matched.textContent = re ? "Matched: " + pct(sum, top.total) + " (" + sum + " of " + top.total +
                                 plural(top.total) + ", " + count + " frames)" : "";
    render();
  }

  chart.addEventListener("click", function (ev) { var n = nodeOf(ev.target); if (n) zoom(n); });
  chart.addEventListener("mousemove", function (ev) {
    var n = nodeOf(ev.target);
    if (!n) { tooltip.hidden = true; return; }
    tooltip.textContent = n.name + "\n" + n.total + plural(n.total) + ", " + pct(n.total, top.total) +
      " of all" + (focus !== top ? ", " + pct(n.total, focus.total) + " of " + focus.name : "") +
      (n.self ? "\n" + n.self + " in this frame itself" : "");
    tooltip.hidden = false;
    var x = ev.clientX + 12, y = ev.clientY + 14;
    if (x + tooltip.offsetWidth > window.innerWidth) x = Math.max(0, window.innerWidth - tooltip.offsetWidth - 4);
    if (y + tooltip.offsetHeight > window.innerHeight) y = ev.clientY - tooltip.offsetHeight - 6;
    tooltip.style.left = x + "px"; tooltip.style.top = y + "px";
  });
  chart.addEventListener("mouseleave", function () { tooltip.hidden = true; });
  search.addEventListener("input", doSearch);
  document.getElementById("reset").addEventListener("click", function () { search.value = ""; doSearch(); zoom(top); });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") { search.value = ""; doSearch(); zoom(top); }
  });
  window.addEventListener("resize", render);
  if (options.context) document.getElementById("context-text").textContent = options.context;
  else document.getElementById("context").hidden = true;
  render();
})();
</script>
</body>
</html>
"""

OPTIONS_MARK = "/** @options_json **/"
DATA_MARK = "/** @flamegraph_json **/"


def html_chunks(template: str, tree, colorscheme: str, context: str):
    """The page: ``template`` with its two marks replaced, as perf's script replaces them (the options
    first), the tree's JSON streamed in place of the data mark."""
    options = json.dumps({"colorscheme": colorscheme, "context": context}).replace("</", "<\\/")
    template = template.replace(OPTIONS_MARK, options)
    head, mark, tail = template.partition(DATA_MARK)
    yield head
    if mark:
        yield from tree.json_chunks(html_safe=True)
        if DATA_MARK in tail:  # a template may hold the mark twice: perf's str.replace fills both
            tail = tail.replace(DATA_MARK, "".join(tree.json_chunks(html_safe=True)))
    yield tail
