/* The evaluators' page: start a run (a suite, a limit) and follow it, the runs and their reports,
   a comparison of two runs, and audited resident turns sent to a suite as draft items. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var polling = null;

  function cookie(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  }

  function api(method, path, body) {
    var headers = { "content-type": "application/json" };
    if (method !== "GET") headers["x-csrf-token"] = cookie("cityagent_csrf");
    return fetch(path, { method: method, headers: headers, credentials: "same-origin",
      body: body ? JSON.stringify(body) : undefined }).then(function (r) {
      return r.json().then(function (j) {
        if (r.status === 401 || r.status === 403) signIn();
        if (!r.ok) throw new Error((j.error && j.error.message) || ("请求失败（" + r.status + "）"));
        return j;
      });
    });
  }

  function say(text, isError) { var m = $("msg"); m.textContent = text || ""; m.className = isError ? "error" : ""; }

  function signIn() {
    $("app").hidden = true;
    var m = $("msg"); m.className = "error"; m.textContent = "需要评测员账号：请先在 ";
    var a = document.createElement("a"); a.href = "/console"; a.textContent = "/console";
    m.append(a, " 登录，再回到本页。");
  }

  function el(tag, text, cls) {
    var n = document.createElement(tag);
    if (text !== undefined && text !== null) n.textContent = text;
    if (cls) n.className = cls;
    return n;
  }

  function loadSuites() {
    return api("GET", "/api/eval/suites").then(function (suites) {
      var select = $("suite"); select.textContent = "";
      suites.forEach(function (s) {
        var label = s.name + "（" + s.items + " 条" + (s.drafts ? "，" + s.drafts + " 条草稿未标注" : "") + "）";
        var o = el("option", label); o.value = s.name; select.append(o);
      });
      $("app").hidden = false;
    });
  }

  function metricsText(run) {
    var box = el("td", null, "metrics");
    if (run.error) { box.textContent = "（" + run.error + "）"; return box; }
    Object.keys(run.metrics).forEach(function (suite) {
      var m = run.metrics[suite];
      var shown = Object.keys(m).filter(function (k) { return m[k] !== null; }).slice(0, 4).map(function (k) {
        return (run.labels[k] || k) + " " + Number(m[k]).toFixed(3);
      });
      box.append(el("span", suite + "：" + shown.join("，")));
    });
    return box;
  }

  function picked() {
    return Array.prototype.slice.call(document.querySelectorAll("#runs input:checked")).map(function (c) { return c.value; });
  }

  function loadRuns() {
    return api("GET", "/api/eval/runs").then(function (runs) {
      var body = $("runs"); body.textContent = "";
      runs.forEach(function (run) {
        var tr = document.createElement("tr");
        var box = el("input"); box.type = "checkbox"; box.value = run.run;
        box.setAttribute("aria-label", "对比 " + run.run);
        box.addEventListener("change", function () { $("compare").disabled = picked().length !== 2; });
        var c = el("td"); c.append(box); tr.append(c);
        var a = el("a", run.run); a.href = run.report;
        var t = el("td"); t.append(a); tr.append(t);
        tr.append(el("td", run.started || ""));
        tr.append(metricsText(run));
        body.append(tr);
      });
      $("runs-empty").hidden = runs.length > 0;
      $("compare").disabled = true;
    });
  }

  function showStatus(s) {
    if (s.state === "idle") { $("progress").hidden = true; return; }
    $("progress").hidden = false;
    $("bar").max = Math.max(s.total, 1); $("bar").value = s.done;
    var words = { running: "运行中", finished: "已完成", failed: "失败" }[s.state] || s.state;
    $("progress-text").textContent = s.run + "：" + words + "，" + s.done + "/" + s.total + " 条";
    var cur = $("current"); cur.textContent = "";
    if (s.state === "running") cur.textContent = "当前条目：" + (s.current || "…");
    if (s.state === "failed") { cur.textContent = "出错：" + s.error; cur.className = "error"; }
    if (s.state === "finished") {
      cur.className = "muted";
      var a = el("a", "查看评测报告"); a.href = s.report; cur.append(a);
    }
    $("start-btn").disabled = s.state === "running";
  }

  function poll() {
    api("GET", "/api/eval/status").then(function (s) {
      showStatus(s);
      if (s.state === "running") { polling = setTimeout(poll, 1000); return; }
      polling = null;
      if (s.state !== "idle") loadRuns();
    }).catch(function (e) { say(e.message, true); });
  }

  $("start").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var limit = $("limit").value ? parseInt($("limit").value, 10) : null;
    api("POST", "/api/eval/runs", { suite: $("suite").value, limit: limit }).then(function (s) {
      say("已开始评测 " + s.run + "。");
      showStatus(s);
      if (!polling) poll();
    }).catch(function (e) { say(e.message, true); });
  });

  $("compare").addEventListener("click", function () {
    var two = picked().sort();  /* run names start with their UTC time: the older is A */
    location.href = "/eval/compare?a=" + encodeURIComponent(two[0]) + "&b=" + encodeURIComponent(two[1]);
  });

  function loadTurns() {
    return api("GET", "/api/eval/turns?limit=30").then(function (turns) {
      var body = $("turns"); body.textContent = "";
      turns.forEach(function (t) {
        var tr = document.createElement("tr");
        tr.append(el("td", (t.at || "").replace("T", " ").slice(0, 19)));
        tr.append(el("td", t.question, "q"));
        tr.append(el("td", t.answer, "q"));
        tr.append(el("td", t.retrieved + " 条"));
        var b = el("button", "加入草稿"); b.type = "button";
        b.setAttribute("aria-label", "加入草稿：" + t.question.slice(0, 30));
        b.addEventListener("click", function () {
          api("POST", "/api/eval/drafts", { audit_id: t.id, suite: $("draft-suite").value.trim() }).then(function (r) {
            say("已加入草稿评测集 " + r.suite + "（" + r.item.id + "，" + r.item.retrieved.length + " 条检索条文），请标注后再运行。");
            b.disabled = true;
            loadSuites();
          }).catch(function (e) { say(e.message, true); });
        });
        var c = el("td"); c.append(b); tr.append(c);
        body.append(tr);
      });
      $("turns-empty").hidden = turns.length > 0;
    });
  }

  loadSuites().then(function () { return Promise.all([loadRuns(), loadTurns()]); }).then(poll)
    .catch(function (e) { if (!$("msg").textContent) say(e.message, true); });
})();
