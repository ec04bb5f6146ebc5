/* The caseworkers' console: sign in, queue, order detail with the dispatch suggestion, one-click review. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var csrf = "";
  var current = null;

  function cookie(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  }

  function api(method, path, body) {
    var headers = { "content-type": "application/json" };
    if (method !== "GET") headers["x-csrf-token"] = csrf || cookie("cityagent_csrf");
    return fetch(path, { method: method, headers: headers, credentials: "same-origin",
      body: body ? JSON.stringify(body) : undefined }).then(function (r) {
      if (r.status === 204) return null;
      return r.json().then(function (j) {
        if (!r.ok) {
          if (r.status === 401) showLogin();
          throw new Error((j.error && j.error.message) || ("请求失败（" + r.status + "）"));
        }
        return j;
      });
    });
  }

  function say(text, isError) {
    var m = $("msg");
    m.textContent = text || "";
    m.className = isError ? "error" : "";
  }

  function el(tag, text, cls) {
    var n = document.createElement(tag);
    if (text !== undefined && text !== null) n.textContent = text;
    if (cls) n.className = cls;
    return n;
  }

  function showLogin() {
    $("login").hidden = false; $("app").hidden = true; $("rules-app").hidden = true; $("review-app").hidden = true; $("logout").hidden = true; $("eval-link").hidden = true; $("who").textContent = "";
    $("username").focus();
  }

  function showApp(me) {
    var has = function (role) { return me.roles.indexOf(role) >= 0 || me.roles.indexOf("admin") >= 0; };
    $("login").hidden = true; $("logout").hidden = false;
    $("who").textContent = me.username + "（" + me.roles.join("、") + (me.departments.length ? "；" + me.departments.join("、") : "") + "）";
    $("app").hidden = !has("caseworker");
    $("eval-link").hidden = !has("evaluator");
    $("rules-app").hidden = !has("policy_officer");
    if (has("caseworker")) { loadUnits(); loadDashboard(); loadQueue(); }
    if (has("policy_officer")) loadRules();
    $("review-app").hidden = me.roles.indexOf("admin") < 0;
    if (me.roles.indexOf("admin") >= 0) loadHeld();
  }

  /* Admins: documents held at ingestion, each flagged sentence shown as text, release or reject. */
  function loadHeld() {
    api("GET", "/api/admin/documents/held").then(function (docs) {
      var body = $("held"); body.textContent = "";
      docs.forEach(function (d) {
        var tr = el("tr");
        var name = el("td", d.title); name.append(el("div", d.source, "muted")); tr.append(name);
        var list = el("td"); var ul = el("ul");
        d.sentences.forEach(function (f) { ul.append(el("li", f.sentence + "（" + f.cues.join("、") + "）")); });
        list.append(ul); tr.append(list);
        var act = el("td");
        [["release", "放行"], ["reject", "拒收"]].forEach(function (a) {
          var b = el("button", a[1]); b.type = "button";
          b.addEventListener("click", function () {
            api("POST", "/api/admin/documents/" + encodeURIComponent(d.doc_id) + "/" + a[0]).then(function () {
              say((a[0] === "release" ? "已放行：" : "已拒收：") + d.title); loadHeld();
            }).catch(function (e) { say(e.message, true); });
          });
          act.append(b);
        });
        tr.append(act); body.append(tr);
      });
      if (!docs.length) { var tr = el("tr"); var td = el("td", "没有待审文件。"); td.colSpan = 3; tr.append(td); body.append(tr); }
    }).catch(function (e) { say(e.message, true); });
  }

  /* Policy officers: rule versions, each condition beside its clause, approve or send back. */
  var STATUS = { draft: "待审核", active: "生效", retired: "已替换", returned: "已退回" };

  function loadRules() {
    api("GET", "/api/subsidies/rules").then(function (versions) {
      var body = $("rules"); body.textContent = "";
      versions.sort(function (a, b) { return (a.status === "draft" ? 0 : 1) - (b.status === "draft" ? 0 : 1); });
      versions.forEach(function (v) {
        var tr = el("tr"); tr.tabIndex = 0;
        [v.rule_id, "v" + v.version, null, v.rule.document, v.created_by, v.approved_by || "—"].forEach(function (c, i) {
          var td = el("td", c); if (i === 2) td.append(el("span", STATUS[v.status] || v.status, "badge s-" + v.status)); tr.append(td);
        });
        var open = function () { openRule(v.rule_id, v.version); };
        tr.addEventListener("click", open);
        tr.addEventListener("keydown", function (e) {
          if (e.key === "Enter") open();
          if (e.key === "ArrowDown" && tr.nextSibling) { e.preventDefault(); tr.nextSibling.focus(); }
          if (e.key === "ArrowUp" && tr.previousSibling) { e.preventDefault(); tr.previousSibling.focus(); }
        });
        body.append(tr);
      });
      if (!versions.length) { var tr = el("tr"); var td = el("td", "还没有政策规则。"); td.colSpan = 6; tr.append(td); body.append(tr); }
    }).catch(function (e) { say(e.message, true); });
  }

  function openRule(id, version) {
    api("GET", "/api/subsidies/rules/" + encodeURIComponent(id) + "/versions/" + version + "/review")
      .then(renderRule).catch(function (e) { say(e.message, true); });
  }

  var MODES = { apply_free: "免申即享", confirm: "免申即享（需确认）", apply: "需申报" };
  var KINDS = { condition: "条件", exclusion: "排除情形", benefit: "兑现标准" };

  function renderRule(r) {
    var box = $("rule-detail"); box.textContent = "";
    box.append(el("h2", r.rule_id + " v" + r.version + "（" + (STATUS[r.status] || r.status) + "）"));
    box.append(el("p", r.document + (r.doc_number ? "（" + r.doc_number + "）" : "") + "　" + (MODES[r.mode] || r.mode) +
      "　有效期 " + r.valid_from + " 至 " + (r.valid_to || "长期"), "muted"));
    if (!r.document_found) box.append(el("p", "知识库中没有这份政策文件：引文无法核对，请先导入原文。", "error"));
    else if (r.flagged) box.append(el("p", r.flagged + " 条引文未在原文中逐字找到，请逐条核对后再审核。", "error"));
    var table = el("table", null, "review"); table.setAttribute("aria-label", "条件与依据条款对照");
    var head = el("thead"); var hr = el("tr");
    ["条件", "规则引用的条款", "政策原文"].forEach(function (h) { hr.append(el("th", h)); });
    head.append(hr); table.append(head);
    var body = el("tbody");
    r.items.forEach(function (it) {
      var tr = el("tr");
      var c = el("td"); c.append(el("b", KINDS[it.kind] + "：" + it.label), el("div", it.condition, "muted"));
      var q = el("td"); q.append(el("b", it.article), el("div", "“" + it.quote + "”"));
      q.className = it.quote_found === false ? "flag" : (it.quote_found ? "ok" : "");
      var o = el("td", it.article_text || "（原文中没有 " + it.article + "）", it.article_text ? "" : "muted");
      tr.append(c, q, o); body.append(tr);
    });
    table.append(body); box.append(table);
    box.append(ruleTests(r));
    var what = el("section", null, "whatif"); what.id = "whatif"; box.append(what);
    simulate(r, what, "");
    if (r.status === "draft") box.append(ruleActions(r));
  }

  /* The rule's own test cases (a failing one blocks approval), then the what-if against the active version. */
  var DECIDED = { eligible: "符合", not_eligible: "不符合", missing_data: "缺少数据", not_in_force: "不在有效期内", invalid_case: "用例无法运行" };
  var OUTCOME = { pass: "满足", fail: "不满足", missing: "缺数据", applies: "属排除情形", clear: "不属排除情形" };
  function yuan(a) { return a === null || a === undefined ? "" : " " + Math.round(a).toLocaleString("zh-CN") + " 元"; }

  function ruleTests(r) {
    var wrap = el("section", null, "rule-tests"); wrap.id = "rule-tests";
    var cases = r.tests || [];
    wrap.append(el("h3", "测试用例"));
    if (!cases.length) { wrap.append(el("p", "这个规则没有测试用例。", "muted")); return wrap; }
    wrap.append(el("p", (cases.length - r.tests_failed) + "/" + cases.length + " 通过" +
      (r.tests_failed ? "：未通过的用例会阻止审核通过。" : "。"), r.tests_failed ? "error" : "ok"));
    var list = el("ul");
    cases.forEach(function (c) { list.append(el("li", (c.passed ? "✓ " + c.name : "✗ " + c.message), c.passed ? "" : "flag")); });
    wrap.append(list);
    return wrap;
  }

  function simulate(r, box, asOf) {
    var path = "/api/subsidies/rules/" + encodeURIComponent(r.rule_id) + "/versions/" + r.version + "/simulate";
    api("GET", path + (asOf ? "?as_of=" + encodeURIComponent(asOf) : "")).then(function (s) {
      box.textContent = "";
      box.append(el("h3", "试算：与生效版本对比"));
      var dayLabel = el("label", "试算日期 "); var day = el("input"); day.type = "date"; day.value = s.as_of; day.id = "whatif-day";
      dayLabel.htmlFor = "whatif-day"; dayLabel.append(day);
      var rerun = el("button", "重新试算", "plain"); rerun.type = "button";
      rerun.addEventListener("click", function () { simulate(r, box, day.value); });
      var bar = el("div", null, "actions"); bar.append(dayLabel, rerun); box.append(bar);
      var side = function (x) {
        return Object.keys(DECIDED).filter(function (d) { return x.counts[d] !== undefined || d === "eligible"; })
          .map(function (d) { return DECIDED[d] + " " + (x.counts[d] || 0); }).join("，") + "；合计" + yuan(x.total || 0);
      };
      var base = s.before.version ? "v" + s.before.version + "（" + (STATUS[s.before.status] || s.before.status) + "）" : "无生效版本（无企业符合）";
      var summary = el("p", s.enterprises + " 家企业，" + s.as_of + "。之前 " + base + "：" + side(s.before) +
        "。之后 v" + s.after.version + "：" + side(s.after) + "。结果或金额变化 " + s.changed_total + " 家" +
        (s.truncated ? "（列出前 " + s.changed.length + " 家）" : "") + "。");
      summary.id = "whatif-summary"; box.append(summary);
      if (!s.changed.length) return;
      var table = el("table", null, "review"); table.setAttribute("aria-label", "结果变化的企业");
      var hr = el("tr"); ["企业", "之前", "之后", "原因（条件与依据条款）"].forEach(function (h) { hr.append(el("th", h)); });
      var head = el("thead"); head.append(hr); table.append(head);
      var body = el("tbody");
      s.changed.forEach(function (c) {
        var tr = el("tr");
        var who = el("td"); who.append(el("b", c.name), el("div", c.credit_code, "muted"));
        var why = el("td");
        c.reasons.forEach(function (x) {
          var values = Object.keys(x.values).map(function (k) { return k + "=" + (x.values[k] === null ? "—" : x.values[k]); }).join("，");
          var line = x.kind === "benefit" ? x.label + "：金额变化" :
            x.label + "：" + (x.before ? OUTCOME[x.before] : "（新增条件）") + " → " + (x.after ? OUTCOME[x.after] : "（已删除）");
          var item = el("div"); item.append(el("b", line), el("div", (x.expected_before && x.expected_after && x.expected_before !== x.expected_after ?
            "原为 " + x.expected_before + "，现为 " + x.expected_after : (x.expected_after || x.expected_before || "")) + (values ? "（" + values + "）" : ""), "muted"),
            el("div", x.citation + " “" + x.quote + "”", "muted"));
          why.append(item);
        });
        tr.append(who, el("td", DECIDED[c.decision_before] + yuan(c.amount_before)), el("td", DECIDED[c.decision_after] + yuan(c.amount_after)), why);
        body.append(tr);
      });
      table.append(body); box.append(table);
    }).catch(function (e) { box.textContent = ""; box.append(el("p", "试算失败：" + e.message, "error")); });
  }

  function ruleActions(r) {
    var wrap = el("div", null, "actions");
    var path = "/api/subsidies/rules/" + encodeURIComponent(r.rule_id) + "/versions/" + r.version;
    var approve = el("button", "审核通过，生效", "primary"); approve.type = "button";
    if (r.tests_failed) {  /* the server refuses it too (409 rule_tests_failed); say why here first */
      approve.disabled = true; approve.id = "rule-approve";
      var why = el("p", r.tests_failed + " 个测试用例未通过，修改规则或用例后才能审核通过。", "error");
      why.id = "rule-approve-why"; approve.setAttribute("aria-describedby", why.id);
      wrap.append(why);
    }
    approve.addEventListener("click", function () {
      api("POST", path + "/approve").then(function () {
        say(r.rule_id + " v" + r.version + " 已生效。"); loadRules(); openRule(r.rule_id, r.version);
      }).catch(function (e) { say(e.message, true); });
    });
    var noteLabel = el("label", "退回说明"); var note = el("input"); note.id = "rule-note"; noteLabel.htmlFor = "rule-note";
    noteLabel.append(note);
    var back = el("button", "退回起草人", "plain"); back.type = "button";
    back.addEventListener("click", function () {
      if (note.value.length < 2) { say("退回需要说明原因。", true); note.focus(); return; }
      api("POST", path + "/send-back", { note: note.value }).then(function () {
        say(r.rule_id + " v" + r.version + " 已退回。"); loadRules(); openRule(r.rule_id, r.version);
      }).catch(function (e) { say(e.message, true); });
    });
    wrap.append(approve, noteLabel, back);
    return wrap;
  }

  /* Times in the city's own time zone (from /api/departments), not the browser's or UTC. */
  var cityZone = null, units = [];
  function fmt(ts) {
    if (!ts) return "—";
    var when = new Date(ts);
    if (isNaN(when.getTime())) return ts;
    var opts = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false };
    if (cityZone) opts.timeZone = cityZone;
    try { return when.toLocaleString("zh-CN", opts); } catch (e) { return ts.replace("T", " ").slice(0, 16); }
  }
  function loadUnits() {
    api("GET", "/api/departments").then(function (u) { units = u.departments; cityZone = u.timezone; loadQueue(); })
      .catch(function (e) { say(e.message, true); });
  }

  function loadDashboard() {
    api("GET", "/api/dashboard").then(function (d) {
      var box = $("dashboard"); box.textContent = "";
      var pct = function (v) { return v === null ? "—" : Math.round(v * 100) + "%"; };
      [["工单总数", d.orders], ["超期", d.overdue], ["自动派单占比", pct(d.auto_dispatched_share)],
       ["人工改派占比", pct(d.changed_by_caseworker_share)], ["派单用时中位数", d.median_hours_to_dispatch === null ? "—" : d.median_hours_to_dispatch + " 小时"],
       ["办结用时中位数", d.median_hours_to_close === null ? "—" : d.median_hours_to_close + " 小时"]].forEach(function (c) {
        var card = el("div", null, "card"); card.append(el("span", c[0], "muted"), el("b", String(c[1]))); box.append(card);
      });
      var top = Object.entries(d.by_category).sort(function (a, b) { return b[1] - a[1]; }).slice(0, 5);
      var cat = el("div", null, "card"); cat.append(el("span", "类别（前五）", "muted"));
      top.forEach(function (t) { cat.append(el("div", t[0] + "：" + t[1])); });
      box.append(cat);
      var deps = Object.entries(d.by_department).sort(function (a, b) { return b[1] - a[1]; }).slice(0, 5);
      var dep = el("div", null, "card"); dep.append(el("span", "部门（前五）", "muted"));
      deps.forEach(function (t) { dep.append(el("div", t[0] + "：" + t[1])); });
      box.append(dep);
    }).catch(function (e) { say(e.message, true); });
  }

  function loadQueue() {
    var q = [];
    if ($("f-state").value) q.push("state=" + encodeURIComponent($("f-state").value));
    if ($("f-urgency").value) q.push("urgency=" + encodeURIComponent($("f-urgency").value));
    if ($("f-overdue").checked) q.push("overdue=true");
    api("GET", "/api/orders?limit=100" + (q.length ? "&" + q.join("&") : "")).then(function (page) {
      var body = $("queue"); body.textContent = "";
      page.orders.forEach(function (o) {
        var tr = el("tr"); tr.tabIndex = 0; tr.dataset.ticket = o.ticket;
        if (o.overdue_now) tr.className = "late";
        var urgency = el("span", o.urgency, "badge u-" + o.urgency);
        var cells = [o.ticket, o.title || o.text.slice(0, 24), o.state, null, o.department || "—", fmt(o.close_due || o.dispatch_due)];
        cells.forEach(function (c, i) { var td = el("td", c); if (i === 3) td.append(urgency); tr.append(td); });
        tr.addEventListener("click", function () { openOrder(o.ticket); });
        tr.addEventListener("keydown", function (e) {
          if (e.key === "Enter") openOrder(o.ticket);
          if (e.key === "ArrowDown" && tr.nextSibling) { e.preventDefault(); tr.nextSibling.focus(); }
          if (e.key === "ArrowUp" && tr.previousSibling) { e.preventDefault(); tr.previousSibling.focus(); }
        });
        body.append(tr);
      });
      if (!page.orders.length) { var tr = el("tr"); var td = el("td", "没有符合条件的工单。"); td.colSpan = 6; tr.append(td); body.append(tr); }
    }).catch(function (e) { say(e.message, true); });
  }

  function openOrder(ticket) {
    api("GET", "/api/orders/" + encodeURIComponent(ticket)).then(render).catch(function (e) { say(e.message, true); });
  }

  function render(d) {
    current = d;
    var o = d.order, box = $("detail"); box.textContent = "";
    box.append(el("h2", "工单 " + o.ticket + (o.overdue_now ? "（已超期）" : ""), o.overdue_now ? "error" : ""));
    box.append(el("p", o.text));
    var loc = d.location || {};
    box.append(el("p", "地点：" + ([loc.district, loc.street, loc.community, loc.address].filter(Boolean).join(" ") || o.address || "未识别"), "muted"));
    box.append(el("p", "状态：" + o.state + "　紧急程度：" + o.urgency + "　承办：" + (o.department || "未派发") + "　时限：" + fmt(o.close_due || o.dispatch_due), "muted"));
    box.append(contactRow(o.ticket));
    var s = d.suggestion;
    if (s) {
      box.append(el("h3", "派单建议" + (s.category ? "（类别：" + s.category.label + "，" + Math.round(s.category.confidence * 100) + "%）" : "")));
      var list = el("ol", null, "reasons");
      s.departments.forEach(function (c) {
        var li = el("li"); li.append(el("b", c.department + "　置信度 " + Math.round(c.confidence * 100) + "%"));
        if (c.duty) li.append(el("div", "职责依据：" + c.duty.duty + " " + c.duty.citation, "muted duty"));
        if (c.key_phrases && c.key_phrases.length) li.append(el("div", "关键词：" + c.key_phrases.join("、"), "muted"));
        if (c.similar && c.similar.length) {
          li.append(el("div", "相似历史工单：" + c.similar.map(function (p) {
            return p.order_id + "（" + Math.round(p.similarity * 100) + "%）";
          }).join("、"), "muted"));
        }
        list.append(li);
      });
      box.append(list);
      if (d.proposal && d.proposal.source === "llm") {
        box.append(el("p", "大模型复核：建议派发至 " + d.proposal.department + (d.proposal.reason ? "（" + d.proposal.reason + "）" : ""), "proposal"));
      }
    } else {
      box.append(el("p", "没有派单模型，无法给出建议。", "muted"));
    }
    if (d.duplicates.length) {
      box.append(el("h3", "可能重复（一件事）"));
      var dl = el("ul");
      d.duplicates.forEach(function (x) {
        dl.append(el("li", x.ticket + "　相似度 " + Math.round(x.similarity * 100) + "%　地点 " + (x.place || "—") + "　相隔 " + x.hours_apart + " 小时"));
      });
      box.append(dl);
    }
    if (["上报", "受理", "退回"].indexOf(o.state) >= 0) box.append(actions(d));
    box.append(el("h3", "办理记录"));
    var ev = el("ol");
    d.events.forEach(function (e) {
      ev.append(el("li", fmt(e.at) + "　" + (e.from_state || "—") + " → " + e.to_state + "　" + e.actor + (e.reason ? "（" + e.reason + "）" : "")));
    });
    box.append(ev);
    var first = box.querySelector(".actions button") || box.querySelector("button");
    if (first) first.focus();
  }

  /* The call-back number is fetched only on request: each showing is a deliberate, audited act. */
  function contactRow(ticket) {
    var row = el("p", "回电号码：", "muted contact");
    var show = el("button", "查看回电号码（查看将被记录）", "plain"); show.type = "button";
    show.addEventListener("click", function () {
      api("GET", "/api/orders/" + encodeURIComponent(ticket) + "/contact").then(function (c) {
        var value = el(c.contact_phone ? "b" : "span", c.contact_phone || "市民未留回电号码");
        value.className = "contact-phone";
        show.replaceWith(value);
      }).catch(function (e) { say(e.message, true); });
    });
    row.append(show);
    return row;
  }

  function actions(d) {
    var wrap = el("div", null, "actions");
    /* "approve" sends the order where the console says; the server counts a change against that */
    var shown = d.proposal ? d.proposal.department : null;
    var approve = el("button", shown ? "同意派发至 " + shown : "同意", "primary");
    approve.type = "button";
    approve.addEventListener("click", function () { review({ action: "approve", shown: shown || undefined }); });
    var depLabel = el("label", "改派部门"); var dep = el("select"); dep.id = "change-dept"; depLabel.htmlFor = "change-dept";
    var suggested = (d.suggestion ? d.suggestion.departments : []).map(function (c) { return c.department; });
    var blank = el("option", "请选择承办单位"); blank.value = ""; dep.append(blank);
    var group = function (label, names) {
      if (!names.length) return;
      var g = document.createElement("optgroup"); g.label = label;
      names.forEach(function (n) { var op = el("option", n); op.value = n; g.append(op); });
      dep.append(g);
    };
    group("模型建议", suggested);
    group("全部承办单位", units.filter(function (n) { return suggested.indexOf(n) < 0; }));
    depLabel.append(dep);
    var change = el("button", "改派并派发", "plain"); change.type = "button";
    change.addEventListener("click", function () {
      if (!dep.value) { say("请选择改派部门。", true); dep.focus(); return; }
      review({ action: "change", department: dep.value, shown: shown || undefined });
    });
    var reasonLabel = el("label", "退回或合并说明"); var reason = el("input"); reason.id = "review-reason"; reasonLabel.htmlFor = "review-reason";
    reasonLabel.append(reason);
    var back = el("button", "退回", "plain"); back.type = "button";
    back.addEventListener("click", function () {
      if (!reason.value) { say("退回需要说明原因。", true); reason.focus(); return; }
      review({ action: "send_back", reason: reason.value });
    });
    wrap.append(approve, depLabel, change, reasonLabel, back);
    if (d.duplicates.length) {
      var merge = el("button", "合并到 " + d.duplicates[0].ticket, "plain"); merge.type = "button";
      merge.addEventListener("click", function () { review({ action: "merge", merged_into: d.duplicates[0].ticket, reason: reason.value || "一件事合并" }); });
      wrap.append(merge);
    }
    return wrap;
  }

  function review(decision) {
    var ticket = current.order.ticket;
    api("POST", "/api/orders/" + encodeURIComponent(ticket) + "/review", decision).then(function (r) {
      say("工单 " + ticket + "：" + r.outcome);
      openOrder(ticket); loadQueue(); loadDashboard();
    }).catch(function (e) { say(e.message, true); });
  }

  $("login-form").addEventListener("submit", function (e) {
    e.preventDefault();
    $("login-error").textContent = "";
    api("POST", "/api/auth/login", { username: $("username").value, password: $("password").value }).then(function (me) {
      csrf = me.csrf; $("password").value = ""; showApp(me);
    }).catch(function (err) { $("login-error").textContent = err.message; });
  });
  $("logout").addEventListener("click", function () { api("POST", "/api/auth/logout").then(showLogin); });
  ["f-state", "f-urgency", "f-overdue"].forEach(function (id) { $(id).addEventListener("change", loadQueue); });

  api("GET", "/api/auth/me").then(function (me) { csrf = cookie("cityagent_csrf"); showApp(me); }).catch(showLogin);
})();
