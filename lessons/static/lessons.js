// Courses and quizzes: small enhancements; every page works without them.
(function () {
  "use strict";
  function csrf() {
    var m = document.cookie.match(/(?:^|; )duet_csrf=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(body),
      keepalive: true
    });
  }

  // The player: resume where the student stopped, and report the position now and then.
  document.querySelectorAll("[data-player]").forEach(function (player) {
    var url = player.getAttribute("data-progress-url");
    var resume = parseFloat(player.getAttribute("data-resume") || "0");
    var sent = 0;
    player.addEventListener("loadedmetadata", function () {
      if (resume > 0 && resume < player.duration - 1) { player.currentTime = resume; }
    });
    if (!url) { return; }
    function report() {
      if (Math.abs(player.currentTime - sent) < 1) { return; }
      sent = player.currentTime;
      post(url, { position_seconds: Math.round(player.currentTime * 10) / 10 });
    }
    player.addEventListener("timeupdate", function () {
      if (Math.abs(player.currentTime - sent) >= 10) { report(); }
    });
    player.addEventListener("pause", report);
    player.addEventListener("ended", report);
    window.addEventListener("pagehide", report);
  });

  // The tutor's item editor: follow a conversion until it is done.
  var status = document.querySelector("[data-media-status]");
  if (status && status.querySelector("[data-media-progress]")) {
    var timer = setInterval(function () {
      fetch(status.getAttribute("data-status-url"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (m) {
          if (!m) { return; }
          if (m.status !== "processing") { clearInterval(timer); window.location.reload(); return; }
          status.querySelector("[data-media-progress]").value = m.progress_percent;
          status.querySelector("[data-media-percent]").textContent = m.progress_percent + "%";
        });
    }, 2000);
  }

  // A quiz with a time limit: count down; the server enforces the deadline regardless.
  var clock = document.querySelector("[data-seconds-left]");
  if (clock) {
    var left = parseInt(clock.getAttribute("data-seconds-left"), 10);
    var shown = clock.querySelector("[data-timer]");
    var form = document.querySelector("[data-quiz-form]");
    var end = Date.now() + left * 1000;
    var tick = setInterval(function () {
      var s = Math.max(0, Math.round((end - Date.now()) / 1000));
      shown.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
      if (s === 0) { clearInterval(tick); if (form) { form.submit(); } }
    }, 1000);
  }

  // The question form: show only the fields of the chosen type.
  document.querySelectorAll("[data-question-form]").forEach(function (form) {
    var kind = form.querySelector("[data-kind]");
    function sync() {
      form.querySelectorAll("fieldset[data-for]").forEach(function (set) {
        set.hidden = set.getAttribute("data-for").split(" ").indexOf(kind.value) < 0;
      });
    }
    kind.addEventListener("change", sync);
    sync();
  });
})();
