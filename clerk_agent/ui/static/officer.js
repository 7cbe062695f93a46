// The officer on the applicant's screen (two-way video): their name and municipality, as the hub names them
// (clerk_agent/ui/officer.py), and — while the officer allows their camera — their picture. The agent relays the
// officer's frames from the call as JPEG; they are drawn on a canvas whose stream plays in a <video>, so the
// picture behaves as a video element. Without a picture the card shows the name alone.
import { el, tr } from './common.js';

const STATE_MS = 700;
const FRAME_MS = 90;

export function startOfficerPanel(root) {
  let officer = { present: false, video: false };
  const canvas = document.createElement('canvas');
  canvas.width = 640;
  canvas.height = 480;
  const video = el('video', { id: 'officer-video', autoplay: true, playsinline: true, muted: true, 'aria-label': tr('職員の映像', "The officer's camera") });
  video.muted = true;
  // Without a picture: the card shows the name's first character in a circle, as a name badge would.
  const initial = el('span', { class: 'officer-initial' });
  const noPhoto = el('div', { id: 'officer-nophoto', class: 'officer-nophoto', 'aria-hidden': 'true' }, initial);
  const role = el('p', { id: 'officer-role', class: 'officer-role' });
  // The officer's name and municipality are the hub's data (data-value), not words of the screen.
  const name = el('p', { id: 'officer-name', class: 'officer-name', 'data-value': true });
  const municipality = el('p', { id: 'officer-municipality', class: 'officer-municipality', 'data-value': true });
  root.replaceChildren(el('div', { class: 'officer-picture' }, video, noPhoto), role, name, municipality);

  const render = () => {
    root.dataset.present = officer.present ? 'true' : 'false';
    root.dataset.video = officer.video ? 'on' : 'off';
    root.classList.toggle('absent', !officer.present);
    video.hidden = !officer.video;
    noPhoto.hidden = officer.video;
    role.textContent = tr('担当の職員', 'Your officer');
    name.textContent = officer.name || '';
    initial.textContent = officer.name ? [...officer.name][0] : '';
    municipality.textContent = officer.municipality || '';
  };

  const poll = async () => {
    try {
      const response = await fetch('/api/officer', { credentials: 'same-origin', cache: 'no-store' });
      if (response.ok) officer = await response.json();
    } catch { /* the agent restarting: the next tick retries */ }
    render();
    setTimeout(poll, STATE_MS);
  };

  const frames = async () => {
    if (officer.video) {
      try {
        const response = await fetch('/api/officer/video.jpg', { credentials: 'same-origin', cache: 'no-store' });
        if (response.ok) {
          const bitmap = await createImageBitmap(await response.blob());
          if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
            canvas.width = bitmap.width;
            canvas.height = bitmap.height;
          }
          canvas.getContext('2d').drawImage(bitmap, 0, 0);
          bitmap.close();
          // Attached once a frame is drawn: a stream without frames would hold the page's load event.
          if (!video.srcObject) video.srcObject = canvas.captureStream(15);
          if (video.paused) video.play().catch(() => undefined);
        }
      } catch { /* a frame lost; the next one follows */ }
    }
    setTimeout(frames, FRAME_MS);
  };

  render();
  poll();
  frames();
  return { refresh: render };
}
