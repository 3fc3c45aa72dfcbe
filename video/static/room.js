// The lesson room: capture (music mode by default), signaling over the WebSocket, one peer
// connection to the room's media server, controls, chat, connection quality and time left.
"use strict";

(function () {
  var M = window.DuetMedia;
  var cfg = JSON.parse(document.getElementById("room-config").textContent);
  var root = document.querySelector("[data-testid=room]");
  var $ = function (sel) { return root.querySelector(sel); };
  var observer = cfg.role === "observer";

  var room = {
    cfg: cfg, ws: null, pc: null, welcome: null, stream: new MediaStream(),
    audioTrack: null, videoTrack: null, mode: "music", muted: false, camera: !observer,
    devices: { mic: null, camera: null }, bitrate: cfg.bitrate_kbps, ended: false,
    slots: [], remote: {}, consent: { tutor: false, student: false }, recording: false,
    retries: 0, restartTimer: null, clockSkew: 0, iceServers: [], uplinkLoss: {}, loss: null,
  };
  window.duetRoom = room; // for the curious (and the browser tests): room.pc.getStats()

  function alertBox(text) {
    var box = $("[data-testid=room-alert]");
    box.textContent = text || "";
    box.hidden = !text;
  }

  // ------------------------------------------------------------------ capture

  async function capture() {
    if (observer) return;
    try {
      var s = await navigator.mediaDevices.getUserMedia({
        audio: M.audioConstraints(room.mode, room.devices.mic),
        video: room.devices.camera === "none" ? false : M.videoConstraints(room.devices.camera),
      });
      room.audioTrack = s.getAudioTracks()[0] || null;
      room.videoTrack = s.getVideoTracks()[0] || null;
    } catch (err) {
      // No camera (or it is busy): carry on with sound alone, which is what matters here.
      var a = await navigator.mediaDevices.getUserMedia({ audio: M.audioConstraints(room.mode, room.devices.mic) });
      room.audioTrack = a.getAudioTracks()[0];
      room.videoTrack = null;
      room.camera = false;
    }
    room.stream = new MediaStream([room.audioTrack, room.videoTrack].filter(Boolean));
    $("[data-testid=local-video]").srcObject = room.videoTrack ? new MediaStream([room.videoTrack]) : null;
    if (room.mode === "music" && M.stereoOf(room.audioTrack) === false) {
      alertBox("Your browser or microphone gives mono sound only: the other side hears you in mono. " +
        "Choose a stereo interface under Devices, or try Chrome, Edge or Firefox.");
    }
    await M.listDevices($("[data-testid=mic-select]"), $("[data-testid=camera-select]"), {
      mic: room.audioTrack && room.audioTrack.getSettings().deviceId,
      camera: room.videoTrack ? room.videoTrack.getSettings().deviceId : "none",
    });
    updateButtons();
  }

  // ------------------------------------------------------------------ signaling

  function connect() {
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + cfg.ws;
    var ws = new WebSocket(url);
    room.ws = ws;
    ws.onmessage = function (e) { onMessage(JSON.parse(e.data)); };
    ws.onclose = function (e) {
      if (room.ws !== ws || room.ended) return;
      if (e.code === 4409) { alertBox("You joined this lesson in another window."); room.ended = true; return; }
      if (e.code >= 4400 && e.code < 4500 || e.code === 4000) {
        alertBox("The room is closed."); room.ended = true; return;
      }
      // The network went away: try again, sooner at first.
      alertBox("Connection lost. Reconnecting…");
      setQuality("bad", "Reconnecting…");
      room.retries += 1;
      setTimeout(connect, Math.min(10000, 500 * Math.pow(2, room.retries)));
    };
  }

  function send(message) {
    if (room.ws && room.ws.readyState === WebSocket.OPEN) room.ws.send(JSON.stringify(message));
  }

  function onMessage(m) {
    switch (m.type) {
      case "welcome": return onWelcome(m);
      case "answer": return onAnswer(m);
      case "participant": return showParticipant(m.participant);
      case "left": return showLeft(m.user_id);
      case "chat": return showChat(m);
      case "bitrate": return changeBitrate(m.kbps);
      case "bitrate_failed": return alertBox((room.welcome && m.user_id === room.welcome.you.user_id ? "Your browser" : m.name + "'s browser") +
        " could not switch to " + m.kbps + " kbit/s and still sends at the previous bitrate; the new one applies on its next connection.");
      case "loss": room.uplinkLoss = m.uplink || {}; return undefined;
      case "consent": room.consent = { tutor: m.tutor, student: m.student }; return showRecording();
      case "recording": room.recording = m.active; return showRecording();
      case "peer_failed": return negotiate();
      case "moved": return onMoved(m);
      case "ended": return onEnded(m.reason);
      case "error": return alertBox(m.message);
      default: return undefined;
    }
  }

  // The room's media server went away: another takes the lesson over and sends a new welcome,
  // which starts a new connection. Until then the old one only produces stale statistics.
  function onMoved(m) {
    clearTimeout(room.restartTimer);
    if (room.pc) { room.pc.onconnectionstatechange = null; room.pc.close(); room.pc = null; }
    alertBox(m.message || "Reconnecting…");
    setQuality("bad", "Reconnecting…");
    room.moves = (room.moves || 0) + 1;
  }

  function onWelcome(m) {
    room.welcome = m;
    room.welcomes = (room.welcomes || 0) + 1;
    room.retries = 0;
    room.slots = m.slots;
    room.iceServers = m.ice_servers || [];
    room.bitrate = m.bitrate_kbps;
    room.consent = m.consent;
    room.recording = m.recording;
    room.clockSkew = Date.parse(m.server_time) - Date.now();
    alertBox("");
    buildTiles();
    m.participants.forEach(showParticipant);
    $("[data-testid=chat-lines]").textContent = "";
    m.chat.forEach(showChat);
    syncBitrateSelect();
    showRecording();
    sendState();
    negotiate();
  }

  // ------------------------------------------------------------------ the peer connection

  async function negotiate() {
    clearTimeout(room.restartTimer);
    var old = room.pc;
    if (old) { old.onconnectionstatechange = null; old.close(); }
    var pc = new RTCPeerConnection({ iceServers: room.iceServers, bundlePolicy: "max-bundle" });
    room.pc = pc;
    var slots = Math.max(1, room.slots.length);
    for (var slot = 0; slot < slots; slot++) {
      ["audio", "video"].forEach(function (kind) {
        var track = !observer && slot === 0 ? (kind === "audio" ? room.audioTrack : room.videoTrack) : null;
        var t = track ? pc.addTransceiver(track, { direction: "sendrecv", streams: [room.stream] })
          : pc.addTransceiver(kind, { direction: observer || slot > 0 ? "recvonly" : "sendrecv" });
        preferCodecs(t, kind);
      });
    }
    pc.ontrack = function (e) { attachRemote(pc, e); };
    pc.onicecandidate = function (e) {
      send({ type: "candidate", candidate: e.candidate ? e.candidate.candidate : null,
        sdpMid: e.candidate ? e.candidate.sdpMid : null,
        sdpMLineIndex: e.candidate ? e.candidate.sdpMLineIndex : null });
    };
    pc.onconnectionstatechange = function () { onConnectionState(pc); };
    var offer = await pc.createOffer();
    // The receiver decodes stereo only when its own description asks for it.
    offer = { type: "offer", sdp: M.mungeOpus(offer.sdp, M.musicFmtp(room.bitrate)) };
    await pc.setLocalDescription(offer);
    send({ type: "offer", sdp: pc.localDescription.sdp });
  }

  function preferCodecs(transceiver, kind) {
    if (!transceiver.setCodecPreferences || !RTCRtpReceiver.getCapabilities) return;
    var caps = RTCRtpReceiver.getCapabilities(kind);
    if (!caps) return;
    // The room forwards packets as they are: everybody uses the same codecs (Opus, VP8). Audio
    // goes as RED (each Opus packet repeats the one before, so a lost packet is rebuilt from
    // the next) where the browser has it: listed first, so it is what both sides send.
    var wanted = kind === "audio" ? ["audio/red", "audio/opus"] : ["video/vp8", "video/rtx"];
    var codecs = [];
    wanted.forEach(function (mime) {
      caps.codecs.forEach(function (c) { if (c.mimeType.toLowerCase() === mime) codecs.push(c); });
    });
    if (codecs.length) transceiver.setCodecPreferences(codecs);
  }

  async function onAnswer(m) {
    var pc = room.pc;
    if (!pc || pc.signalingState !== "have-local-offer") return;
    await pc.setRemoteDescription({ type: "answer", sdp: m.sdp });
    await applySendBitrates(pc);
  }

  async function applySendBitrates(pc) {
    var limits = { audio: room.bitrate * 1000, video: 1500000 };
    for (var sender of pc.getSenders()) {
      if (!sender.track) continue;
      try { await setMaxBitrate(sender, limits[sender.track.kind]); } catch (err) { /* not supported: the fmtp still applies */ }
    }
  }

  async function setMaxBitrate(sender, bps) {
    var params = sender.getParameters();
    if (!params.encodings || !params.encodings.length) params.encodings = [{}];
    params.encodings[0].maxBitrate = bps;
    if (sender.track && sender.track.kind === "audio") params.encodings[0].priority = "high";
    await sender.setParameters(params); // rejects and changes nothing when it cannot apply
  }

  // The tutor chose another bitrate: the audio sender takes it at once, with no new offer (a
  // renegotiation would mean a new connection to the server: silence and a video restart). The
  // fmtp carries it only on the next new connection.
  async function changeBitrate(kbps) {
    room.bitrate = kbps;
    syncBitrateSelect();
    var sender = observer ? null : senderOf("audio");
    if (!sender || !sender.track) return;
    try {
      await setMaxBitrate(sender, kbps * 1000);
      room.bitrateChanges = (room.bitrateChanges || 0) + 1;
    } catch (err) {
      send({ type: "bitrate_failed", kbps: kbps });
    }
  }

  function onConnectionState(pc) {
    if (pc !== room.pc) return;
    var state = pc.connectionState;
    if (state === "connected") { room.retries = 0; alertBox(""); }
    if (state === "failed") restartSoon(0);
    if (state === "disconnected") restartSoon(3000); // a network change: give ICE a moment
  }

  // Our ICE restart: a fresh offer builds a new connection on the server (aiortc cannot
  // restart ICE on a live one).
  function restartSoon(delay) {
    clearTimeout(room.restartTimer);
    room.restartTimer = setTimeout(function () {
      if (room.pc && room.pc.connectionState !== "connected" && !room.ended) {
        setQuality("bad", "Reconnecting…");
        negotiate();
      }
    }, delay);
  }
  window.addEventListener("online", function () { if (!room.ended) negotiate(); });

  // ------------------------------------------------------------------ remote tiles

  function buildTiles() {
    var tiles = $("[data-testid=remote-tiles]");
    tiles.textContent = "";
    room.remote = {};
    room.slots.forEach(function (slot, index) {
      var fig = document.createElement("figure");
      fig.className = "tile";
      fig.dataset.userId = slot.user_id;
      fig.dataset.testid = "remote-tile";
      var video = document.createElement("video");
      video.autoplay = true;
      video.playsInline = true;
      video.dataset.testid = "remote-video";
      var cap = document.createElement("figcaption");
      var name = document.createElement("span");
      name.textContent = slot.name + " (" + slot.role + ")";
      var state = document.createElement("span");
      state.className = "tile-state";
      state.textContent = "not here yet";
      cap.append(name, " ", state);
      fig.append(video, cap);
      tiles.appendChild(fig);
      room.remote[slot.user_id] = { index: index, video: video, state: state, stream: new MediaStream() };
      video.srcObject = room.remote[slot.user_id].stream;
    });
  }

  function attachRemote(pc, event) {
    var mids = pc.getTransceivers().map(function (t) { return t.mid; });
    var position = mids.indexOf(event.transceiver.mid);
    var slotIndex = Math.floor(position / 2);
    var slot = room.slots[slotIndex];
    if (!slot) return;
    var remote = room.remote[slot.user_id];
    remote.stream.getTracks().filter(function (t) { return t.kind === event.track.kind; })
      .forEach(function (t) { remote.stream.removeTrack(t); });
    remote.stream.addTrack(event.track);
    remote.video.play().catch(function () {
      // The browser wants a click before it plays sound: ask for one, then play everything.
      alertBox("Click or press a key anywhere to hear the lesson.");
      var go = function () {
        Object.keys(room.remote).forEach(function (id) { room.remote[id].video.play().catch(function () {}); });
        alertBox("");
      };
      document.addEventListener("click", go, { once: true });
      document.addEventListener("keydown", go, { once: true });
    });
  }

  function showParticipant(p) {
    var remote = room.remote[p.user_id];
    if (!remote) return;
    var bits = [];
    if (!p.connected) bits.push("connecting");
    if (p.muted) bits.push("muted");
    if (!p.camera) bits.push("camera off");
    if (p.mode === "speech") bits.push("speech mode");
    remote.state.textContent = bits.join(", ");
    remote.video.closest("figure").classList.toggle("camera-off", !p.camera);
  }

  function showLeft(userId) {
    var remote = room.remote[userId];
    if (remote) remote.state.textContent = "left the room";
  }

  // ------------------------------------------------------------------ controls

  function sendState() {
    if (!observer) send({ type: "state", muted: room.muted, camera: room.camera, mode: room.mode });
  }

  function updateButtons() {
    var mute = root.querySelector("[data-action=mute]");
    var cam = root.querySelector("[data-action=camera]");
    if (!mute) return;
    mute.setAttribute("aria-pressed", String(room.muted));
    mute.textContent = room.muted ? "Unmute" : "Mute";
    cam.setAttribute("aria-pressed", String(room.camera));
    cam.textContent = room.camera ? "Camera off" : "Camera on";
    $("[data-testid=self-state]").textContent = [room.muted ? "muted" : "", room.mode === "speech" ? "speech mode" : ""]
      .filter(Boolean).join(", ");
  }

  function senderOf(kind) {
    if (!room.pc) return null;
    var t = room.pc.getTransceivers()[kind === "audio" ? 0 : 1];
    return t ? t.sender : null;
  }

  async function replace(kind, track) {
    if (kind === "audio") room.audioTrack = track; else room.videoTrack = track;
    var sender = senderOf(kind);
    if (sender) await sender.replaceTrack(track);
    if (kind === "video") $("[data-testid=local-video]").srcObject = track ? new MediaStream([track]) : null;
    if (kind === "audio" && track) track.enabled = !room.muted;
  }

  async function newAudio() {
    var s = await navigator.mediaDevices.getUserMedia({ audio: M.audioConstraints(room.mode, room.devices.mic) });
    var old = room.audioTrack;
    await replace("audio", s.getAudioTracks()[0]);
    if (old) old.stop();
  }

  async function toggleCamera() {
    if (room.camera) {
      var old = room.videoTrack;
      await replace("video", null);
      if (old) old.stop(); // the camera light goes off
      room.camera = false;
    } else {
      var s = await navigator.mediaDevices.getUserMedia({ video: M.videoConstraints(room.devices.camera === "none" ? null : room.devices.camera) });
      await replace("video", s.getVideoTracks()[0]);
      room.camera = true;
    }
    updateButtons();
    sendState();
  }

  if (!observer) {
    root.querySelector("[data-action=mute]").addEventListener("click", function () {
      room.muted = !room.muted;
      if (room.audioTrack) room.audioTrack.enabled = !room.muted;
      updateButtons();
      sendState();
    });
    root.querySelector("[data-action=camera]").addEventListener("click", toggleCamera);
    $("[data-testid=mic-select]").addEventListener("change", function (e) {
      room.devices.mic = e.target.value;
      newAudio();
    });
    $("[data-testid=camera-select]").addEventListener("change", async function (e) {
      room.devices.camera = e.target.value;
      if (e.target.value === "none") { if (room.camera) await toggleCamera(); return; }
      var s = await navigator.mediaDevices.getUserMedia({ video: M.videoConstraints(e.target.value) });
      var old = room.videoTrack;
      await replace("video", s.getVideoTracks()[0]);
      if (old) old.stop();
      room.camera = true;
      updateButtons();
      sendState();
    });
    root.querySelectorAll("input[name=mode]").forEach(function (radio) {
      radio.addEventListener("change", async function () {
        room.mode = radio.value;
        await newAudio();
        alertBox(room.mode === "speech" ? "Speech mode: echo cancellation is on, and music sounds worse. Use headphones and switch back for playing." : "");
        updateButtons();
        sendState();
      });
    });
    var bitrateSelect = $("[data-testid=bitrate-select]");
    if (bitrateSelect) bitrateSelect.addEventListener("change", function () {
      send({ type: "bitrate", kbps: Number(bitrateSelect.value) });
    });
    $("[data-testid=record]").addEventListener("click", function () {
      send({ type: "record", consent: !room.consent[cfg.role] });
    });
    var end = $("[data-testid=end-lesson]");
    if (end) end.addEventListener("click", function () {
      if (window.confirm("End the lesson for both of you? It will be marked as completed.")) send({ type: "end" });
    });
  }

  function syncBitrateSelect() {
    var s = $("[data-testid=bitrate-select]");
    if (s) s.value = String(room.bitrate);
  }

  function showRecording() {
    var badge = $("[data-testid=recording-badge]");
    badge.hidden = !room.recording;
    var button = $("[data-testid=record]");
    if (!button) return;
    var mine = room.consent[cfg.role];
    var other = room.consent[cfg.role === "tutor" ? "student" : "tutor"];
    button.textContent = mine ? "Stop recording" : (other ? "Agree to record" : "Record lesson");
    button.setAttribute("aria-pressed", String(mine));
    var text = room.recording ? "Recording: both of you agreed. Either of you can stop it."
      : mine ? "Waiting for the other side to agree to record."
      : other ? "The other side would like to record this lesson." : "";
    $("[data-testid=recording-state]").textContent = text;
  }

  // ------------------------------------------------------------------ chat

  function showChat(m) {
    var li = document.createElement("li");
    var who = document.createElement("strong");
    who.textContent = m.name + ": ";
    var text = document.createElement("span");
    text.textContent = m.text;
    li.append(who, text);
    var list = $("[data-testid=chat-lines]");
    list.appendChild(li);
    list.scrollTop = list.scrollHeight;
  }

  $("[data-testid=chat-form]").addEventListener("submit", function (e) {
    e.preventDefault();
    var input = e.target.elements.text;
    var text = input.value.trim();
    if (!text) return;
    send({ type: "chat", text: text });
    input.value = "";
  });

  // ------------------------------------------------------------------ quality and time

  var last = null, history = [];
  function setQuality(level, text) {
    var q = $("[data-testid=quality]");
    q.dataset.level = level;
    q.textContent = text;
  }

  async function pollStats() {
    var pc = room.pc;
    if (!pc || pc.connectionState !== "connected") return;
    var report = await pc.getStats();
    var now = { at: performance.now(), out: 0, in: 0, lost: 0, received: 0, jitter: 0, rtt: null };
    report.forEach(function (s) {
      if (s.type === "outbound-rtp" && s.kind === "audio") now.out += s.bytesSent;
      if (s.type === "inbound-rtp" && s.kind === "audio") {
        now.in += s.bytesReceived; now.lost += s.packetsLost; now.received += s.packetsReceived;
        now.jitter = Math.max(now.jitter, s.jitter || 0);
      }
      if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime !== undefined) now.rtt = s.currentRoundTripTime;
    });
    if (history.length && history[0].pc !== pc) history = []; // a new connection counts from 0
    now.pc = pc;
    history.push(now);
    if (history.length > 10) history.shift();
    if (last) {
      var seconds = (now.at - last.at) / 1000;
      // Loss over the last 10 s: a one-second window holds too few packets to mean much.
      var lost = now.lost - history[0].lost, got = now.received - history[0].received;
      // Loss end to end: what the server saw missing on the way in from the other side (it
      // renumbers packets, so this browser cannot see it), then this connection's last hop.
      var hop = lost + got > 0 ? 100 * lost / (lost + got) : 0;
      var before = 0;
      Object.keys(room.uplinkLoss).forEach(function (id) {
        var v = room.uplinkLoss[id];
        if (typeof v === "number" && v > before) before = v;
      });
      var loss = 100 * (1 - (1 - before / 100) * (1 - hop / 100));
      room.loss = { endToEnd: loss, beforeServer: before, lastHop: hop };
      root.querySelector("[data-stat=loss]").title = before.toFixed(1) + " % before the server, " +
        hop.toFixed(1) + " % on your connection";
      var outK = 8 * (now.out - last.out) / seconds / 1000, inK = 8 * (now.in - last.in) / seconds / 1000;
      root.querySelector("[data-stat=out]").textContent = observer ? "–" : outK.toFixed(0) + " kbit/s";
      root.querySelector("[data-stat=in]").textContent = inK.toFixed(0) + " kbit/s";
      root.querySelector("[data-stat=loss]").textContent = loss.toFixed(1) + " %";
      root.querySelector("[data-stat=jitter]").textContent = (now.jitter * 1000).toFixed(0) + " ms";
      root.querySelector("[data-stat=rtt]").textContent = now.rtt === null ? "–" : (now.rtt * 1000).toFixed(0) + " ms";
      var rtt = now.rtt === null ? 0 : now.rtt * 1000;
      var level = loss > 5 || rtt > 400 || now.jitter > 0.06 ? "bad" : loss > 1 || rtt > 150 || now.jitter > 0.03 ? "fair" : "good";
      setQuality(level, { good: "Good connection", fair: "Fair connection", bad: "Poor connection" }[level]);
    }
    last = now;
  }

  function tick() {
    var now = Date.now() + room.clockSkew;
    var left = Date.parse(cfg.ends_at) - now;
    var el = $("[data-testid=time-left]");
    if (left > 0) {
      var min = Math.floor(left / 60000), sec = Math.floor(left / 1000) % 60;
      el.textContent = min + ":" + String(sec).padStart(2, "0") + " left in the lesson";
    } else {
      var closes = Math.max(0, Math.ceil((Date.parse(cfg.closes_at) - now) / 60000));
      el.textContent = "The lesson time is over; the room closes in " + closes + " min";
    }
  }

  function onEnded(reason) {
    room.ended = true;
    if (room.pc) room.pc.close();
    [room.audioTrack, room.videoTrack].forEach(function (t) { if (t) t.stop(); });
    var text = reason === "ended" ? "The lesson has ended." : reason === "closed" ? "The room has closed." : "The room is closed.";
    alertBox(text + " ");
    var link = document.createElement("a");
    link.href = cfg.lesson_url;
    link.textContent = "Back to the lesson";
    $("[data-testid=room-alert]").appendChild(link);
    setQuality("unknown", "Ended");
  }

  setInterval(function () { pollStats().catch(function () {}); }, 1000);
  setInterval(tick, 1000);
  tick();
  capture().then(connect, function (err) {
    alertBox("Duet cannot use your microphone: " + err.message + ". Allow it in the browser and reload.");
  });
})();
