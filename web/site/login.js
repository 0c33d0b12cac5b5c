// The login page wsvisor serves (with status 401) at /dashboard when the node
// has an admin token and the request carried none: it stores the token in the
// cookie `wsvisor_token` and loads /dashboard again.

import { readToken, storeToken } from "./token.js";

const form = document.getElementById("login");
const input = document.getElementById("token");
const problem = document.getElementById("login-problem");

// Landing here again with a cookie set means the node refused that token.
if (readToken()) problem.hidden = false;

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const token = input.value.trim();
  if (!token) return;
  storeToken(token);
  location.assign("dashboard");
});
