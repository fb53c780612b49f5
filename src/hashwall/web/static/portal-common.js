// portal-common.js: shared by the portal pages. No network access except what callers ask.

/** Register the service worker that keeps the portal usable offline (page, CSS, scripts). */
export function registerOffline() {
  if (!("serviceWorker" in navigator)) return Promise.resolve(null);
  return navigator.serviceWorker
    .register("/portal/sw.js", { scope: "/portal", type: "classic" })
    .catch(() => null); // offline support is a bonus: the page works without it
}

/** POST a JSON text; resolves to {ok, status, body} with the server's JSON error on failure. */
export async function postJson(url, text) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: text,
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
  } catch {
    return { ok: false, status: 0, body: null, message: "No connection: try again when online." };
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return { ok: response.ok, status: response.status, body, message: errorMessage(body, response) };
}

function errorMessage(body, response) {
  if (response.ok) return "";
  const error = body?.error;
  const first = Array.isArray(error) ? error[0] : error;
  const text = first?.message ?? `The server answered ${response.status}.`;
  return text.charAt(0).toUpperCase() + text.slice(1) + (text.endsWith(".") ? "" : ".");
}

/** Show (or hide, with "") a message in an element with role=alert. */
export function showError(element, message) {
  element.textContent = message;
  element.hidden = !message;
}
