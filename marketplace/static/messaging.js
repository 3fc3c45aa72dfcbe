// Live messaging: the header badge on every page, and the open conversation.
// One WebSocket per tab (/ws/messages). Messages are rows first: after any gap (a dropped
// socket, "resync", a sequence number that skips) the view asks the server for everything after
// the last message it holds, so nothing is lost. While pub/sub is down ("degraded") or the
// socket cannot connect, it polls the same catch-up every few seconds.
(function () {
  "use strict";
  var badge = document.querySelector("[data-unread-total]");
  var view = document.querySelector("[data-conversation]");
  var inbox = document.querySelector("[data-inbox]");
  var socket = null;
  var retry = 500;
  var pollTimer = null;
  var degraded = false;

  function setBadge(total) {
    if (!badge) { return; }
    var label = badge.querySelector(".visually-hidden");
    badge.textContent = "";
    if (label) { badge.appendChild(label); }
    badge.appendChild(document.createTextNode(String(total)));
    badge.hidden = !total;
  }

  // ------------------------------------------------------------------ the conversation view
  var conv = null;
  if (view) {
    conv = {
      id: Number(view.dataset.conversationId),
      me: Number(view.dataset.me),
      role: view.dataset.role,
      admin: view.dataset.admin === "true",
      lastSeq: Number(view.dataset.lastSeq),
      theirRead: Number(view.dataset.theirRead),
      zone: view.dataset.timeZone,
      list: view.querySelector("[data-messages]"),
      typing: view.querySelector("[data-typing]"),
      state: view.querySelector("[data-live-state]"),
      form: view.querySelector("[data-composer]"),
      pending: {},
      typingTimer: null,
      lastTyped: 0,
    };
    // The highest sequence number we hold with nothing missing below it.
    conv.held = conv.lastSeq;
    scrollToEnd();
  }

  function scrollToEnd() {
    if (!conv || !conv.list.lastElementChild) { return; }
    if (location.hash && document.getElementById(location.hash.slice(1))) { return; }
    conv.list.lastElementChild.scrollIntoView({ block: "end" });
  }

  // The same shape as the server's "02 Dec 2026, 15:22 CET", in the viewer's zone.
  function formatTime(iso) {
    try {
      var parts = {};
      new Intl.DateTimeFormat("en-GB", {
        day: "2-digit", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
        timeZone: conv.zone, timeZoneName: "short", hour12: false,
      }).formatToParts(new Date(iso)).forEach(function (p) { parts[p.type] = p.value; });
      return parts.day + " " + parts.month + " " + parts.year + ", " + parts.hour + ":" +
        parts.minute + " " + parts.timeZoneName;
    } catch (e) { return iso; }
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function renderMessage(m) {
    var mine = m.sender_id === conv.me;
    var li = el("li", "message " + (mine ? "mine" : "theirs"));
    li.id = "m" + m.seq;
    li.dataset.seq = m.seq;
    li.dataset.id = m.id;
    li.dataset.sender = m.sender_id;
    var bubble = el("div", "bubble");
    if (m.html) {
      var body = el("div", "body");
      body.innerHTML = m.html; // sanitised on the server (allow-list), see marketplace/text.py
      bubble.appendChild(body);
    }
    (m.attachments || []).forEach(function (a) {
      var box = el("div", "attachment attachment-" + a.kind);
      if (a.kind === "image") {
        var link = el("a"); link.href = a.url; link.target = "_blank"; link.rel = "noopener";
        var img = el("img"); img.src = a.url; img.alt = a.filename; img.loading = "lazy";
        if (a.width) { img.width = a.width; img.height = a.height; }
        link.appendChild(img); box.appendChild(link);
      } else if (a.kind === "audio") {
        var audio = el("audio"); audio.controls = true; audio.preload = "none"; audio.src = a.url;
        box.appendChild(audio);
      }
      var file = el("a", "file", "📎 " + a.filename); file.href = a.url + "?download=1";
      box.appendChild(file);
      bubble.appendChild(box);
    });
    if (m.booking) {
      var ref = el("p", "booking-ref");
      var bl = el("a", null, "About the lesson on " + formatTime(m.booking.starts_at));
      bl.href = m.booking.link; ref.appendChild(bl); bubble.appendChild(ref);
    }
    li.appendChild(bubble);
    if (m.contact_flags && m.contact_flags.length && conv.role === "tutor") {
      var note = el("p", "contact-flag", "This message shares contact details (" +
        m.contact_flags.join(", ") + ") before your first booking. A reminder of Duet's rules: " +
        "arrange and pay lessons on Duet, so both of you are protected.");
      note.setAttribute("role", "note");
      li.appendChild(note);
    }
    var meta = el("p", "message-meta");
    var time = el("time", null, formatTime(m.created_at)); time.dateTime = m.created_at;
    meta.appendChild(time);
    if (mine) {
      var seen = el("span", "seen", " · Seen"); seen.dataset.seen = "";
      seen.hidden = conv.theirRead < m.seq; meta.appendChild(seen);
    }
    li.appendChild(meta);
    var template = document.querySelector("[data-report-template]");
    if (!mine && !conv.admin && template) {
      var report = template.content.firstElementChild.cloneNode(true);
      report.querySelector("form").action = "/messages/" + conv.id + "/report/" + m.id;
      li.appendChild(report);
    }
    return li;
  }

  function addMessage(m) {
    if (!conv || m.conversation_id !== conv.id) { return; }
    if (document.getElementById("m" + m.seq)) { return; } // already shown (catch-up overlap)
    var node = renderMessage(m);
    var pending = m.client_id && conv.pending[m.client_id];
    if (pending) { pending.remove(); delete conv.pending[m.client_id]; }
    // Keep sequence order even when events arrive out of order.
    var after = null;
    var items = conv.list.children;
    for (var i = items.length - 1; i >= 0; i--) {
      var s = Number(items[i].dataset.seq || 0);
      if (s && s < m.seq) { after = items[i]; break; }
    }
    if (after) { after.after(node); } else { conv.list.prepend(node); }
    conv.lastSeq = Math.max(conv.lastSeq, m.seq);
    if (m.seq === conv.held + 1) {
      conv.held = m.seq;
      while (document.getElementById("m" + (conv.held + 1))) { conv.held += 1; }
    } else if (m.seq > conv.held + 1) {
      sync(); // a gap: fetch what is missing
    }
    node.scrollIntoView({ block: "end", behavior: "smooth" });
    if (m.sender_id !== conv.me) {
      hideTyping();
      markRead(m.seq);
    }
  }

  function markRead(seq) {
    if (!conv || conv.admin || document.hidden) { return; }
    send({ type: "read", conversation_id: conv.id, seq: seq });
  }

  function showSeen(seq) {
    conv.theirRead = Math.max(conv.theirRead, seq);
    conv.list.querySelectorAll("[data-seen]").forEach(function (node) {
      node.hidden = Number(node.closest("li").dataset.seq) > conv.theirRead;
    });
  }

  function showTyping(name) {
    conv.typing.textContent = name + " is typing…";
    conv.typing.hidden = false;
    clearTimeout(conv.typingTimer);
    conv.typingTimer = setTimeout(hideTyping, 5000);
  }

  function hideTyping() {
    if (conv) { conv.typing.hidden = true; }
  }

  function sync() {
    if (conv) { send({ type: "sync", conversation_id: conv.id, after_seq: conv.held }); }
  }

  function newClientId() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return String(Date.now()) + Math.random().toString(16).slice(2);
  }

  if (conv && conv.form) {
    var textarea = conv.form.querySelector("[data-body]");
    var errorBox = conv.form.querySelector("[data-composer-error]");
    conv.form.querySelector("[data-client-id]").value = newClientId();
    conv.form.addEventListener("submit", function (event) {
      var file = conv.form.querySelector("input[type=file]");
      if ((file && file.files.length) || !socket || socket.readyState !== 1) {
        return; // an upload, or no live connection: the ordinary form post does it
      }
      event.preventDefault();
      var body = textarea.value.trim();
      if (!body) { showError("Write a message first."); return; }
      var clientId = newClientId();
      var booking = conv.form.querySelector("select[name=booking_id]");
      var frame = { type: "send", conversation_id: conv.id, body: body, client_id: clientId };
      if (booking && booking.value) { frame.booking_id = Number(booking.value); }
      var pending = el("li", "message mine pending");
      pending.appendChild(el("div", "bubble", body));
      pending.appendChild(el("p", "message-meta", "Sending…"));
      conv.list.appendChild(pending);
      conv.pending[clientId] = pending;
      send(frame);
      textarea.value = "";
      showError("");
      textarea.focus();
    });
    textarea.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        conv.form.requestSubmit();
      }
    });
    textarea.addEventListener("input", function () {
      var now = Date.now();
      if (now - conv.lastTyped > 3000) {
        conv.lastTyped = now;
        send({ type: "typing", conversation_id: conv.id });
      }
    });
    function showError(text) {
      errorBox.textContent = text;
      errorBox.hidden = !text;
    }
    conv.showError = showError;
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && conv) { markRead(conv.lastSeq); }
  });

  // ------------------------------------------------------------------ the inbox
  function bumpInbox(m) {
    if (!inbox) { return; }
    var row = inbox.querySelector('[data-conversation-id="' + m.conversation_id + '"]');
    if (!row) { return; } // a new conversation: shown on the next visit
    var excerpt = row.querySelector("[data-excerpt]");
    var text = (m.body || (m.attachments[0] && ("📎 " + m.attachments[0].filename)) || "");
    excerpt.textContent = (m.sender_id === Number(inbox.dataset.me) ? "You: " : "") + text.slice(0, 140);
    if (m.sender_id !== Number(inbox.dataset.me)) {
      var count = row.querySelector("[data-unread]");
      var n = Number(count.textContent.replace(/\D/g, "") || 0) + 1;
      count.lastChild.textContent = String(n);
      count.hidden = false;
      row.classList.add("unread");
    }
    inbox.prepend(row);
  }

  // ------------------------------------------------------------------ the socket
  function send(frame) {
    if (socket && socket.readyState === 1) { socket.send(JSON.stringify(frame)); }
  }

  function setState(text) {
    if (conv && conv.state) { conv.state.textContent = text; }
  }

  function startPolling() {
    if (pollTimer) { return; }
    pollTimer = setInterval(function () {
      if (socket && socket.readyState === 1) { sync(); } else { pollHttp(); }
    }, 4000);
  }

  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = null;
  }

  function pollHttp() {
    var url = conv ? "/api/v1/conversations/" + conv.id + "/messages?after_seq=" + conv.held
      : "/api/v1/conversations/unread";
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        if (conv) { data.items.forEach(addMessage); showSeen(data.their_read_seq); }
        else { setBadge(data.total); }
      })
      .catch(function () { /* offline: the next tick tries again */ });
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws/messages");
    socket.addEventListener("open", function () {
      retry = 500;
      setState("");
      if (!degraded) { stopPolling(); }
      sync();
    });
    socket.addEventListener("message", function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      handle(data);
    });
    socket.addEventListener("close", function (event) {
      socket = null;
      if (event.code === 4401) { setState("You are logged out."); return; }
      setState("Reconnecting…");
      startPolling();
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 15000);
    });
  }

  function handle(data) {
    switch (data.type) {
      case "hello": setBadge(data.unread_total); break;
      case "unread": setBadge(data.total); break;
      case "message":
        if ("unread_total" in data) { setBadge(data.unread_total); }
        addMessage(data.message); bumpInbox(data.message);
        break;
      case "messages":
        if (conv && data.conversation_id === conv.id) {
          data.items.forEach(addMessage);
          showSeen(data.their_read_seq);
          if (data.more) { sync(); }
        }
        break;
      case "typing":
        if (conv && data.conversation_id === conv.id) { showTyping(data.name); }
        break;
      case "read":
        if (conv && data.conversation_id === conv.id && data.user_id !== conv.me) { showSeen(data.seq); }
        break;
      case "conversation":
        if (conv && data.conversation_id === conv.id && "blocked" in data) { location.reload(); }
        break;
      case "degraded": degraded = true; startPolling(); break;
      case "resync": degraded = false; stopPolling(); sync(); break;
      case "error":
        if (conv && data.client_id && conv.pending[data.client_id]) {
          var failed = conv.pending[data.client_id];
          var box = conv.form && conv.form.querySelector("[data-body]");
          if (box && !box.value) { box.value = failed.firstChild.textContent; } // keep the words
          failed.remove();
          delete conv.pending[data.client_id];
        }
        if (conv && conv.showError && data.frame === "send") { conv.showError(data.message); }
        break;
      default: break;
    }
  }

  if ("WebSocket" in window) { connect(); } else { startPolling(); }
})();
