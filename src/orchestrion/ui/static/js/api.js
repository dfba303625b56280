// Talking to the REST API: bearer token on 401, errors in words, Content-Range totals.

import {h} from "./dom.js";

const TOKEN_KEY = "orchestrion.token";

export class ApiError extends Error {
  constructor(status, body, message) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export const getToken = () => sessionStorage.getItem(TOKEN_KEY);

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

let pendingLogin = null;

/** One sign-in dialog at a time; every request that got a 401 waits for it. */
function askToken(rejected) {
  pendingLogin ??= new Promise((resolve) => {
    const input = h("input", {type: "password", id: "token", autocomplete: "current-password", required: true});
    const dialog = h(
      "dialog",
      {class: "dialog", "aria-labelledby": "login-title"},
      h(
        "form",
        {method: "dialog"},
        h("h2", {id: "login-title"}, "Sign in"),
        h("p", {}, "This orchestrion asks for a bearer token (API_TOKENS or your identity provider)."),
        rejected ? h("p", {class: "field-error"}, "The token was not accepted; check it and try again.") : null,
        h("label", {for: "token"}, "Token"),
        input,
        h("div", {class: "actions"}, h("button", {value: "ok", class: "primary"}, "Sign in")),
      ),
    );
    dialog.addEventListener("cancel", (event) => event.preventDefault());
    dialog.addEventListener("close", () => {
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      dialog.remove();
      pendingLogin = null;
      window.dispatchEvent(new Event("orchestrion:token"));
      resolve();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
  return pendingLogin;
}

// What each kind of refusal means, for answers that carry no detail of their own.
const STATUS_WORDS = {
  400: "The request was not accepted.",
  403: "You are not allowed to do this.",
  404: "It does not exist (any more).",
  409: "It changed or is in use; reload and try again.",
  412: "Not possible now.",
  413: "That is too large to send.",
  503: "orchestrion cannot do this now; try again shortly.",
};

/**
 * Words for an error, the one place that turns API answers into text for people: the problem's
 * detail (never its HTTP title, such as "Precondition Failed"), else what its status means, else
 * what went wrong on the way.
 */
export function describeError(error) {
  if (error instanceof ApiError) {
    const body = error.body && typeof error.body === "object" ? error.body : {};
    const detail = typeof body.detail === "string" ? body.detail : body.detail ? JSON.stringify(body.detail) : "";
    if (error.status >= 500 && error.status !== 503 && !detail) return `The server failed (${error.status}); its log says why.`;
    const fields = Array.isArray(body.validation_errors) ? body.validation_errors.map((e) => `${(e.loc || []).filter((l) => l !== "body").join(".") || "input"}: ${e.msg}`) : [];
    if (fields.length) return `${detail || "Not accepted"}: ${fields.join("; ")}`;
    if (detail) return detail;
    return STATUS_WORDS[error.status] || `The server answered ${error.status}.`;
  }
  if (error instanceof TypeError) return "Cannot reach the orchestrion server. Is it running, and is the network up?";
  return String(error?.message || error);
}

/** Whether the API refused because the engine is paused (it clears once the engine runs again). */
export const isEnginePaused = (error) => error instanceof ApiError && error.body?.type === "EnginePausedError";

/** Call the API. Resolves {data, total, status}; throws ApiError for any non-2xx answer. */
export async function api(path, {method = "GET", body, params} = {}) {
  let url = `api${path}`;
  if (params) {
    const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== ""));
    if (query.toString()) url += `?${query}`;
  }
  let rejected = false;
  for (;;) {
    const headers = {Accept: "application/json"};
    const token = getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
    if (response.status === 401) {
      await askToken(rejected || Boolean(token));
      rejected = true;
      continue;
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = text;
      }
    }
    if (!response.ok) throw new ApiError(response.status, data, `${method} ${path} answered ${response.status}`);
    const range = response.headers.get("Content-Range");
    const total = range ? Number(range.split("/").pop()) : undefined;
    return {data, total, status: response.status};
  }
}

let workflowsCache = null;

/** The registered workflows by name (fetched once per page load). */
export async function workflowsByName() {
  workflowsCache ??= api("/workflows/").then(
    ({data}) => Object.fromEntries(data.map((wf) => [wf.name, wf])),
    (error) => {
      workflowsCache = null;
      throw error;
    },
  );
  return workflowsCache;
}
