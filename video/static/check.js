// The pre-lesson check: devices, a live input level, stereo or not, and a network test.
"use strict";

(function () {
  var M = window.DuetMedia;
  var $ = function (sel) { return document.querySelector(sel); };
  var mic = $("[data-testid=mic-select]");
  var camera = $("[data-testid=camera-select]");
  var stream = null;
  var stopMeter = null;

  function alertBox(text) {
    var box = $("[data-testid=check-alert]");
    box.textContent = text || "";
    box.hidden = !text;
  }

  async function start() {
    if (stopMeter) stopMeter();
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    var wantVideo = camera.value !== "none";
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: M.audioConstraints("music", mic.value || null),
        video: wantVideo ? M.videoConstraints(camera.value || null) : false,
      });
    } catch (err) {
      alertBox("Duet cannot use your microphone or camera: " + err.message +
        ". Allow them in your browser's site settings and reload this page.");
      return;
    }
    var audio = stream.getAudioTracks()[0];
    $("[data-testid=check-video]").srcObject = wantVideo ? stream : null;
    var stereo = M.stereoOf(audio);
    var channels = $("[data-testid=channels]");
    if (stereo === false) {
      channels.textContent = "Mono input.";
      alertBox("Your browser or this microphone gives mono sound only, so the other side will hear you in " +
        "mono. For stereo, choose a stereo audio interface, or use Chrome, Edge or Firefox.");
    } else {
      var rate = audio.getSettings().sampleRate;
      channels.textContent = stereo ? "Stereo input" + (rate ? ", " + rate / 1000 + " kHz" : "") +
        ", no echo cancellation, noise suppression or automatic gain." : "";
      alertBox("");
    }
    stopMeter = M.levelMeter(stream, function (db) {
      var text = $("[data-testid=level-text]");
      if (db === null) { text.textContent = "(click the page to start the meter)"; return; }
      $("[data-testid=level]").value = Math.max(-60, db);
      text.textContent = db <= -100 ? "silence" : db.toFixed(0) + " dBFS";
    });
    await M.listDevices(mic, camera, {
      mic: audio.getSettings().deviceId,
      camera: wantVideo && stream.getVideoTracks()[0] ? stream.getVideoTracks()[0].getSettings().deviceId : "none",
    });
  }

  async function networkTest() {
    var button = $("[data-testid=network-test]");
    button.disabled = true;
    $("[data-testid=verdict]").textContent = "Testing…";
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1/rooms/echo";
    var ws = new WebSocket(url);
    var samples = [];
    var sentAt = 0;
    ws.onopen = function () { sentAt = performance.now(); ws.send(JSON.stringify({ t: sentAt })); };
    ws.onmessage = function () {
      samples.push(performance.now() - sentAt);
      if (samples.length >= 20) { ws.close(); return; }
      setTimeout(function () { sentAt = performance.now(); ws.send(JSON.stringify({ t: sentAt })); }, 100);
    };
    ws.onclose = function () {
      button.disabled = false;
      if (samples.length < 5) { $("[data-testid=verdict]").textContent = "Could not reach the server."; return; }
      var avg = samples.reduce(function (a, b) { return a + b; }, 0) / samples.length;
      var jitter = 0;
      for (var i = 1; i < samples.length; i++) jitter += Math.abs(samples[i] - samples[i - 1]);
      jitter /= samples.length - 1;
      $("[data-testid=rtt]").textContent = avg.toFixed(0) + " ms";
      $("[data-testid=jitter]").textContent = jitter.toFixed(1) + " ms";
      $("[data-testid=verdict]").textContent = avg < 150 && jitter < 20 ? "Good for playing together"
        : avg < 300 && jitter < 40 ? "Fine for a lesson" : "Poor: a wired connection would help";
    };
  }

  mic.addEventListener("change", start);
  camera.addEventListener("change", start);
  $("[data-testid=network-test]").addEventListener("click", networkTest);
  start();
})();
