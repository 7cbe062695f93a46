// The officer's camera for the live link (二方向映像): sent to the counter's applicant screen while the officer
// allows it. The choice is the officer's, in the console (#camera-toggle), remembered in this browser and on by
// default; off, the camera is released and the applicant sees the officer's name card without a picture. A
// self-view (#self-view) shows what goes out; video.dataset.cam says live | off | pending | denied | absent |
// unsupported | timeout. The track goes on the call's video transceiver by replaceTrack: no renegotiation.

import { offLangChange, onLangChange, t } from "./i18n.js";

const SETTING = "madoguchi.officerCamera";
// The state line's wording by camera state; every other state (denied, absent, unsupported, timeout) is "no camera".
const STATE_KEYS = { live: "camera_state_live", off: "camera_state_off", pending: "camera_state_pending" };

export class OfficerCamera {
  /**
   * @param {HTMLVideoElement} video the counter's video (its dataset carries the camera state)
   * @param {() => RTCRtpTransceiver | undefined} transceiver the current peer's video transceiver
   */
  constructor(video, transceiver) {
    this.video = video;
    this.transceiver = transceiver;
    this.stream = null;
    this.state = "pending";
    this.allowed = allowedHere();
    this.closed = false;
    // A language switch mid-call re-words the toggle and the state line (they are not data-i18n: they follow state).
    this.relabel = () => this.show(this.state);
  }

  start() {
    const toggle = document.getElementById("camera-toggle");
    if (toggle) toggle.onclick = () => this.setAllowed(!this.allowed);
    onLangChange(this.relabel);
    if (this.allowed) this.open();
    else this.release("off");
  }

  close() {
    this.closed = true;
    offLangChange(this.relabel);
    this.release("off");
    const toggle = document.getElementById("camera-toggle");
    if (toggle) toggle.onclick = null;
  }

  /** The camera's track while it is on, else null. */
  track() {
    return this.stream ? this.stream.getVideoTracks()[0] || null : null;
  }

  /** The officer's choice: the camera on (sent to the counter) or off (released). */
  setAllowed(allowed) {
    this.allowed = allowed;
    try {
      window.localStorage.setItem(SETTING, allowed ? "on" : "off");
    } catch {
      // Storage refused (private mode): the choice holds for this call only.
    }
    if (allowed) this.open();
    else this.release("off");
  }

  async open() {
    if (this.stream || this.closed) return;
    this.show("pending");
    const { stream, state } = await acquire({ audio: false, video: { width: 640, height: 480 } });
    if (!this.allowed || this.closed || this.stream) {
      if (stream) for (const track of stream.getTracks()) track.stop();
      return;
    }
    this.stream = stream;
    this.show(state);
    if (stream) await attachTrack(this.transceiver(), this.track());
  }

  release(state) {
    const stream = this.stream;
    this.stream = null;
    attachTrack(this.transceiver(), null);
    if (stream) for (const track of stream.getTracks()) track.stop();
    this.show(state);
  }

  /** The toggle, its state line, the self-view and video.dataset.cam follow the camera. */
  show(state) {
    this.state = state;
    this.video.dataset.cam = state;
    const self = document.getElementById("self-view");
    if (self) {
      self.srcObject = this.stream;
      self.hidden = !this.stream;
    }
    const toggle = document.getElementById("camera-toggle");
    if (toggle) {
      toggle.setAttribute("aria-pressed", this.allowed ? "true" : "false");
      toggle.textContent = t(this.allowed ? "camera_stop" : "camera_show");
    }
    const line = document.getElementById("camera-state");
    if (line) {
      line.textContent = t(STATE_KEYS[state] || "camera_state_unavailable");
      line.dataset.state = state;
    }
  }
}

/** Whether the officer allows their camera in this browser (on unless turned off here). */
function allowedHere() {
  try {
    return window.localStorage.getItem(SETTING) !== "off";
  } catch {
    return true;
  }
}

/** Put `track` (or nothing) on a transceiver's sender without renegotiation. */
export async function attachTrack(transceiver, track) {
  if (transceiver && transceiver.sender.track !== (track || null)) {
    await transceiver.sender.replaceTrack(track || null).catch(() => undefined);
  }
}

/** getUserMedia with a 3 s limit: {stream, state}, state as for the microphone (livelink.js acquireMicrophone). */
export async function acquire(constraints) {
  if (!navigator.mediaDevices || typeof navigator.mediaDevices.getUserMedia !== "function") {
    return { stream: null, state: "unsupported" };
  }
  const request = navigator.mediaDevices.getUserMedia(constraints).then(
    (stream) => ({ stream, state: "live" }),
    (err) => ({
      stream: null,
      state: err && ["NotAllowedError", "SecurityError"].includes(err.name) ? "denied" : "absent",
    }),
  );
  const timeout = new Promise((resolve) => window.setTimeout(() => resolve(null), 3000));
  const first = await Promise.race([request, timeout]);
  if (first === null) {
    request.then((late) => late.stream && late.stream.getTracks().forEach((track) => track.stop()));
    return { stream: null, state: "timeout" };
  }
  return first;
}
