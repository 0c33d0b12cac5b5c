import { createHmac } from "node:crypto";

/** An HS256 JSON Web Token over `claims`, signed with `secret` (wsvisor's [auth]). */
export function jwt(secret, claims) {
  const part = (obj) => Buffer.from(JSON.stringify(obj)).toString("base64url");
  const signed = `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}`;
  return `${signed}.${createHmac("sha256", secret).update(signed).digest("base64url")}`;
}
