/*
 * cityagent chat widget: add it to any page with one tag
 *
 *   <script src="https://SERVICE/widget.js" defer></script>
 *
 * Optional attributes: data-title="某市政务服务助手", data-api="https://SERVICE" (default: the
 * script's own origin). No build step, no dependencies. Talks to POST /api/chat (server-sent
 * events) with the session cookie, so the service must list the page's origin in
 * CITYAGENT_SERVER__CORS_ORIGINS when the page is on another site.
 *
 * Accessibility (适老化/无障碍): every control has a label; the conversation is an aria-live log;
 * opened from the keyboard, focus is on the panel and Tab reaches the header buttons first, then the conversation,
 * the input and send, and goes round the open panel (never out to the page); Enter sends, Shift+Enter makes a
 * new line, Esc closes and gives focus back to the button that opened it; progress lines are read out as they come;
 * 大字 (large text) and 高对比 (high contrast) modes are remembered; 朗读 reads an answer aloud
 * with the browser's speech synthesis where there is one.
 */
(function () {
  "use strict";
  if (window.__cityagentWidget) return;
  window.__cityagentWidget = true;

  var script = document.currentScript;
  var api = (script && script.getAttribute("data-api")) || (script ? new URL(script.src).origin : "");
  var title = (script && script.getAttribute("data-title")) || "政务服务助手";
  var store = window.localStorage;
  var speech = "speechSynthesis" in window ? window.speechSynthesis : null;

  var css = [
    ".ca-root{--ca-fg:#1f2328;--ca-bg:#fff;--ca-accent:#b3261e;--ca-muted:#57606a;--ca-soft:#f6f8fa;--ca-line:#d0d7de;",
    "font:16px/1.6 system-ui,-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;color:var(--ca-fg)}",
    ".ca-root.ca-large{font-size:21px}",
    ".ca-root.ca-contrast{--ca-fg:#fff;--ca-bg:#000;--ca-accent:#ffd400;--ca-muted:#fff;--ca-soft:#111;--ca-line:#fff}",
    ".ca-root *{box-sizing:border-box;font:inherit}",
    ".ca-bubble{position:fixed;right:20px;bottom:20px;z-index:2147483000;border:0;border-radius:28px;padding:14px 20px;",
    "background:var(--ca-accent);color:#fff;box-shadow:0 4px 14px rgba(0,0,0,.25);cursor:pointer;font-weight:600}",
    ".ca-contrast .ca-bubble{color:#000}",
    ".ca-panel{position:fixed;right:20px;bottom:84px;z-index:2147483001;width:400px;max-width:calc(100vw - 24px);",
    "height:620px;max-height:calc(100vh - 110px);display:flex;flex-direction:column;background:var(--ca-bg);",
    "border:1px solid var(--ca-line);border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.25);overflow:hidden}",
    ".ca-panel[hidden]{display:none}",
    /* large text on a desktop: a taller, wider panel, so the bigger words still leave room for the talk */
    "@media (min-width:601px){.ca-large .ca-panel{width:540px;height:calc(100vh - 110px);max-height:940px}}",
    ".ca-head{display:flex;align-items:center;gap:6px;padding:10px 12px;background:var(--ca-accent);color:#fff}",
    ".ca-contrast .ca-head{color:#000}",
    ".ca-head h2{flex:1;margin:0;font-size:1.05em}",
    ".ca-head button{border:1px solid currentColor;background:transparent;color:inherit;border-radius:6px;padding:2px 8px;cursor:pointer;font-size:.85em}",
    ".ca-head button[aria-pressed=true]{background:rgba(255,255,255,.3)}",
    ".ca-log{flex:1;overflow-y:auto;padding:12px;background:var(--ca-soft)}",
    ".ca-msg{margin:0 0 12px;padding:10px 12px;border-radius:10px;white-space:pre-wrap;word-break:break-word;max-width:92%}",
    ".ca-user{margin-left:auto;background:var(--ca-accent);color:#fff}",
    ".ca-contrast .ca-user{color:#000}",
    ".ca-bot{background:var(--ca-bg);border:1px solid var(--ca-line)}",
    ".ca-notice{background:#fde7e9;color:#8a1020;border:2px solid #b3261e;font-weight:700}",
    ".ca-contrast .ca-notice{background:#000;color:#ffd400;border-color:#ffd400}",
    ".ca-error{color:var(--ca-accent);font-size:.9em;margin-top:6px}",
    ".ca-cite{margin-top:8px;border:1px solid var(--ca-line);border-radius:8px;background:var(--ca-soft);white-space:normal}",
    ".ca-cite summary{cursor:pointer;padding:6px 8px;color:var(--ca-accent);font-weight:600}",
    ".ca-cite blockquote{margin:0;padding:6px 10px;border-left:3px solid var(--ca-accent);white-space:pre-wrap}",
    ".ca-cite p{margin:4px 10px 8px;color:var(--ca-muted);font-size:.85em}",
    ".ca-ticket{margin-top:8px;padding:8px;border:2px dashed var(--ca-accent);border-radius:8px;font-weight:700}",
    ".ca-tools{margin-top:6px}",
    ".ca-tools button{border:1px solid var(--ca-line);background:var(--ca-bg);color:var(--ca-fg);border-radius:6px;padding:2px 8px;cursor:pointer;font-size:.85em}",
    ".ca-actions{display:flex;gap:8px;padding:8px 12px 0;background:var(--ca-bg)}",
    ".ca-actions button{border:1px solid var(--ca-accent);background:var(--ca-bg);color:var(--ca-accent);border-radius:16px;padding:4px 12px;cursor:pointer}",
    ".ca-form{display:flex;gap:8px;padding:10px 12px;background:var(--ca-bg);border-top:1px solid var(--ca-line)}",
    ".ca-form textarea{flex:1;resize:none;min-height:44px;max-height:140px;padding:8px;border:1px solid var(--ca-line);border-radius:8px;background:var(--ca-bg);color:var(--ca-fg)}",
    ".ca-form button{border:0;border-radius:8px;padding:0 16px;background:var(--ca-accent);color:#fff;cursor:pointer;font-weight:600}",
    ".ca-contrast .ca-form button{color:#000}",
    ".ca-form button:disabled{opacity:.5;cursor:wait}",
    ".ca-wait{color:var(--ca-muted);background:transparent;padding-left:0}",
    ".ca-steps{list-style:none;margin:0;padding:0}",
    ".ca-steps li::before{content:'▸ ';color:var(--ca-accent)}",
    ".ca-steps li.ca-done::before{content:'✓ '}",
    ".ca-secs{display:block;font-size:.85em}",
    ".ca-root :focus-visible{outline:3px solid #0969da;outline-offset:2px}",
    ".ca-panel:focus-visible{outline-offset:-3px}",
    ".ca-contrast :focus-visible{outline-color:#ffd400}",
    ".ca-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}",
    "@media (max-width:600px){.ca-panel{right:0;bottom:0;width:100vw;max-width:100vw;height:100%;max-height:100%;border-radius:0}",
    ".ca-bubble{right:12px;bottom:12px}}"
  ].join("");

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text;
    return node;
  }

  var root = el("div", { "class": "ca-root", id: "cityagent-widget" });
  var style = el("style");
  style.textContent = css;
  var bubble = el("button", { "class": "ca-bubble", type: "button", "aria-expanded": "false",
    "aria-controls": "ca-panel", "aria-label": "打开" + title }, "政务咨询");
  var panel = el("div", { "class": "ca-panel", id: "ca-panel", role: "dialog", "aria-label": title,
    tabindex: "-1", hidden: "" });
  var head = el("div", { "class": "ca-head" });
  var heading = el("h2", {}, title);
  var bigBtn = el("button", { type: "button", "aria-pressed": "false", "aria-label": "大字模式" }, "大字");
  var contrastBtn = el("button", { type: "button", "aria-pressed": "false", "aria-label": "高对比度模式" }, "高对比");
  var newBtn = el("button", { type: "button", "aria-label": "开始新对话" }, "新对话");
  var closeBtn = el("button", { type: "button", "aria-label": "关闭" + title }, "关闭");
  head.append(heading, bigBtn, contrastBtn, newBtn, closeBtn);
  var log = el("div", { "class": "ca-log", role: "log", "aria-live": "polite", "aria-label": "对话记录", tabindex: "0" });
  var actions = el("div", { "class": "ca-actions" });
  var reportBtn = el("button", { type: "button", "aria-label": "转人工或提交诉求" }, "转人工/提交诉求");
  actions.append(reportBtn);
  var form = el("form", { "class": "ca-form" });
  var label = el("label", { "for": "ca-input", "class": "ca-sr" }, "输入您的问题或要反映的情况");
  var input = el("textarea", { id: "ca-input", rows: "2", maxlength: "1000",
    placeholder: "请输入问题，例如：办理居住证需要什么材料？" });
  var send = el("button", { type: "submit" }, "发送");
  form.append(label, input, send);
  panel.append(head, log, actions, form);
  root.append(style, bubble, panel);

  function setPref(name, on, btn) {
    root.classList.toggle(name, on);
    btn.setAttribute("aria-pressed", on ? "true" : "false");
    try { store.setItem("cityagent." + name, on ? "1" : ""); } catch (e) { /* private mode */ }
  }
  function pref(name) { try { return store.getItem("cityagent." + name) === "1"; } catch (e) { return false; } }

  function scroll() { log.scrollTop = log.scrollHeight; }

  function addUser(text) {
    var m = el("div", { "class": "ca-msg ca-user" }, text);
    log.append(m); scroll();
  }

  function addBot(text) {
    var m = el("div", { "class": "ca-msg ca-bot" });
    var body = el("div", { "class": "ca-body" }, text || "");
    m.append(body);
    log.append(m); scroll();
    return m;
  }

  function addNotice(text) {
    log.append(el("div", { "class": "ca-msg ca-notice", role: "alert" }, text)); scroll();
  }

  function addCitations(m, cites) {
    (cites || []).forEach(function (c) {
      var d = el("details", { "class": "ca-cite" });
      var s = el("summary", { "aria-label": "查看条款原文：" + c.citation }, c.citation);
      var q = el("blockquote", {}, c.text);
      var src = el("p", {}, "来源：" + (c.title || "") + (c.doc_number ? "（" + c.doc_number + "）" : "") + " " + (c.label || ""));
      d.append(s, q, src);
      m.append(d);
    });
  }

  function addTicket(m, ticket) {
    m.append(el("div", { "class": "ca-ticket", role: "status" }, "工单号：" + ticket));
  }

  function addTools(m) {
    if (!speech) return;
    var tools = el("div", { "class": "ca-tools" });
    var read = el("button", { type: "button", "aria-label": "朗读这条回答" }, "朗读");
    read.addEventListener("click", function () {
      speech.cancel();
      var u = new SpeechSynthesisUtterance(m.querySelector(".ca-body").textContent);
      u.lang = "zh-CN";
      speech.speak(u);
    });
    tools.append(read);
    m.append(tools);
  }

  function addError(m, message) {
    m.append(el("div", { "class": "ca-error", role: "alert" }, message));
  }

  function parseEvents(buffer, onEvent) {
    var parts = buffer.split("\n\n");
    var rest = parts.pop();
    parts.forEach(function (block) {
      var kind = "message", data = "";
      block.split("\n").forEach(function (line) {
        if (line.indexOf("event: ") === 0) kind = line.slice(7);
        else if (line.indexOf("data: ") === 0) data += line.slice(6);
      });
      if (data) onEvent(kind, JSON.parse(data));
    });
    return rest;
  }

  var busy = false;
  function ask(text) {
    if (busy || !text.trim()) return;
    busy = true; send.disabled = true;
    addUser(text);
    var m = null, body = null, streamed = "";
    /* something on screen at once: what the service is doing (its progress events: looking up, found N
       clauses in 《…》, writing), each step a line, and the seconds waited; the answer's first words replace it */
    var waiting = el("div", { "class": "ca-msg ca-wait", role: "status", "aria-live": "polite",
      "aria-atomic": "false", "aria-relevant": "additions" });
    var steps = el("ul", { "class": "ca-steps" });
    var secs = el("span", { "class": "ca-secs", "aria-hidden": "true" });
    var step = el("li", {}, "正在处理您的问题…"), local = true, started = Date.now();
    steps.append(step); waiting.append(steps, secs);
    log.append(waiting); scroll();
    var ticker = setInterval(function () {  /* not read out every second: the steps are */
      var s = Math.round((Date.now() - started) / 1000);
      secs.textContent = s >= 3 ? "已等待 " + s + " 秒" : "";
    }, 1000);
    function progress(data) {
      if (!data || !data.text) return;
      if (local) { step.remove(); local = false; } else { step.classList.add("ca-done"); }
      step = el("li", { "data-stage": data.stage || "" }, data.text);
      steps.append(step); scroll();
    }
    function settled() { clearInterval(ticker); if (waiting.parentNode) waiting.remove(); }
    function bot() {
      if (!m) { m = addBot(""); body = m.querySelector(".ca-body"); m.setAttribute("aria-busy", "true"); }
      return m;
    }
    function finish() {
      settled();
      busy = false; send.disabled = false;
      if (m) { m.removeAttribute("aria-busy"); addTools(m); }
      input.focus();
    }
    fetch(api + "/api/chat", {
      method: "POST", credentials: "include",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ message: text, stream: true })
    }).then(function (resp) {
      if (!resp.ok) {
        return resp.json().catch(function () { return {}; }).then(function (j) {
          addError(bot(), (j.error && j.error.message) || ("服务暂时不可用（" + resp.status + "），请稍后再试或拨打12345。"));
        });
      }
      var reader = resp.body.getReader(), decoder = new TextDecoder(), buffer = "";
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) return;
          buffer = parseEvents(buffer + decoder.decode(r.value, { stream: true }), function (kind, data) {
            if (kind === "progress") { progress(data); return; }
            if (kind !== "session" && kind !== "done") settled();
            if (kind === "notice") addNotice(data);
            else if (kind === "token") { bot(); streamed += data; body.textContent = streamed; scroll(); }
            else if (kind === "answer") { bot(); body.textContent = data.text; scroll(); }
            else if (kind === "citations") addCitations(bot(), data);
            else if (kind === "ticket") addTicket(bot(), data.ticket);
            else if (kind === "error") addError(bot(), data.message);
          });
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      addError(bot(), "网络连接中断，请检查网络后重试，或拨打12345热线。");
    }).then(finish);
  }

  function restore() {
    fetch(api + "/api/chat/history", { credentials: "include" }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (h) {
      if (!h) return;
      log.textContent = "";
      if (!h.messages.length) { addBot("您好！我是" + title + "。可以问我政策和办事的问题，也可以告诉我需要反映的问题。"); return; }
      h.messages.forEach(function (msg) {
        if (msg.role === "user") { addUser(msg.content); return; }
        if (msg.notice) addNotice(msg.notice);
        var m = addBot(msg.content);
        addCitations(m, msg.citations);
        if (msg.ticket) addTicket(m, msg.ticket);
        addTools(m);
      });
    }).catch(function () { /* offline: the first question will say so */ });
  }

  var restored = false;
  /* Opened from the keyboard, focus goes to the panel itself (its name is read out) so that Tab reaches
     the header buttons first, then the conversation, the input and send; opened with a click or a tap,
     to the input, to type at once. */
  function open(fromKeyboard) {
    panel.hidden = false; bubble.setAttribute("aria-expanded", "true");
    if (!restored) { restored = true; restore(); }
    (fromKeyboard === true ? panel : input).focus();
  }
  function close() {
    panel.hidden = true; bubble.setAttribute("aria-expanded", "false");
    if (speech) speech.cancel();
    bubble.focus();
  }

  /* a click made with Enter or Space has detail 0 */
  bubble.addEventListener("click", function (e) { panel.hidden ? open(e.detail === 0) : close(); });
  closeBtn.addEventListener("click", close);
  /* Tab and Shift+Tab go round the open panel (header buttons, the log, citations, input, send), never out to the page */
  function focusables() {
    return Array.prototype.filter.call(
      panel.querySelectorAll("button, textarea, summary, a[href], [tabindex='0']"),
      function (n) { return !n.disabled && n.offsetParent !== null; });
  }
  panel.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { close(); return; }
    if (e.key !== "Tab") return;
    var items = focusables();
    if (!items.length) return;
    var first = items[0], last = items[items.length - 1];
    var at = document.activeElement;
    if (at === panel) { e.preventDefault(); (e.shiftKey ? last : first).focus(); }
    else if (!e.shiftKey && at === last) { e.preventDefault(); first.focus(); }
    else if (e.shiftKey && at === first) { e.preventDefault(); last.focus(); }
  });
  bigBtn.addEventListener("click", function () { setPref("ca-large", !root.classList.contains("ca-large"), bigBtn); });
  contrastBtn.addEventListener("click", function () { setPref("ca-contrast", !root.classList.contains("ca-contrast"), contrastBtn); });
  newBtn.addEventListener("click", function () {
    fetch(api + "/api/chat/reset", { method: "POST", credentials: "include" }).then(function () {
      log.textContent = ""; addBot("已开始新的对话。请问有什么可以帮您？"); input.focus();
    });
  });
  reportBtn.addEventListener("click", function () { ask("我要提交诉求"); });
  form.addEventListener("submit", function (e) { e.preventDefault(); var t = input.value; input.value = ""; ask(t); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });

  setPref("ca-large", pref("ca-large"), bigBtn);
  setPref("ca-contrast", pref("ca-contrast"), contrastBtn);
  function mount() { document.body.append(root); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
  window.cityagentWidget = { open: open, close: close, ask: ask };
})();
