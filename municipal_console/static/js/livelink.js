// The live link to the counter (ライブ映像): the hub's signaling socket and the browser's RTCPeerConnection.
//
// The clerk agent (aiortc) is the offerer and the console answers. Flow:
//   POST /api/v1/cases/{id}/signaling-ticket → {ticket, ws_url, ice_servers, relay_only}
//   WebSocket ws_url?ticket=… → send join{room, role:"officer"} → receive joined{resume_token, heartbeat_s, …}
//   receive offer → setRemoteDescription → createAnswer → send the answer at once and trickle our candidates
//   (aiortc's offer already holds all of its own, and aioice waits for trickled ones and learns peer-reflexive
//   ones from our checks: waiting for gathering to complete cost ~130 ms, docs/live-link.md §5)
//   · heartbeat every heartbeat_s/2 · bye on leaving.
// After a network drop (connection `disconnected` for 2 s, `failed`, or no decoded frame for 3 s) the video is
// reported lost and `renegotiate{ice_restart:true}` is sent every 5 s until a new offer arrives; an offer with
// ice_restart (or to a failed connection) gets a fresh RTCPeerConnection, since aiortc restarts with a new peer.
// A dropped socket rejoins with the resume token, or with a fresh ticket once the hub refuses the token.
// The officer's microphone goes to the counter when there is one and it is allowed; otherwise the link stays
// receive-only and says why (video.dataset.mic: live | denied | absent | unsupported | timeout).
// Each connected peer reports this side's connection metrics (接続計測) to the hub once, as the agent does.
// The officer's camera goes to the counter's applicant screen while the officer allows it (#camera-toggle,
// remembered in this browser, on by default), with a self-view (#self-view); off, the camera is released and
// the applicant sees the officer's name card without a picture (js/officercam.js).
// Longer than our usual ~400 lines on purpose: it is one state machine (socket, peer, drop and resume) whose
// fields every handler shares; the camera and microphone parts already live in js/officercam.js.
import { api } from "./api.js";
import { OfficerCamera, acquire, attachTrack } from "./officercam.js";

// Close codes after which rejoining cannot help (service/wire/signaling.py CloseCode).
const FINAL_CLOSE = new Set([1000, 1007, 1008, 1009, 4000, 4001, 4003, 4004, 4008, 4009]);
const RESUME_REJECTED = 4010;
const DROP_GRACE_MS = 2000;
const FROZEN_MS = 3000;
const RENEGOTIATE_EVERY_MS = 5000;
const ASK_FOR_OFFER_MS = 3000;
const METRICS_WAIT_MS = 5000;
const CANDIDATE_TYPES = new Set(["host", "srflx", "prflx", "relay"]);

export class LiveLink {
  /**
   * @param {string} caseId
   * @param {HTMLVideoElement} video
   * @param {{state:(s:string)=>void, video:(live:boolean)=>void, notice:(key:string, vars?:object)=>void,
   *          stats:(s:object)=>void}} hooks
   */
  constructor(caseId, video, hooks) {
    this.caseId = caseId;
    this.video = video;
    this.hooks = hooks;
    this.seq = 0;
    this.lastInSeq = -1;
    this.ws = null;
    this.pc = null;
    this.stream = null;
    this.wsUrl = "";
    this.resumeToken = null;
    this.iceServers = [];
    this.relayOnly = false;
    this.heartbeatS = 15;
    this.closed = false;
    this.videoLive = false;
    this.lastFrameAt = 0;
    this.framesDecoded = 0;
    this.reconnectDelay = 250;
    this.reconnectSince = 0;
    this.timers = { heartbeat: 0, drop: 0, renegotiate: 0, ask: 0, stats: 0, reconnect: 0 };
    this.mic = null;
    this.micState = "pending";
    this.camera = new OfficerCamera(video, () => this.videoTransceiver());
    this.inbox = Promise.resolve();
    this.call = null; // milestones of the current peer, for the connection metrics
  }

  async start() {
    this.video.dataset.mic = this.micState;
    // The ticket's request goes out first: the devices open beside it, never in front of it (#18).
    const opening = this.openFresh();
    this.micPromise = acquireMicrophone().then(({ stream, state }) => {
      this.mic = stream;
      this.micState = state;
      this.video.dataset.mic = state;
      if (!stream) this.hooks.notice("mic_unavailable", { reason: state });
      return stream;
    });
    this.timers.stats = window.setInterval(() => this.pollStats(), 1000);
    this.camera.start();
    await opening;
  }

  /** Ask the counter for a new offer now (the officer's "reconnect" button). */
  reconnect() {
    this.sendRenegotiate("officer_request");
  }

  close() {
    if (this.closed) return;
    this.send({ type: "bye", room: this.caseId, reason: "hangup" });
    this.closed = true;
    for (const name of Object.keys(this.timers)) {
      window.clearTimeout(this.timers[name]);
      window.clearInterval(this.timers[name]);
    }
    if (this.ws) this.ws.close(1000, "hangup");
    this.closePeer();
    if (this.mic) for (const track of this.mic.getTracks()) track.stop();
    this.camera.close();
    this.video.srcObject = null;
    this.setLive(false);
    this.hooks.state("closed");
  }

  // --- signaling socket ---------------------------------------------------------------------------------

  async openFresh() {
    this.hooks.state("signaling");
    const ticket = await api.post(`/api/v1/cases/${encodeURIComponent(this.caseId)}/signaling-ticket`);
    this.wsUrl = ticket.ws_url;
    this.iceServers = ticket.ice_servers || [];
    this.relayOnly = Boolean(ticket.relay_only);
    this.resumeToken = null;
    this.open(`${ticket.ws_url}?ticket=${encodeURIComponent(ticket.ticket)}`, null);
  }

  open(url, resumeToken) {
    if (this.closed) return;
    const ws = new WebSocket(url);
    this.ws = ws;
    this.lastInSeq = -1; // the hub numbers each socket's frames from 0
    ws.addEventListener("open", () => {
      const join = { type: "join", room: this.caseId, role: "officer" };
      if (resumeToken) join.resume_token = resumeToken;
      this.send(join);
    });
    ws.addEventListener("message", (event) => {
      // One frame at a time: an offer's answer must go out before the next offer is applied.
      this.inbox = this.inbox
        .then(() => this.onFrame(event.data))
        .catch((err) => this.hooks.notice("signaling_refused", { code: err.message }));
    });
    ws.addEventListener("close", (event) => this.onSocketClosed(ws, event.code));
  }

  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    // seq first, as the hub encodes it; monotonic across every socket of this link.
    this.ws.send(JSON.stringify({ seq: this.seq++, ...frame }));
    return true;
  }

  onSocketClosed(ws, code) {
    if (ws !== this.ws) return;
    window.clearInterval(this.timers.heartbeat);
    if (this.closed) return;
    if (FINAL_CLOSE.has(code)) {
      this.hooks.notice("signaling_refused", { code });
      this.hooks.state(this.pc && this.pc.connectionState === "connected" ? "connected" : "closed");
      return;
    }
    if (!this.reconnectSince) this.reconnectSince = Date.now();
    const useToken = code !== RESUME_REJECTED && this.resumeToken && Date.now() - this.reconnectSince < 15000;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, 2000);
    this.timers.reconnect = window.setTimeout(() => {
      if (useToken) this.open(this.wsUrl, this.resumeToken);
      else this.openFresh().catch(() => this.onSocketClosed(this.ws, 1006));
    }, delay);
  }

  async onFrame(raw) {
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch {
      return;
    }
    if (typeof msg.seq !== "number" || msg.seq <= this.lastInSeq) return; // stale or replayed
    this.lastInSeq = msg.seq;
    switch (msg.type) {
      case "joined":
        this.onJoined(msg);
        break;
      case "offer":
        await this.onOffer(msg);
        break;
      case "candidate":
        if (this.pc && msg.candidate) {
          await this.pc
            .addIceCandidate({ candidate: msg.candidate, sdpMid: msg.sdp_mid, sdpMLineIndex: msg.sdp_mline_index })
            .catch(() => undefined);
        }
        break;
      case "bye":
        this.hooks.notice("clerk_left");
        this.closePeer();
        this.setLive(false);
        this.hooks.state("waiting_offer");
        break;
      case "mute":
        if (msg.muted) this.hooks.notice("clerk_muted", { kind: msg.kind });
        break;
      case "error":
        this.hooks.notice("signaling_refused", { code: msg.code });
        break;
      default:
        break; // heartbeat; renegotiate is for the offerer
    }
  }

  onJoined(msg) {
    this.resumeToken = msg.resume_token;
    this.iceServers = msg.ice_servers || this.iceServers;
    this.relayOnly = Boolean(msg.relay_only);
    this.heartbeatS = msg.heartbeat_s || 15;
    this.reconnectDelay = 250;
    this.reconnectSince = 0;
    window.clearInterval(this.timers.heartbeat);
    this.timers.heartbeat = window.setInterval(
      () => this.send({ type: "heartbeat" }),
      Math.max(500, (this.heartbeatS * 1000) / 2),
    );
    if (!this.pc) this.hooks.state("waiting_offer");
    // The counter offers when it sees the officer; if no offer comes, ask for one.
    window.clearTimeout(this.timers.ask);
    if ((msg.peers_present || []).includes("clerk")) {
      this.timers.ask = window.setTimeout(() => {
        if (!this.pc || this.pc.connectionState !== "connected") this.sendRenegotiate("officer_joined");
      }, ASK_FOR_OFFER_MS);
    }
  }

  sendRenegotiate(reason) {
    this.send({ type: "renegotiate", room: this.caseId, ice_restart: true, reason });
  }

  // --- peer connection ----------------------------------------------------------------------------------

  async onOffer(msg) {
    window.clearTimeout(this.timers.ask);
    const pc = this.pc;
    const replace =
      !pc || msg.ice_restart || ["failed", "closed"].includes(pc.connectionState) || pc.signalingState !== "stable";
    if (replace) this.newPeer();
    const current = this.pc;
    if (!this.call || this.call.pc !== current || replace) this.call = newCallMarks(current);
    await current.setRemoteDescription({ type: "offer", sdp: msg.sdp });
    // Answered as sendrecv whether or not the microphone and camera are ready: their tracks join by
    // replaceTrack, which needs no renegotiation, so neither getUserMedia nor replaceTrack is on the path to
    // the first frame — the tracks are attached once the answer is out (#18), or when the devices open later.
    const audio = current.getTransceivers().find((tr) => tr.receiver.track.kind === "audio");
    if (audio) audio.direction = "sendrecv";
    const video = current.getTransceivers().find((tr) => tr.receiver.track.kind === "video");
    if (video) video.direction = "sendrecv";
    await current.setLocalDescription(await current.createAnswer());
    if (current !== this.pc) return; // replaced meanwhile by a newer offer
    this.send({ type: "answer", room: this.caseId, sdp: current.localDescription.sdp });
    for (const candidate of current.pendingCandidates.splice(0)) this.sendCandidate(candidate);
    current.answered = true;
    this.mark(current, "signaling");
    this.hooks.state("connecting");
    if (audio) {
      if (this.mic) attachMicrophone(audio, this.mic);
      else this.micPromise.then((mic) => mic && this.pc === current && attachMicrophone(audio, mic));
    }
    if (video) attachTrack(video, this.camera.track());
  }

  /** Note a milestone of `pc`'s call (ms since its offer arrived), once. */
  mark(pc, milestone) {
    const call = this.call;
    if (!call || call.pc !== pc || milestone in call.marks) return;
    call.marks[milestone] = Math.round((performance.now() - call.t0) * 1000) / 1000;
  }

  /** Once connected and the first frame is in (or after METRICS_WAIT_MS), tell the hub how this side connected. */
  async reportMetrics(pc) {
    const call = this.call;
    if (!call || call.pc !== pc || call.reported) return;
    call.reported = true;
    const deadline = performance.now() + METRICS_WAIT_MS;
    while (performance.now() < deadline && !("first_video" in call.marks) && pc === this.pc) {
      await new Promise((resolve) => window.setTimeout(resolve, 50));
    }
    const [local, remote] = await selectedPair(pc);
    const body = {
      started_at: call.startedAt,
      role: "answerer",
      signaling_ms: call.marks.signaling ?? null,
      ice_ms: call.marks.ice ?? null,
      dtls_ms: call.marks.dtls ?? null,
      first_frame_ms: call.marks.first_video ?? null,
      first_audio_ms: call.marks.first_audio ?? null,
      local_candidate: local,
      remote_candidate: remote,
    };
    this.metrics = body;
    try {
      await api.post(`/api/v1/cases/${encodeURIComponent(this.caseId)}/connection-metrics`, body);
    } catch {
      // Metrics are for the record and the dashboards; the call goes on without them.
    }
  }

  newPeer() {
    this.closePeer();
    const config = {
      iceServers: this.iceServers.map((server) => {
        const entry = { urls: server.urls };
        if (server.username) entry.username = server.username;
        if (server.credential) entry.credential = server.credential;
        return entry;
      }),
      // The browser takes the enum's string form; "relay" when the hub asks for relay-only ICE.
      iceTransportPolicy: this.relayOnly ? "relay" : "all",
    };
    const pc = new RTCPeerConnection(config);
    this.pc = pc;
    this.stream = new MediaStream();
    this.framesDecoded = 0;
    this.lastFrameAt = 0;
    pc.addEventListener("track", (event) => {
      this.stream.addTrack(event.track);
      if (this.video.srcObject !== this.stream) this.video.srcObject = this.stream;
      if (event.track.kind === "video") this.watchFrames(pc);
      this.play();
    });
    pc.addEventListener("connectionstatechange", () => this.onConnectionState(pc));
    // Candidates gathered before the answer went out wait for it: the offerer applies them only after it.
    pc.pendingCandidates = [];
    pc.answered = false;
    pc.addEventListener("icecandidate", (event) => {
      // No end-of-candidates: aioice fails at once when it has no pair yet, while our checks would still
      // have taught it a peer-reflexive one. Its own timeouts and our drop detection cover a failure.
      if (pc !== this.pc || !event.candidate) return;
      if (pc.answered) this.sendCandidate(event.candidate);
      else pc.pendingCandidates.push(event.candidate);
    });
    pc.addEventListener("iceconnectionstatechange", () => {
      if (["connected", "completed"].includes(pc.iceConnectionState)) this.mark(pc, "ice");
    });
  }

  /** The video transceiver of the current peer (the officer's camera goes out on it), if any. */
  videoTransceiver() {
    return this.pc ? this.pc.getTransceivers().find((tr) => tr.receiver.track.kind === "video") : undefined;
  }

  /** Trickle one local candidate to the counter. */
  sendCandidate(candidate) {
    const frame = { type: "candidate", room: this.caseId, candidate: candidate.candidate };
    if (candidate.sdpMid !== null) frame.sdp_mid = candidate.sdpMid;
    if (candidate.sdpMLineIndex !== null) frame.sdp_mline_index = candidate.sdpMLineIndex;
    this.send(frame);
  }

  closePeer() {
    if (this.pc) {
      this.pc.close();
      this.pc = null;
    }
  }

  play() {
    this.video.play().catch(() => {
      // Autoplay with sound needs a gesture: play muted and let the officer turn sound on.
      this.video.muted = true;
      this.hooks.notice("unmute_needed");
      this.video.play().catch(() => undefined);
    });
  }

  onConnectionState(pc) {
    if (pc !== this.pc) return;
    const state = pc.connectionState;
    this.hooks.state(state);
    window.clearTimeout(this.timers.drop);
    if (state === "connected") {
      window.clearInterval(this.timers.renegotiate);
      this.timers.renegotiate = 0;
      this.mark(pc, "dtls");
      this.reportMetrics(pc);
    } else if (state === "disconnected") {
      this.timers.drop = window.setTimeout(() => this.onDrop(), DROP_GRACE_MS);
    } else if (state === "failed") {
      this.onDrop();
    }
  }

  onDrop() {
    this.setLive(false);
    if (this.timers.renegotiate) return;
    this.sendRenegotiate("network_drop");
    this.timers.renegotiate = window.setInterval(() => this.sendRenegotiate("network_drop"), RENEGOTIATE_EVERY_MS);
  }

  watchFrames(pc) {
    if (typeof this.video.requestVideoFrameCallback !== "function") return; // getStats covers it
    const onFrame = () => {
      if (pc !== this.pc) return;
      this.onFramePresented();
      this.video.requestVideoFrameCallback(onFrame);
    };
    this.video.requestVideoFrameCallback(onFrame);
  }

  onFramePresented() {
    this.lastFrameAt = Date.now();
    if (this.pc) this.mark(this.pc, "first_video");
    if (!this.videoLive && this.pc && this.pc.connectionState === "connected") this.setLive(true);
  }

  setLive(live) {
    if (this.videoLive === live) return;
    this.videoLive = live;
    this.hooks.video(live);
  }

  async pollStats() {
    const pc = this.pc;
    if (!pc) return;
    let inbound = null;
    let heard = null;
    let spoken = null;
    try {
      const report = await pc.getStats();
      report.forEach((entry) => {
        if (entry.type === "inbound-rtp" && entry.kind === "video") inbound = entry;
        if (entry.type === "inbound-rtp" && entry.kind === "audio") heard = entry;
        if (entry.type === "outbound-rtp" && entry.kind === "audio") spoken = entry;
      });
    } catch {
      return;
    }
    // The counter's sound and the officer's microphone, as data attributes for diagnostics and tests.
    const audio = {
      samples: heard ? heard.totalSamplesReceived || 0 : 0,
      energy: heard ? heard.totalAudioEnergy || 0 : 0,
      micPackets: spoken ? spoken.packetsSent || 0 : 0,
    };
    this.video.dataset.audioSamples = String(audio.samples);
    this.video.dataset.audioEnergy = String(audio.energy);
    this.video.dataset.micPackets = String(audio.micPackets);
    if (audio.samples > 0) this.mark(pc, "first_audio");
    if (!inbound) return;
    const decoded = inbound.framesDecoded || 0;
    if (decoded > this.framesDecoded) {
      this.framesDecoded = decoded;
      this.onFramePresented();
    }
    this.video.dataset.framesDecoded = String(decoded);
    this.hooks.stats({
      frames: decoded,
      audioSamples: audio.samples,
      mic: this.micState,
      width: inbound.frameWidth || this.video.videoWidth || 0,
      height: inbound.frameHeight || this.video.videoHeight || 0,
    });
    // A connection that stays "connected" while no frame arrives is no live picture either.
    if (this.videoLive && this.lastFrameAt && Date.now() - this.lastFrameAt > FROZEN_MS) this.onDrop();
  }
}

/** Send the officer's microphone on the audio transceiver (once; a later offer's peer attaches it again). */
async function attachMicrophone(transceiver, mic) {
  const track = mic.getAudioTracks()[0];
  if (track && !transceiver.sender.track) await transceiver.sender.replaceTrack(track).catch(() => undefined);
}

/** A fresh record of one peer's call milestones, timed from the offer's arrival. */
function newCallMarks(pc) {
  return { pc, t0: performance.now(), startedAt: new Date().toISOString(), marks: {}, reported: false };
}

/** The selected candidate pair's [local, remote] candidate types, or [null, null]. */
async function selectedPair(pc) {
  try {
    const report = await pc.getStats();
    let pairId = null;
    report.forEach((entry) => {
      if (entry.type === "transport" && entry.selectedCandidatePairId) pairId = entry.selectedCandidatePairId;
    });
    const pair = pairId ? report.get(pairId) : null;
    if (!pair) return [null, null];
    const kind = (id) => {
      const candidate = report.get(id);
      return candidate && CANDIDATE_TYPES.has(candidate.candidateType) ? candidate.candidateType : null;
    };
    return [kind(pair.localCandidateId), kind(pair.remoteCandidateId)];
  } catch {
    return [null, null];
  }
}

/**
 * The officer's microphone: {stream, state}. state is "live", or why there is none — "unsupported" (no
 * mediaDevices: an insecure origin), "denied" (permission refused), "absent" (no device), "timeout" (no answer
 * within 3 s) — and the link then stays receive-only.
 */
async function acquireMicrophone() {
  return acquire({ audio: true, video: false });
}
