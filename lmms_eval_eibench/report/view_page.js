// eibench view: renders the JSON blob of this page. Every text from a run (answers, questions, replies, model
// names) goes through textContent, never innerHTML, so it stays text. State lives in the URL hash
// (#category=Angry&failed=judge&min=0&max=50&trigger=cake&covered=missed&sort=-recall&q=smile&paired=b-better&run=b&page=2)
// so a view can be linked or bookmarked.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("eibench-data").textContent);
  var paired = data.runs.length === 2;
  var FIELDS = ["category", "failed", "min", "max", "trigger", "covered", "sort", "q", "paired", "run", "page"];

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var key in attrs || {}) {
      if (attrs[key] !== null && attrs[key] !== undefined) node.setAttribute(key, String(attrs[key]));
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function fmt(value, digits) {
    return value === null || value === undefined ? "n/a" : Number(value).toFixed(digits === undefined ? 1 : digits);
  }

  // ---- header ----------------------------------------------------------------------------------------------
  document.getElementById("title").textContent = "EIBench " + data.subset + ": " +
    data.runs.map(function (r) { return r.label; }).join("  vs  ") + " (" + data.samples.length + " samples)";
  var runsBox = document.getElementById("runs");
  data.runs.forEach(function (run, k) {
    var box = el("div", {"data-run": k ? "b" : "a"});
    box.appendChild(el("strong", null, (paired ? (k ? "B: " : "A: ") : "") + run.label));
    var lines = [["task", run.task + " (" + run.metric + ")"], ["source", run.source], ["judge", run.judge]];
    if (run.model_prompt) lines.push(["model prompt", run.model_prompt.template + " v" + run.model_prompt.version]);
    if (run.dataset) lines.push(["dataset", (run.dataset.source || "") + (run.dataset.official === false ? " (unofficial data)" : "") +
      (run.dataset.manifest_sha256 ? " manifest " + String(run.dataset.manifest_sha256).slice(0, 12) : "")]);
    if (run.generation) lines.push(["generation", JSON.stringify(run.generation)]);
    if (run.plugin) lines.push(["plugin", run.plugin.name + " " + run.plugin.version]);
    lines.forEach(function (line) { box.appendChild(el("div", null, line[0] + ": " + line[1])); });
    runsBox.appendChild(box);
  });
  document.getElementById("report").textContent = data.report;
  if (data.paired) {
    var det = el("details", {open: ""});
    det.appendChild(el("summary", null, "eibench report --paired A B"));
    det.appendChild(el("pre", {id: "paired-report"}, data.paired));
    document.getElementById("paired-table").appendChild(det);
  }
  var warnings = document.getElementById("warnings");
  data.warnings.forEach(function (w) { warnings.appendChild(el("li", {"class": "warning"}, "warning: " + w)); });
  data.notes.forEach(function (n) { warnings.appendChild(el("li", {"class": "note"}, "note: " + n)); });

  // ---- controls --------------------------------------------------------------------------------------------
  var controls = document.getElementById("controls");
  var inputs = {};
  function control(name, label, node) {
    var wrap = el("label", null, label);
    node.id = "f-" + name;
    node.addEventListener("change", function () { setState(name, node.value); });
    if (node.tagName === "INPUT" && node.type !== "number") {
      node.addEventListener("input", function () { setState(name, node.value); });
    }
    wrap.appendChild(node);
    controls.appendChild(wrap);
    inputs[name] = node;
  }
  function select(options) {
    var node = el("select");
    options.forEach(function (o) { node.appendChild(el("option", {value: o[0]}, o[1])); });
    return node;
  }
  if (data.subset === "basic") {
    control("category", "category", select([["", "all"]].concat(data.categories.map(function (c) { return [c, c]; }))));
  }
  control("failed", "failures", select([["", "any"], ["none", "no failure"], ["any", "failed (either)"],
    ["judge", "judge failed"], ["generation", "generation failed"]]));
  control("min", "recall from", el("input", {type: "number", min: 0, max: 100, step: 1, placeholder: "0"}));
  control("max", "recall to", el("input", {type: "number", min: 0, max: 100, step: 1, placeholder: "100"}));
  control("trigger", "trigger text", el("input", {type: "search", placeholder: "e.g. smile"}));
  control("covered", "that was", select([["", "covered or missed"], ["covered", "covered"], ["missed", "missed"]]));
  var sorts = [["", "dataset order"], ["-recall", "recall, high first"], ["recall", "recall, low first"],
    ["-words", "words, most first"], ["words", "words, fewest first"]];
  if (paired) sorts.push(["-diff", "B - A, high first"], ["diff", "B - A, low first"]);
  control("sort", "sort", select(sorts));
  control("q", "search", el("input", {type: "search", placeholder: "id, question, answer, trigger"}));
  if (paired) {
    control("paired", "pair", select([["", "all"], ["b-better", "B better"], ["a-better", "A better"], ["same", "same"]]));
    control("run", "recall/trigger/failure filters and sort read", select([["a", "run A"], ["b", "run B"]]));
  }

  // ---- state (the URL hash) --------------------------------------------------------------------------------
  var state = {};
  function readHash() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    state = {};
    FIELDS.forEach(function (f) { if (params.get(f)) state[f] = params.get(f); });
    for (var name in inputs) inputs[name].value = state[name] || (name === "run" ? "a" : "");
  }
  function writeHash() {
    var params = new URLSearchParams();
    FIELDS.forEach(function (f) { if (state[f]) params.set(f, state[f]); });
    var hash = params.toString();
    history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
  }
  function setState(name, value) {
    if (value) state[name] = value; else delete state[name];
    if (name !== "page") delete state.page;
    writeHash();
    render();
  }
  window.addEventListener("hashchange", function () { readHash(); render(); });

  // ---- filtering -------------------------------------------------------------------------------------------
  function side(sample) { return sample.runs[paired && state.run === "b" ? 1 : 0]; }
  function diff(sample) { return sample.runs[1].score - sample.runs[0].score; }
  function lower(text) { return String(text || "").toLowerCase(); }

  function matches(sample) {
    var s = side(sample);
    if (state.category && sample.category !== state.category) return false;
    if (state.failed === "none" && s.failure) return false;
    if (state.failed === "any" && !s.failure) return false;
    if ((state.failed === "judge" || state.failed === "generation") && s.failure !== state.failed) return false;
    if (state.min !== undefined && s.score < Number(state.min)) return false;
    if (state.max !== undefined && s.score > Number(state.max)) return false;
    if (state.trigger || state.covered) {
      var needle = lower(state.trigger);
      var hit = sample.triggers.some(function (text, k) {
        if (needle && lower(text).indexOf(needle) < 0) return false;
        if (!state.covered) return true;
        var decided = s.triggers ? s.triggers[k].covered : null;
        if (decided === null) return false;  // the judge only counted: no trigger is known covered or missed
        return state.covered === "covered" ? decided : !decided;
      });
      if (!hit) return false;
    }
    if (paired && state.paired) {
      var d = diff(sample);
      if (state.paired === "b-better" && !(d > 0)) return false;
      if (state.paired === "a-better" && !(d < 0)) return false;
      if (state.paired === "same" && d !== 0) return false;
    }
    if (state.q) {
      var q = lower(state.q);
      var hay = [sample.id, sample.question].concat(sample.triggers, sample.runs.map(function (r) { return r.answer; }));
      if (!hay.some(function (t) { return lower(t).indexOf(q) >= 0; })) return false;
    }
    return true;
  }

  function sortKey(sample) {
    var key = (state.sort || "").replace(/^-/, "");
    if (key === "recall") return side(sample).score;
    if (key === "words") return side(sample).words;
    if (key === "diff") return diff(sample);
    return 0;
  }

  function selected() {
    var chosen = [];
    data.samples.forEach(function (sample, index) { if (matches(sample)) chosen.push(index); });
    if (state.sort) {
      var sign = state.sort.charAt(0) === "-" ? -1 : 1;
      chosen.sort(function (i, j) {
        return sign * (sortKey(data.samples[i]) - sortKey(data.samples[j])) || i - j;  // stable: dataset order
      });
    }
    return chosen;
  }

  // ---- samples ---------------------------------------------------------------------------------------------
  function triggerList(sample, s, runKey) {
    var list = el("ol", {"class": "triggers"});
    sample.triggers.forEach(function (text, k) {
      var decision = s.triggers ? s.triggers[k] : null;
      var item = el("li", {"data-trigger": text, "data-run": runKey,
        "data-covered": decision ? String(decision.covered) : null}, text);
      if (decision) {
        var detail = (decision.covered ? "covered" : "missed") +
          (decision.similarity !== undefined ? ", similarity " + fmt(decision.similarity, 2) : "") +
          (decision.reason ? ": " + decision.reason : "");
        item.appendChild(el("span", {"class": "detail"}, "  (" + detail + ")"));
      }
      list.appendChild(item);
    });
    return list;
  }

  function sideBox(sample, s, k) {
    var runKey = k ? "b" : "a";
    var box = el("div", {"class": "side", "data-run": runKey, "data-recall": s.score,
      "data-failure": s.failure || null});
    var head = el("div");
    if (paired) head.appendChild(el("strong", null, (k ? "B" : "A") + ": " + data.runs[k].label + "  "));
    head.appendChild(el("span", {"class": "recall"}, "recall " + fmt(s.score)));
    head.appendChild(el("span", {"class": "detail"}, "  " + s.words + " words"));
    if (s.failure) head.appendChild(el("span", {"class": "badge fail", "data-failed": s.failure},
      s.failure === "judge" ? "judge failed (counts 0)" : "generation failed (counts 0)"));
    box.appendChild(head);
    box.appendChild(el("div", {"class": "answer"}, s.answer || "(no answer)"));
    if (s.error) box.appendChild(el("div", {"class": "detail"}, "error: " + s.error));
    box.appendChild(triggerList(sample, s, runKey));
    if (!s.triggers && !s.failure) {
      box.appendChild(el("div", {"class": "detail"}, "the judge counted " + fmt(s.covered, 0) + " of " + s.total +
        " triggers covered" + (s.judge_total !== null && s.judge_total !== undefined ? " (it wrote a total of " +
        s.judge_total + ")" : "") + "; it does not say which"));
    }
    if (s.reply) {
      var reply = el("details");
      reply.appendChild(el("summary", {"class": "detail"}, "judge reply"));
      reply.appendChild(el("pre", {"class": "reply"}, s.reply));
      box.appendChild(reply);
    }
    return box;
  }

  function sampleBox(sample) {
    var box = el("article", {"class": "sample", "data-sample-id": sample.id, "data-category": sample.category});
    if (sample.image && data.images[sample.image]) {
      box.appendChild(el("img", {src: data.images[sample.image], alt: sample.image_path, loading: "lazy"}));
    } else {
      box.appendChild(el("div", {"class": "noimage", "data-missing-image": sample.image_path}, "no image"));
    }
    var body = el("div", {"class": "body"});
    var id = el("div", {"class": "id"}, sample.id + (sample.category ? "  ·  " + sample.category : ""));
    if (paired) {
      var d = diff(sample);
      id.appendChild(el("span", {"class": "badge " + (d > 0 ? "better" : d < 0 ? "worse" : ""), "data-diff": d},
        "B - A " + (d > 0 ? "+" : "") + fmt(d)));
    }
    body.appendChild(id);
    body.appendChild(el("div", {"class": "question"}, sample.question));
    var sides = el("div", {"class": "sides"});
    sample.runs.forEach(function (s, k) { sides.appendChild(sideBox(sample, s, k)); });
    body.appendChild(sides);
    box.appendChild(body);
    return box;
  }

  function render() {
    var chosen = selected();
    var size = data.page_size;
    var pages = Math.max(1, Math.ceil(chosen.length / size));
    var page = Math.min(Math.max(1, parseInt(state.page || "1", 10) || 1), pages);
    var count = document.getElementById("count");
    count.setAttribute("data-count", chosen.length);
    count.textContent = chosen.length + " of " + data.samples.length + " samples match" +
      (pages > 1 ? "; page " + page + " of " + pages : "");
    var list = document.getElementById("list");
    list.textContent = "";
    chosen.slice((page - 1) * size, page * size).forEach(function (i) { list.appendChild(sampleBox(data.samples[i])); });
    var pager = document.getElementById("pager");
    pager.textContent = "";
    if (pages > 1) {
      [["first", 1], ["previous", page - 1], ["next", page + 1], ["last", pages]].forEach(function (b) {
        var button = el("button", {"data-page": b[1]}, b[0]);
        button.disabled = b[1] < 1 || b[1] > pages || b[1] === page;
        button.addEventListener("click", function () { setState("page", String(b[1])); window.scrollTo(0, 0); });
        pager.appendChild(button);
      });
    }
    document.body.setAttribute("data-rendered", "true");
  }

  readHash();
  render();
})();
