// A video visit's call: WebRTC between the patient's and the clinician's browsers.
//
// Signalling (offer, answer, ICE candidates) goes through HMS's backend: a WebSocket at
// /api/video/{visit}/signal that only the visit's two participants can open (the server checks
// the session cookie, the page's origin and the appointment). The clinician always makes the
// offer ("gen" numbers each peer connection it starts); the patient answers. Whenever one side
// (re)joins it says "hello" and the clinician starts a fresh connection, so a reload or a
// dropped network reconnects by itself. Chat runs over an RTCDataChannel: nothing is stored.
// Wrapped by hms_app/components/video_call.py. Nothing here records media.
import React, { useCallback, useEffect, useRef, useState } from "react";

const box = { background: "#111", borderRadius: 12, overflow: "hidden", position: "relative" };
const fill = { width: "100%", height: "100%", objectFit: "cover", display: "block" };
const bar = { display: "flex", gap: 8, flexWrap: "wrap", alignItems: "center", marginTop: 10 };
const button = (on) => ({
  minHeight: 40,
  padding: "0 14px",
  borderRadius: 8,
  border: "1px solid var(--gray-7, #ccc)",
  background: on ? "var(--accent-9, #3b82f6)" : "var(--color-panel, #fff)",
  color: on ? "#fff" : "inherit",
  cursor: "pointer",
  fontSize: 14,
});
const RETRY_MS = [500, 1000, 2000, 4000, 5000];

function socketUrl(visitId) {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${window.location.host}/api/video/${visitId}/signal`;
}

function parseIce(ice) {
  try {
    const servers = JSON.parse(ice || "[]");
    return Array.isArray(servers) ? servers : [];
  } catch (e) {
    return [];
  }
}

// The microphone's level, 0..100, for the meter in the device check.
function useLevel(stream) {
  const [level, setLevel] = useState(0);
  useEffect(() => {
    const track = stream && stream.getAudioTracks()[0];
    if (!track) return undefined;
    const Context = window.AudioContext || window.webkitAudioContext;
    const context = new Context();
    const analyser = context.createAnalyser();
    analyser.fftSize = 512;
    const source = context.createMediaStreamSource(new MediaStream([track]));
    source.connect(analyser);
    const data = new Uint8Array(analyser.fftSize);
    let frame = 0;
    let shown = 0;
    const tick = () => {
      analyser.getByteTimeDomainData(data);
      let sum = 0;
      for (const v of data) sum += ((v - 128) / 128) ** 2;
      // Peaks show at once and fall back slowly, so a short word (or a test beep) stays readable.
      const now = Math.min(100, Math.round(Math.sqrt(sum / data.length) * 300));
      shown = Math.max(now, Math.floor(shown * 0.95));
      setLevel(shown);
      frame = requestAnimationFrame(tick);
    };
    // Browsers start an audio context suspended until the user has interacted with the page.
    const wake = () => context.state === "suspended" && context.resume().catch(() => {});
    wake();
    window.addEventListener("pointerdown", wake);
    tick();
    return () => {
      window.removeEventListener("pointerdown", wake);
      cancelAnimationFrame(frame);
      source.disconnect();
      context.close().catch(() => {});
    };
  }, [stream]);
  return level;
}

export function VideoCall({ visitId, side, ice, mode, active }) {
  const localRef = useRef(null);
  const remoteRef = useRef(null);
  const [stream, setStream] = useState(null);
  const [deviceError, setDeviceError] = useState("");
  const [devices, setDevices] = useState({ cameras: [], mics: [] });
  const [camera, setCamera] = useState("");
  const [mic, setMic] = useState("");
  const [muted, setMuted] = useState(false);
  const [cameraOff, setCameraOff] = useState(false);
  const [sharing, setSharing] = useState(false);
  const [phase, setPhase] = useState("idle"); // idle | connecting | connected | peer-away | ended | refused
  const [note, setNote] = useState("");
  const [chat, setChat] = useState([]);
  const [draft, setDraft] = useState("");
  const level = useLevel(stream);

  const live = useRef({ ws: null, pc: null, gen: 0, channel: null, pending: [], retries: 0,
    closed: false, offerAt: 0, reported: false, screen: null, stream: null, awayTimer: null });

  // --- local devices -------------------------------------------------------------------------
  const openDevices = useCallback(async (cameraId, micId) => {
    try {
      const media = await navigator.mediaDevices.getUserMedia({
        video: cameraId ? { deviceId: { exact: cameraId } } : { width: 640, height: 480 },
        audio: micId ? { deviceId: { exact: micId } } : true,
      });
      const old = live.current.stream;
      live.current.stream = media;
      setStream(media);
      setDeviceError("");
      const list = await navigator.mediaDevices.enumerateDevices();
      setDevices({
        cameras: list.filter((d) => d.kind === "videoinput"),
        mics: list.filter((d) => d.kind === "audioinput"),
      });
      setCamera(media.getVideoTracks()[0]?.getSettings().deviceId || "");
      setMic(media.getAudioTracks()[0]?.getSettings().deviceId || "");
      // A device switched during the call: the peer gets the new track without renegotiation.
      const pc = live.current.pc;
      if (pc) {
        for (const sender of pc.getSenders()) {
          const kind = sender.track ? sender.track.kind : null;
          if (kind === "video" && !live.current.screen) await sender.replaceTrack(media.getVideoTracks()[0]);
          if (kind === "audio") await sender.replaceTrack(media.getAudioTracks()[0]);
        }
      }
      media.getAudioTracks().forEach((t) => (t.enabled = !muted));
      media.getVideoTracks().forEach((t) => (t.enabled = !cameraOff));
      if (old) old.getTracks().forEach((t) => t.stop());
    } catch (error) {
      setDeviceError(
        error && error.name === "NotAllowedError"
          ? "The browser was not allowed to use the camera or microphone. Allow them for this site and reload."
          : "No camera or microphone could be opened. Check they are connected and not used by another program."
      );
    }
  }, [muted, cameraOff]);

  useEffect(() => {
    openDevices("", "");
    return () => {
      const media = live.current.stream;
      if (media) media.getTracks().forEach((t) => t.stop());
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    if (localRef.current && stream) localRef.current.srcObject = stream;
  }, [stream, mode]);

  // --- the peer connection ---------------------------------------------------------------------
  const send = (message) => {
    const ws = live.current.ws;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  };

  const closePeer = () => {
    const state = live.current;
    if (state.pc) {
      state.pc.ontrack = state.pc.onicecandidate = state.pc.onconnectionstatechange = null;
      state.pc.close();
    }
    state.pc = null;
    state.channel = null;
    window.__hmsVideo = { ...(window.__hmsVideo || {}), pc: null };
  };

  const attachChannel = (channel) => {
    live.current.channel = channel;
    channel.onmessage = (event) => {
      setChat((lines) => [...lines.slice(-49), { who: "them", text: String(event.data).slice(0, 1000) }]);
    };
  };

  const newPeer = (gen) => {
    closePeer();
    const state = live.current;
    const pc = new RTCPeerConnection({ iceServers: parseIce(ice) });
    state.pc = pc;
    state.gen = gen;
    state.pending = [];
    state.reported = false;
    window.__hmsVideo = { pc, side, gen };
    const media = state.stream;
    if (media) {
      const video = state.screen || media.getVideoTracks()[0];
      if (video) pc.addTrack(video, media);
      const audio = media.getAudioTracks()[0];
      if (audio) pc.addTrack(audio, media);
    }
    pc.onicecandidate = (event) => {
      if (event.candidate) send({ type: "ice", gen, candidate: event.candidate.toJSON() });
    };
    pc.ontrack = (event) => {
      const remote = remoteRef.current;
      if (!remote) return;
      remote.srcObject = event.streams[0] || new MediaStream([event.track]);
      remote.play().catch(() => setNote("Click the video to hear the other side."));
    };
    pc.onconnectionstatechange = () => {
      if (state.pc !== pc) return;
      const s = pc.connectionState;
      if (s === "connected") {
        setPhase("connected");
        setNote("");
        clearTimeout(state.awayTimer);
      } else if (s === "disconnected" || s === "failed") {
        setPhase("peer-away");
        setNote("The connection dropped; reconnecting...");
        clearTimeout(state.awayTimer);
        // A short blip recovers by itself; otherwise the clinician starts afresh (the patient asks).
        state.awayTimer = setTimeout(() => {
          if (state.pc === pc && pc.connectionState !== "connected") restart();
        }, s === "failed" ? 0 : 3000);
      }
    };
    if (side === "clinician") {
      attachChannel(pc.createDataChannel("chat", { ordered: true }));
    } else {
      pc.ondatachannel = (event) => attachChannel(event.channel);
    }
    return pc;
  };

  const offer = async () => {
    const state = live.current;
    const pc = newPeer(state.gen + 1 + Math.floor(Math.random() * 1000));
    state.offerAt = performance.now();
    const gen = state.gen;
    const description = await pc.createOffer();
    if (state.pc !== pc) return; // a newer connection was started meanwhile
    await pc.setLocalDescription(description);
    if (state.pc !== pc) return;
    send({ type: "offer", gen, sdp: pc.localDescription.sdp });
  };

  const restart = () => {
    if (live.current.closed) return;
    if (side === "clinician") offer().catch(() => {});
    else send({ type: "hello" });
  };

  const onMessage = async (message) => {
    const state = live.current;
    if (message.type === "hello") {
      if (side === "clinician") await offer();
    } else if (message.type === "offer" && side === "patient") {
      const pc = newPeer(message.gen);
      await pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      send({ type: "answer", gen: message.gen, sdp: pc.localDescription.sdp });
      for (const candidate of state.pending.splice(0)) await pc.addIceCandidate(candidate).catch(() => {});
    } else if (message.type === "answer" && side === "clinician") {
      if (state.pc && message.gen === state.gen && state.pc.signalingState === "have-local-offer") {
        await state.pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
        for (const candidate of state.pending.splice(0)) await state.pc.addIceCandidate(candidate).catch(() => {});
      }
    } else if (message.type === "ice") {
      if (!state.pc || message.gen !== state.gen) return; // a candidate of an older connection
      if (state.pc.remoteDescription) await state.pc.addIceCandidate(message.candidate).catch(() => {});
      else state.pending.push(message.candidate);
    } else if (message.type === "bye") {
      closePeer();
      setPhase("peer-away");
      setNote(side === "clinician" ? "The patient left the call. They can rejoin." : "The clinician stepped away.");
    } else if (message.type === "ended") {
      finish("The visit has ended. Thank you.");
    } else if (message.type === "error") {
      setNote(String(message.message || ""));
    }
  };

  const finish = (text) => {
    const state = live.current;
    state.closed = true;
    closePeer();
    if (state.ws) state.ws.close();
    setPhase("ended");
    setNote(text);
  };

  const connect = () => {
    const state = live.current;
    if (state.closed) return;
    setPhase((p) => (p === "connected" ? p : "connecting"));
    const ws = new WebSocket(socketUrl(visitId));
    state.ws = ws;
    ws.onopen = () => {
      state.retries = 0;
      send({ type: "hello" });
      if (side === "clinician") offer().catch(() => {});
    };
    ws.onmessage = (event) => {
      let message = null;
      try {
        message = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      // A message for a connection that was replaced meanwhile fails harmlessly: the newer one goes on.
      onMessage(message).catch(() => {});
    };
    ws.onclose = (event) => {
      if (state.ws !== ws || state.closed) return;
      if (event.code === 4410) return finish("The visit has ended. Thank you.");
      if (event.code === 4409) {
        setPhase("refused");
        setNote(event.reason || "The call is not open.");
      }
      // Network loss or a server restart: the media may still flow; signalling comes back by itself.
      const delay = RETRY_MS[Math.min(state.retries, RETRY_MS.length - 1)];
      state.retries += 1;
      setTimeout(connect, delay);
    };
  };

  // The call starts once the camera and microphone are open (or known to be missing): a connection
  // negotiated before would carry no media from this side.
  const ready = stream !== null || deviceError !== "";
  useEffect(() => {
    if (mode !== "call" || !active || !visitId || !ready) return undefined;
    const state = live.current;
    state.closed = false;
    connect();
    const leave = () => send({ type: "bye" });
    window.addEventListener("pagehide", leave);
    // The browsers report when the other side's media arrives: the visit's join delay and setup time.
    const stats = setInterval(async () => {
      const pc = state.pc;
      if (!pc || state.reported) return;
      const report = await pc.getStats();
      let bytes = 0;
      report.forEach((r) => {
        if (r.type === "inbound-rtp" && r.kind === "video") bytes += r.bytesReceived || 0;
      });
      if (bytes > 0) {
        state.reported = true;
        send({ type: "media", setup_ms: Math.round(performance.now() - state.offerAt) });
      }
    }, 1000);
    return () => {
      window.removeEventListener("pagehide", leave);
      clearInterval(stats);
      send({ type: "bye" });
      state.closed = true;
      closePeer();
      if (state.ws) state.ws.close();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [mode, active, visitId, ready]);

  // --- controls -------------------------------------------------------------------------------
  const toggleMute = () => {
    const next = !muted;
    setMuted(next);
    (live.current.stream?.getAudioTracks() || []).forEach((t) => (t.enabled = !next));
  };
  const toggleCamera = () => {
    const next = !cameraOff;
    setCameraOff(next);
    (live.current.stream?.getVideoTracks() || []).forEach((t) => (t.enabled = !next));
  };
  const stopShare = async () => {
    const state = live.current;
    if (state.screen) state.screen.stop();
    state.screen = null;
    setSharing(false);
    const camera = state.stream?.getVideoTracks()[0];
    const sender = state.pc?.getSenders().find((s) => s.track && s.track.kind === "video");
    if (sender && camera) await sender.replaceTrack(camera);
    if (localRef.current) localRef.current.srcObject = state.stream;
  };
  const toggleShare = async () => {
    if (sharing) return stopShare();
    try {
      const display = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
      const track = display.getVideoTracks()[0];
      const state = live.current;
      state.screen = track;
      track.onended = () => stopShare();
      const sender = state.pc?.getSenders().find((s) => s.track && s.track.kind === "video");
      if (sender) await sender.replaceTrack(track);
      if (localRef.current) localRef.current.srcObject = display;
      setSharing(true);
    } catch (e) {
      setNote("Screen sharing was not started.");
    }
  };
  const sendChat = (event) => {
    event.preventDefault();
    const text = draft.trim().slice(0, 1000);
    const channel = live.current.channel;
    if (!text || !channel || channel.readyState !== "open") return;
    channel.send(text);
    setChat((lines) => [...lines.slice(-49), { who: "me", text }]);
    setDraft("");
  };
  const leave = () => {
    send({ type: "bye" });
    finish("You left the call. You can rejoin from this page while the visit is open.");
  };

  const devicePickers = (
    <div style={bar}>
      <select aria-label="Camera" value={camera} onChange={(e) => openDevices(e.target.value, mic)} style={button(false)}>
        {devices.cameras.map((d, i) => (
          <option key={d.deviceId || i} value={d.deviceId}>{d.label || `Camera ${i + 1}`}</option>
        ))}
      </select>
      <select aria-label="Microphone" value={mic} onChange={(e) => openDevices(camera, e.target.value)} style={button(false)}>
        {devices.mics.map((d, i) => (
          <option key={d.deviceId || i} value={d.deviceId}>{d.label || `Microphone ${i + 1}`}</option>
        ))}
      </select>
    </div>
  );

  if (mode !== "call") {
    return (
      <div data-testid="device-check" style={{ width: "100%" }}>
        <div style={{ ...box, aspectRatio: "4 / 3", maxWidth: 480 }}>
          <video ref={localRef} autoPlay playsInline muted style={{ ...fill, transform: "scaleX(-1)" }} data-testid="preview-video" />
        </div>
        <div style={{ ...bar, maxWidth: 480 }}>
          <span style={{ fontSize: 14 }}>Microphone</span>
          <div style={{ flex: 1, height: 10, background: "var(--gray-4, #eee)", borderRadius: 5 }} data-testid="mic-meter" data-level={level}>
            <div style={{ width: `${level}%`, height: "100%", borderRadius: 5, background: level > 5 ? "var(--grass-9, #46a758)" : "var(--gray-8, #aaa)", transition: "width 80ms" }} />
          </div>
        </div>
        {devicePickers}
        {deviceError && <p role="alert" style={{ color: "var(--red-11, #c00)" }}>{deviceError}</p>}
        {!deviceError && stream && <p style={{ fontSize: 14 }} data-testid="devices-ok">Camera and microphone are working.</p>}
      </div>
    );
  }

  return (
    <div data-testid="video-call" data-phase={phase} style={{ width: "100%" }}>
      <div style={{ ...box, aspectRatio: "16 / 10" }}>
        <video ref={remoteRef} autoPlay playsInline style={fill} data-testid="remote-video" onClick={() => remoteRef.current?.play()} />
        <div style={{ ...box, position: "absolute", right: 12, bottom: 12, width: "26%", aspectRatio: "4 / 3", border: "2px solid #fff" }}>
          <video ref={localRef} autoPlay playsInline muted style={{ ...fill, transform: sharing ? "none" : "scaleX(-1)" }} data-testid="local-video" />
        </div>
        {phase !== "connected" && (
          <div style={{ position: "absolute", left: 12, top: 12, color: "#fff", background: "rgba(0,0,0,.55)", padding: "6px 10px", borderRadius: 8, fontSize: 14 }} data-testid="call-status">
            {note || (phase === "connecting" ? "Connecting..." : phase === "ended" ? "The call has ended." : "Waiting for the other side...")}
          </div>
        )}
      </div>
      {phase !== "ended" && (
        <div style={bar}>
          <button type="button" style={button(muted)} onClick={toggleMute} data-testid="toggle-mute">{muted ? "Unmute" : "Mute"}</button>
          <button type="button" style={button(cameraOff)} onClick={toggleCamera} data-testid="toggle-camera">{cameraOff ? "Camera on" : "Camera off"}</button>
          <button type="button" style={button(sharing)} onClick={toggleShare} data-testid="toggle-share">{sharing ? "Stop sharing" : "Share screen"}</button>
          <button type="button" style={{ ...button(false), color: "var(--red-11, #c00)" }} onClick={leave} data-testid="leave-call">Leave</button>
        </div>
      )}
      {phase !== "ended" && devicePickers}
      {phase === "connected" && note && <p style={{ fontSize: 13 }}>{note}</p>}
      {phase !== "ended" && (
        <div style={{ marginTop: 10, border: "1px solid var(--gray-6, #ddd)", borderRadius: 8, padding: 8 }} data-testid="call-chat">
          <div style={{ maxHeight: 140, overflowY: "auto", fontSize: 14 }}>
            {chat.length === 0 && <div style={{ color: "var(--gray-10, #888)" }}>Chat: messages are not kept after the call.</div>}
            {chat.map((line, i) => (
              <div key={i} style={{ textAlign: line.who === "me" ? "right" : "left" }}>{line.text}</div>
            ))}
          </div>
          <form onSubmit={sendChat} style={{ display: "flex", gap: 6, marginTop: 6 }}>
            <input value={draft} onChange={(e) => setDraft(e.target.value)} maxLength={1000} placeholder="Type a message" aria-label="Chat message" style={{ flex: 1, minHeight: 36, padding: "0 8px" }} data-testid="chat-input" />
            <button type="submit" style={button(false)}>Send</button>
          </form>
        </div>
      )}
    </div>
  );
}
