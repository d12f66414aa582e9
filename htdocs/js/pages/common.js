// Pieces shared by several pages: polling, workspace links, templates.

import * as api from "../api.js";
import { h, explain } from "../ui.js";

// A quiet note while polls fail, so that a stale status is known as such.
function netStatus(err) {
	let el = document.getElementById("net-status");
	if (!err) {
		el?.remove();
		return;
	}
	if (!el) {
		el = h("div.net-status#net-status", { role: "status" });
		document.body.append(el);
	}
	el.textContent = `${explain(err).title}: statuses may be out of date, retrying…`;
}

// Calls fn now and then again after each wait (ms, or a function giving
// ms) while the page is shown; pauses while the tab is hidden.  Stopped by
// the page's cleanup.
export function poll(ctx, fn, wait) {
	let timer = null;
	let stopped = false;
	let failures = 0;
	const next = () => {
		if (stopped)
			return;
		const ms = typeof wait === "function" ? wait() : wait;
		timer = setTimeout(tick, failures ? Math.min(30000, ms * 2 ** failures) : ms);
	};
	const tick = async () => {
		timer = null;
		if (stopped)
			return;
		if (document.hidden) {
			next();
			return;
		}
		try {
			await fn();
			if (failures)
				netStatus(null);
			failures = 0;
		} catch (err) {
			if (err && err.name === "AbortError")
				return;
			failures = Math.min(failures + 1, 4);
			if (failures >= 2 && !stopped)
				netStatus(err);
		}
		next();
	};
	const onVisible = () => {
		if (!document.hidden && timer !== null && !stopped) {
			clearTimeout(timer);
			tick();
		}
	};
	document.addEventListener("visibilitychange", onVisible);
	ctx.onCleanup(() => {
		stopped = true;
		netStatus(null);
		if (timer !== null)
			clearTimeout(timer);
		document.removeEventListener("visibilitychange", onVisible);
	});
	next();
}

// Opening a workspace host goes through the hand-off on this (the API)
// host: it turns the session into a cookie of that host alone.  The host
// keeps its port, so the hand-off sends the browser back to the right one.
export function openHref(ws, port = null) {
	const u = new URL(port ? ws.url_pattern.replace("{port}", String(port)) : ws.url);
	return `/api/v1/auth/handoff?host=${encodeURIComponent(u.host)}&path=%2F`;
}

export function portUrl(ws, port) {
	return ws.url_pattern.replace("{port}", String(port));
}

export const SHARE_LEVELS = [
	["owner", "Only me (not shared)"],
	["org", "Members of the organization"],
	["authenticated", "Anyone signed in to Warren"],
	["public", "Anyone with the link"],
];

export function shareRank(level) {
	return SHARE_LEVELS.findIndex(([l]) => l === level);
}

export function shareLabel(level) {
	const f = SHARE_LEVELS.find(([l]) => l === level);
	return f ? f[1] : level;
}

// Templates by id, archived ones too (old workspaces may use them).
export async function templateMap(signal) {
	const items = await api.all("/templates?archived=true", { signal });
	return new Map(items.map((t) => [t.id, t]));
}

export function templateName(t) {
	return t ? (t.display_name || t.name) : "unknown template";
}

export function resources(v) {
	if (!v)
		return "";
	const cpu = v.cpu_millis % 1000 === 0 ? `${v.cpu_millis / 1000}` : `${v.cpu_millis / 1000}`;
	return `${cpu} CPU · ${v.memory_mb >= 1024 && v.memory_mb % 1024 === 0 ? `${v.memory_mb / 1024} GB` : `${v.memory_mb} MB`}`;
}

// A stable key for an Idempotency-Key header.
export function newKey() {
	if (crypto.randomUUID)
		return crypto.randomUUID();
	const b = crypto.getRandomValues(new Uint8Array(16));
	return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
