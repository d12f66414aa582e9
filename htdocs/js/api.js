// The Warren API as the pages use it: same-origin fetch with the session
// cookies, the CSRF header on every state-changing call, one refresh and
// retry when the access token has expired, and problem+json errors turned
// into ApiError objects whose message a person can read.

const BASE = "/api/v1";

export class ApiError extends Error {
	constructor(status, problem, retryAfter = null) {
		super(problem.detail || problem.title || `HTTP ${status}`);
		this.status = status;
		this.retryAfter = retryAfter;
		this.problem = problem;
		this.type = problem.type || "";
		this.title = problem.title || `The request failed (HTTP ${status})`;
		this.detail = problem.detail || "";
	}

	// The field a 400 names ("name must be a DNS label ..."), if any.
	get field() {
		if (this.status !== 400 || !this.detail)
			return null;
		const m = /^([a-z_]+)[ :]/.exec(this.detail);
		return m ? m[1] : null;
	}
}

// Set by the application: called when the session is gone for good.
let onSignedOut = () => {};
export function whenSignedOut(fn) {
	onSignedOut = fn;
}

export function cookie(name) {
	for (const part of document.cookie.split(";")) {
		const i = part.indexOf("=");
		if (i > 0 && part.slice(0, i).trim() === name)
			return decodeURIComponent(part.slice(i + 1).trim());
	}
	return "";
}

// https deployments name their cookies with the __Host- prefix.
function csrfToken() {
	return cookie("__Host-warren_csrf") || cookie("warren_csrf");
}

function safeMethod(method) {
	return method === "GET" || method === "HEAD";
}

async function problemOf(resp) {
	const type = resp.headers.get("Content-Type") || "";
	if (type.includes("json")) {
		try {
			const body = await resp.json();
			if (body && typeof body === "object")
				return body;
		} catch (e) {
			// fall through: a body that is not JSON
		}
	}
	const titles = {
		502: "Warren is not answering (bad gateway)",
		503: "Warren is unavailable for a moment",
		504: "Warren took too long to answer",
	};
	return { title: titles[resp.status] || `The request failed (HTTP ${resp.status})`,
		status: resp.status };
}

async function send(method, path, body, opts) {
	const headers = { Accept: "application/json" };
	const init = { method, headers, credentials: "same-origin", signal: opts.signal };
	if (body !== undefined) {
		headers["Content-Type"] = "application/json";
		init.body = JSON.stringify(body);
	}
	if (!safeMethod(method))
		headers["X-CSRF-Token"] = csrfToken();
	if (opts.idempotencyKey)
		headers["Idempotency-Key"] = opts.idempotencyKey;
	// A request that fails before any answer (the browser drops its
	// connections when the machine's network changes, as it does each time
	// Docker starts a container on it) is sent again when that is safe: a
	// read, or a change with an Idempotency-Key.
	const retries = safeMethod(method) || opts.idempotencyKey ? [250, 750, 1500] : [];
	for (let attempt = 0; ; attempt++) {
		try {
			return await fetch(BASE + path, init);
		} catch (e) {
			if (e.name === "AbortError")
				throw e;
			if (attempt >= retries.length)
				throw new ApiError(0, { title: "Warren cannot be reached",
					detail: "Check the network connection and try again." });
		}
		await new Promise((resolve) => setTimeout(resolve, retries[attempt]));
		if (opts.signal && opts.signal.aborted)
			throw new DOMException("aborted", "AbortError");
	}
}

// One refresh at a time, across tabs too: a refresh token works once, and
// a second use of the same one ends the whole session.  Every refresh
// sets a new CSRF cookie, so a caller whose token changed since its
// request was sent knows another refresh already happened.
let refreshing = null;
async function doRefresh() {
	try {
		const r = await send("POST", "/auth/refresh", undefined, {});
		return r.ok;
	} catch (e) {
		return false;
	}
}

export function refresh(seen = csrfToken()) {
	const once = () => {
		const now = csrfToken();
		return now && now !== seen ? Promise.resolve(true) : doRefresh();
	};
	if (navigator.locks)
		return navigator.locks.request("warren-refresh", once);
	if (refreshing === null)
		refreshing = once().finally(() => { refreshing = null; });
	return refreshing;
}

// request(method, path, body?, {signal, idempotencyKey, noRetry})
export async function request(method, path, body, opts = {}) {
	const seen = csrfToken();
	let resp = await send(method, path, body, opts);
	if (resp.status === 401 && !opts.noRetry) {
		if (await refresh(seen))
			resp = await send(method, path, body, opts);
		if (resp.status === 401) {
			onSignedOut();
			throw new ApiError(401, await problemOf(resp));
		}
	}
	if (!resp.ok)
		throw new ApiError(resp.status, await problemOf(resp), resp.headers.get("Retry-After"));
	if (resp.status === 204)
		return null;
	const type = resp.headers.get("Content-Type") || "";
	return type.includes("json") ? resp.json() : null;
}

export const get = (path, opts) => request("GET", path, undefined, opts);
export const post = (path, body, opts) => request("POST", path, body, opts);
export const put = (path, body, opts) => request("PUT", path, body, opts);
export const patch = (path, body, opts) => request("PATCH", path, body, opts);
export const del = (path, opts) => request("DELETE", path, undefined, opts);

// Every page of a paginated list (bounded: lists here are small).
export async function all(path, opts, maxPages = 20) {
	const items = [];
	let cursor = null;
	for (let i = 0; i < maxPages; i++) {
		const sep = path.includes("?") ? "&" : "?";
		const page = await get(cursor ? `${path}${sep}limit=200&cursor=${encodeURIComponent(cursor)}`
			: `${path}${sep}limit=200`, opts);
		items.push(...page.items);
		cursor = page.next_cursor;
		if (!cursor)
			break;
	}
	return items;
}

export function q(params) {
	const parts = [];
	for (const [k, v] of Object.entries(params))
		if (v !== undefined && v !== null && v !== "")
			parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
	return parts.length ? `?${parts.join("&")}` : "";
}

export function id(s) {
	return encodeURIComponent(s);
}
