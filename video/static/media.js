// Shared by the lesson room and the pre-lesson check: capture constraints for music and speech,
// devices, and the Opus fmtp munging. Plain JavaScript, no build step.
"use strict";

window.DuetMedia = (function () {
  // Music: what the instrument does reaches the other side. No echo cancellation, noise
  // suppression or automatic gain (they treat sustained notes as noise and pump the level),
  // two channels at 48 kHz.
  function audioConstraints(mode, deviceId) {
    var music = mode !== "speech";
    var c = {
      echoCancellation: !music,
      noiseSuppression: !music,
      autoGainControl: !music,
      channelCount: music ? { ideal: 2 } : { ideal: 1 },
      sampleRate: { ideal: 48000 },
    };
    if (music) c.voiceIsolation = false;
    if (deviceId) c.deviceId = { exact: deviceId };
    return c;
  }

  function videoConstraints(deviceId) {
    var c = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
    if (deviceId) c.deviceId = { exact: deviceId };
    return c;
  }

  async function listDevices(micSelect, cameraSelect, current) {
    var devices = await navigator.mediaDevices.enumerateDevices();
    fill(micSelect, devices.filter(function (d) { return d.kind === "audioinput"; }), "Microphone", current.mic);
    fill(cameraSelect, devices.filter(function (d) { return d.kind === "videoinput"; }), "Camera", current.camera, true);
  }

  function fill(select, devices, label, selected, allowNone) {
    if (!select) return;
    select.textContent = "";
    devices.forEach(function (d, i) {
      var o = document.createElement("option");
      o.value = d.deviceId;
      o.textContent = d.label || label + " " + (i + 1);
      if (d.deviceId === selected) o.selected = true;
      select.appendChild(o);
    });
    if (allowNone) {
      var none = document.createElement("option");
      none.value = "none";
      none.textContent = "No camera";
      if (selected === "none") none.selected = true;
      select.appendChild(none);
    }
  }

  // The fmtp of every Opus payload type: merged with the room's parameters, or added.
  function mungeOpus(sdp, params) {
    var lines = sdp.split("\r\n");
    var opus = {};
    lines.forEach(function (line) {
      var m = /^a=rtpmap:(\d+) opus\/48000/i.exec(line);
      if (m) opus[m[1]] = true;
    });
    var seen = {};
    lines = lines.map(function (line) {
      var m = /^a=fmtp:(\d+) (.*)$/.exec(line);
      if (!m || !opus[m[1]]) return line;
      seen[m[1]] = true;
      var merged = {};
      m[2].split(";").forEach(function (part) {
        var kv = part.trim().split("=");
        if (kv[0]) merged[kv[0]] = kv.slice(1).join("=");
      });
      Object.keys(params).forEach(function (k) { merged[k] = params[k]; });
      return "a=fmtp:" + m[1] + " " + Object.keys(merged).map(function (k) { return k + "=" + merged[k]; }).join(";");
    });
    var out = [];
    lines.forEach(function (line) {
      out.push(line);
      var m = /^a=rtpmap:(\d+) opus\/48000/i.exec(line);
      if (m && !seen[m[1]]) {
        out.push("a=fmtp:" + m[1] + " " + Object.keys(params).map(function (k) { return k + "=" + params[k]; }).join(";"));
      }
    });
    return out.join("\r\n");
  }

  function musicFmtp(kbps) {
    return {
      stereo: "1", "sprop-stereo": "1", maxaveragebitrate: String(kbps * 1000),
      usedtx: "0", useinbandfec: "1", minptime: "10",
    };
  }

  // A level meter on a stream: calls back with the RMS level in dBFS, about 10 times a second.
  function levelMeter(stream, onLevel) {
    var ctx = new AudioContext();
    if (ctx.state === "suspended") {
      // Browsers start audio only after a click or a key: the meter waits for the first one.
      var resume = function () { ctx.resume(); };
      document.addEventListener("click", resume, { once: true });
      document.addEventListener("keydown", resume, { once: true });
      ctx.resume();
    }
    var source = ctx.createMediaStreamSource(stream);
    var analyser = ctx.createAnalyser();
    analyser.fftSize = 2048;
    source.connect(analyser);
    var data = new Float32Array(analyser.fftSize);
    var timer = setInterval(function () {
      if (ctx.state !== "running") { onLevel(null); return; }
      analyser.getFloatTimeDomainData(data);
      var sum = 0;
      for (var i = 0; i < data.length; i++) sum += data[i] * data[i];
      var rms = Math.sqrt(sum / data.length);
      onLevel(rms > 0 ? 20 * Math.log10(rms) : -100);
    }, 100);
    return function stop() { clearInterval(timer); ctx.close(); };
  }

  function stereoOf(track) {
    var settings = track && track.getSettings ? track.getSettings() : {};
    return settings.channelCount === undefined ? null : settings.channelCount >= 2;
  }

  return {
    audioConstraints: audioConstraints,
    videoConstraints: videoConstraints,
    listDevices: listDevices,
    mungeOpus: mungeOpus,
    musicFmtp: musicFmtp,
    levelMeter: levelMeter,
    stereoOf: stereoOf,
  };
})();
