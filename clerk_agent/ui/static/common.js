// Shared by both screens: language, CSRF-protected calls, progress bar and banners. No external code.
export const csrf = document.querySelector('meta[name="csrf-token"]').content;
let lang = localStorage.getItem('madoguchi.lang') || 'ja';
export const t = (pair) => (pair ? pair[lang] || pair.ja : '');
export const tr = (ja, en) => (lang === 'en' ? en : ja);

export function setupLang(onChange) {
  const button = document.getElementById('lang');
  const apply = () => {
    document.documentElement.lang = lang;
    button.textContent = lang === 'ja' ? 'English' : '日本語';
    button.lang = lang === 'ja' ? 'en' : 'ja'; // the switch names the other language in that language
    // Words in the page itself (the <title> too) and names for assistive technology (data-ja-label/data-en-label).
    for (const el of document.querySelectorAll('[data-ja]')) el.textContent = el.dataset[lang];
    for (const el of document.querySelectorAll('[data-ja-label]')) el.setAttribute('aria-label', el.dataset[`${lang}Label`]);
  };
  button.addEventListener('click', () => {
    lang = lang === 'ja' ? 'en' : 'ja';
    localStorage.setItem('madoguchi.lang', lang);
    apply();
    onChange();
  });
  apply();
}

export async function post(path, body, raw = false) {
  const response = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'X-CSRF-Token': csrf, 'Content-Type': raw ? 'application/octet-stream' : 'application/json' },
    body: raw ? body : JSON.stringify(body || {}),
  });
  return response.ok ? response.json() : null;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'onclick') node.addEventListener('click', value);
    else if (value === true) node.setAttribute(key, '');
    else if (value !== false && value != null) node.setAttribute(key, value);
  }
  for (const child of children.flat()) if (child != null) node.append(child);
  return node;
}

export function renderFrame(state) {
  const banner = document.getElementById('hub-banner');
  banner.hidden = !state.hub.message;
  banner.textContent = state.hub.message
    ? `${t(state.hub.message)} ${state.hub.retry_in_s ? tr(`（${state.hub.retry_in_s}秒後に再試行）`, `(retry in ${state.hub.retry_in_s}s)`) : ''}`
    : '';
  const progress = document.getElementById('progress');
  progress.replaceChildren(
    ...state.progress.steps.map((step, i) =>
      el('li', { class: i < state.progress.index ? 'done' : i === state.progress.index ? 'current' : '', 'data-step': step.key }, t(step))),
  );
  const notice = document.getElementById('notice');
  notice.hidden = !state.notice;
  notice.textContent = state.notice ? t(state.notice) : '';
}
