// pauta web UI: local times and the run graph. The pages are server-rendered; htmx swaps in
// fresh fragments while a run is in progress, and htmx.onLoad runs this code on each of them.
(function () {
  "use strict";

  function pad(n) { return String(n).padStart(2, "0"); }

  // The server writes UTC ISO times; people read them in their own timezone. A time the
  // server wrote in a named zone (a schedule's next run, data-zone) stays as it is.
  function localTimes(root) {
    root.querySelectorAll("time[datetime]:not([data-zone])").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      var text = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) +
        " " + pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
      if (el.dataset.format === "short" && d.toDateString() === new Date().toDateString()) {
        text = text.slice(11);
      }
      el.textContent = text;
      el.title = el.getAttribute("datetime") + " (UTC: " + d.toISOString() + ")";
      el.dataset.local = "1";
    });
  }

  function stateColor(state) {
    var value = getComputedStyle(document.documentElement).getPropertyValue("--state-" + state);
    return value.trim() || "#c3c8ce";
  }

  // One graph per page: kept across swaps so zoom and layout survive the live updates.
  var graph = null;
  var graphIds = "";

  function nodeWidth(node) {
    // a map's node has two lines (its name and count, then its calls by state)
    var longest = node.data("label").split("\n").reduce(function (n, line) {
      return Math.max(n, line.length);
    }, 0);
    return Math.max(48, longest * 7 + 20);
  }

  function graphElements(data) {
    var nodes = data.nodes.map(function (n) {
      return { data: { id: n.id, label: n.label, state: n.state, color: stateColor(n.state),
                       map: n.map ? 1 : 0, fold: n.fold ? 1 : 0, href: n.href || "" } };
    });
    var edges = data.edges.map(function (e) {
      return { data: { id: e.source + "->" + e.target, source: e.source, target: e.target } };
    });
    return nodes.concat(edges);
  }

  function renderGraph() {
    var box = document.getElementById("graph");
    var source = document.getElementById("graph-data");
    if (!box || !source || typeof cytoscape === "undefined") return;
    var data = JSON.parse(source.textContent);
    var ids = data.nodes.map(function (n) { return n.id; }).join("|") + "#" + data.edges.length;
    if (graph && ids === graphIds) {
      // same shape: only the states changed, so recolour without a new layout
      data.nodes.forEach(function (n) {
        var node = graph.getElementById(n.id);
        if (node.data("state") !== n.state) {
          node.data({ state: n.state, color: stateColor(n.state) });
        }
        if (node.data("label") !== n.label) node.data({ label: n.label });  // a map's counts
      });
      return;
    }
    graphIds = ids;
    if (graph) graph.destroy();
    graph = cytoscape({
      container: box,
      elements: graphElements(data),
      minZoom: 0.2,
      maxZoom: 1.3,  // a small graph is not blown up to fill the box
      style: [
        { selector: "node", style: {
          "shape": "round-rectangle", "background-color": "data(color)", "label": "data(label)",
          "color": "#fff", "font-size": 11, "text-valign": "center", "text-halign": "center",
          "width": nodeWidth, "height": 26, "text-outline-width": 0,
        } },
        { selector: "node[state = 'PENDING'], node[state = 'SCHEDULED']",
          style: { "color": "#1d2329" } },
        // the calls of a .map, folded: two lines, a double border
        { selector: "node[map = 1]", style: {
          "text-wrap": "wrap", "height": 40, "border-width": 3, "border-style": "double",
          "border-color": "#1d2329", "line-height": 1.3,
        } },
        // a task group, folded: two lines, a dashed border; a click opens it
        { selector: "node[fold = 1]", style: {
          "text-wrap": "wrap", "height": 40, "border-width": 2, "border-style": "dashed",
          "border-color": "#1d2329", "line-height": 1.3,
        } },
        { selector: "edge", style: {
          "width": 1.5, "line-color": "#aab2ba", "target-arrow-color": "#aab2ba",
          "target-arrow-shape": "triangle", "curve-style": "bezier",
        } },
      ],
      layout: { name: "dagre", rankDir: "LR", nodeSep: 18, rankSep: 48, fit: true, padding: 16 },
    });
    graph.on("tap", "node", function (evt) {
      var href = evt.target.data("href");
      if (evt.target.data("fold") && href && href.charAt(0) === "/") {
        // a folded task group: the same page with the group opened
        window.location.assign(href);
        return;
      }
      if (evt.target.data("map")) {
        // a folded map: page through its calls in the task table
        var mapUrl = box.dataset.mapUrl;
        if (mapUrl) window.location.assign(mapUrl.replace("__MAP__", encodeURIComponent(evt.target.id())));
        return;
      }
      var url = box.dataset.logsUrl;
      if (url && typeof htmx !== "undefined") {
        htmx.ajax("GET", url.replace("__KEY__", encodeURIComponent(evt.target.id())), "#logs");
      }
    });
  }

  // The task table scrolls in its own box; the live fragment replaces it every second, so
  // where it was scrolled to is kept across the swap.
  var taskScroll = null;

  function keepTaskScroll() {
    var box = document.querySelector(".task-scroll");
    taskScroll = box ? box.scrollTop : null;
  }

  function restoreTaskScroll(root) {
    var box = root.querySelector ? root.querySelector(".task-scroll") : null;
    if (box && taskScroll !== null) box.scrollTop = taskScroll;
  }

  function onLoad(root) {
    localTimes(root);
    renderGraph();
    restoreTaskScroll(root);
  }

  if (typeof htmx !== "undefined") {
    document.addEventListener("htmx:beforeSwap", keepTaskScroll);
    htmx.onLoad(onLoad);
  } else {
    document.addEventListener("DOMContentLoaded", function () { onLoad(document.body); });
  }
})();
