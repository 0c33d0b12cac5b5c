// The admin token the dashboard sends, kept in the cookie `wsvisor_token`:
// wsvisor lets /dashboard through with it, and the dashboard's script reads it
// to send `Authorization: Bearer TOKEN` to the admin API and /metrics.

const NAME = "wsvisor_token";

/** The token in the cookie, or "" when there is none. */
export function readToken() {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === NAME) return decodeURIComponent(rest.join("="));
  }
  return "";
}

function write(value, extra) {
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `${NAME}=${encodeURIComponent(value)}; Path=/; SameSite=Strict${secure}${extra}`;
}

/** Stores the token for this browser session (until the browser closes). */
export function storeToken(token) {
  write(token, "");
}

/** Forgets the token. */
export function clearToken() {
  write("", "; Max-Age=0");
}

/** Headers for a fetch of the admin API: the bearer token when there is one. */
export function authHeaders() {
  const token = readToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}
