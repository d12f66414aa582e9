// Warren's pages: one document, hash routes (#/workspaces, #/users/<id>,
// ...), one module per page.  The session lives in HttpOnly cookies; this
// module only asks /me who is signed in, draws the header and navigation,
// and mounts the page of the current route.

import * as api from "./api.js";
import { h, replace, clear, loading, errorBox, notify, button } from "./ui.js";
import signinPage from "./pages/signin.js";
import * as workspaces from "./pages/workspaces.js";
import * as workspace from "./pages/workspace.js";
import * as templates from "./pages/templates.js";
import * as users from "./pages/users.js";
import * as orgs from "./pages/orgs.js";
import * as secrets from "./pages/secrets.js";
import * as tokens from "./pages/tokens.js";
import * as audit from "./pages/audit.js";
import * as account from "./pages/account.js";

const ADMIN = ["admin"];
const TEMPLATE_ADMIN = ["admin", "template-admin"];
const AUDITOR = ["admin", "auditor"];

// [pattern, page, title, roles allowed (all when absent)]
const ROUTES = [
	["/", workspaces.list, "Workspaces"],
	["/workspaces", workspaces.list, "Workspaces"],
	["/workspaces/new", workspaces.create, "New workspace"],
	["/workspaces/:id", workspace.detail, "Workspace"],
	["/templates", templates.list, "Templates"],
	["/templates/new", templates.create, "New template", TEMPLATE_ADMIN],
	["/templates/:id", templates.detail, "Template"],
	["/templates/:id/versions/new", templates.newVersion, "New template version", TEMPLATE_ADMIN],
	["/users", users.list, "Users", ADMIN],
	["/users/:id", users.detail, "User", ADMIN],
	["/orgs", orgs.list, "Organizations"],
	["/orgs/:id", orgs.detail, "Organization"],
	["/secrets", secrets.page, "Secrets"],
	["/tokens", tokens.page, "API tokens"],
	["/audit", audit.page, "Audit log", AUDITOR],
	["/account", account.page, "Account"],
];

// Navigation: [hash, label, roles]
const NAV = [
	["#/workspaces", "Workspaces"],
	["#/templates", "Templates"],
	["#/orgs", "Organizations"],
	["#/users", "Users", ADMIN],
	["#/secrets", "Secrets"],
	["#/tokens", "API tokens"],
	["#/audit", "Audit log", AUDITOR],
];

const state = {
	me: null,
	leave: null,	// the current page's cleanup
	firstRender: true,
};

const main = () => document.getElementById("main");

function parseHash() {
	const raw = location.hash.startsWith("#/") ? location.hash.slice(1) : "/";
	const [path, qs] = raw.split("?");
	return { path: path.replace(/\/+$/, "") || "/", query: new URLSearchParams(qs || "") };
}

function match(path) {
	const parts = path.split("/").filter(Boolean);
	for (const [pattern, page, title, roles] of ROUTES) {
		const pp = pattern.split("/").filter(Boolean);
		if (pp.length !== parts.length)
			continue;
		const params = {};
		let ok = true;
		for (let i = 0; i < pp.length && ok; i++) {
			if (pp[i].startsWith(":"))
				params[pp[i].slice(1)] = decodeURIComponent(parts[i]);
			else
				ok = pp[i] === parts[i];
		}
		if (ok)
			return { page, title, roles, params };
	}
	return null;
}

export function can(roles) {
	return !roles || (state.me && roles.includes(state.me.role));
}

// ------------------------------------------------------------ the shell

function shell() {
	const me = state.me;
	const navId = "site-nav";
	const toggle = h("button.btn.nav-toggle", {
		type: "button", "aria-expanded": "false", "aria-controls": navId,
		onclick: () => {
			const open = toggle.getAttribute("aria-expanded") !== "true";
			toggle.setAttribute("aria-expanded", String(open));
			document.getElementById(navId).classList.toggle("open", open);
		},
	}, h("span.burger", { "aria-hidden": "true" }), "Menu");
	const links = NAV.filter(([, , roles]) => can(roles)).map(([href, label]) =>
		h("li", h("a", { href, dataset: { nav: href.slice(1) } }, label)));
	const header = h("header.topbar",
		h("div.topbar-inner",
			h("a.brand", { href: "#/workspaces" }, h("span.logo", { "aria-hidden": "true" }), "Warren"),
			toggle,
			h("nav", { id: navId, "aria-label": "Main" },
				h("ul", links),
				h("div.usermenu",
					h("a.who", { href: "#/account", dataset: { nav: "/account" } },
						h("span.avatar", { "aria-hidden": "true" }, (me.display_name || me.username).slice(0, 1).toUpperCase()),
						h("span", me.display_name || me.username),
						h("span.role", me.role)),
					button("Sign out", signOut, "small quiet")))));
	// After the skip link, which stays the first thing Tab reaches.
	const old = document.querySelector("header.topbar");
	if (old)
		old.replaceWith(header);
	else
		document.querySelector("a.skip").after(header);
}

function markNav(path) {
	for (const a of document.querySelectorAll("[data-nav]")) {
		const target = a.dataset.nav;
		const on = path === target || path.startsWith(`${target}/`) || (path === "/" && target === "/workspaces");
		if (on)
			a.setAttribute("aria-current", "page");
		else
			a.removeAttribute("aria-current");
	}
	const nav = document.getElementById("site-nav");
	if (nav && nav.classList.contains("open")) {
		nav.classList.remove("open");
		document.querySelector(".nav-toggle")?.setAttribute("aria-expanded", "false");
	}
}

// ------------------------------------------------------------- routing

async function route() {
	if (!state.me)
		return;
	if (state.leave) {
		state.leave();
		state.leave = null;
	}
	const { path, query } = parseHash();
	markNav(path);
	const m = match(path);
	const el = main();
	const controller = new AbortController();
	const cleanups = [() => controller.abort()];
	state.leave = () => cleanups.splice(0).forEach((fn) => { try { fn(); } catch (e) { /* leaving anyway */ } });
	replace(el, loading());
	el.setAttribute("aria-busy", "true");
	const focus = !state.firstRender;
	state.firstRender = false;
	if (!m) {
		document.title = "Not found · Warren";
		replace(el, h("div.page-header", h("h1", { tabindex: "-1" }, "Page not found")),
			h("p", "There is no page at this address. ", h("a", { href: "#/workspaces" }, "Go to your workspaces")));
		done(el, focus);
		return;
	}
	document.title = `${m.title} · Warren`;
	if (!can(m.roles)) {
		replace(el, h("div.page-header", h("h1", { tabindex: "-1" }, m.title)),
			h("div.alert.error", { role: "alert" }, h("strong", "Not allowed"),
				h("p", `This page is for the ${m.roles.join(" or ")} role; you are signed in as ${state.me.role}.`)));
		done(el, focus);
		return;
	}
	const ctx = {
		main: el, params: m.params, query, me: state.me, signal: controller.signal,
		onCleanup: (fn) => cleanups.push(fn),
		go: (hash) => { location.hash = hash; },
		setTitle: (t) => { document.title = `${t} · Warren`; },
		can,
		refreshMe,
		signedOut: (message) => {
			history.replaceState(null, "", "/");
			signedOutPage(message);
		},
	};
	try {
		await m.page(ctx);
	} catch (err) {
		if (err && err.name === "AbortError")
			return;
		if (controller.signal.aborted)
			return;
		replace(el, h("div.page-header", h("h1", { tabindex: "-1" }, m.title)), errorBox(err));
	}
	if (!controller.signal.aborted)
		done(el, focus);
}

function done(el, focus) {
	el.removeAttribute("aria-busy");
	if (focus)
		el.querySelector("h1")?.focus();
}

// ------------------------------------------------------------ sessions

// Where ?next= may send the browser after sign-in: this site only (a
// path of it, the workspace hand-off among them).
export function safeNext(raw) {
	if (!raw)
		return null;
	try {
		const u = new URL(raw, location.origin);
		if (u.origin !== location.origin || !/^https?:$/.test(u.protocol))
			return null;
		return u.pathname + u.search + u.hash;
	} catch (e) {
		return null;
	}
}

function nextParam() {
	return safeNext(new URLSearchParams(location.search).get("next"));
}

async function refreshMe() {
	state.me = await api.get("/me");
	return state.me;
}

async function signedIn(me) {
	state.me = me;
	const next = nextParam();
	if (next) {
		// Leaving for the hand-off (or another page of this site).
		location.replace(next);
		return;
	}
	if (location.search)	// a ?next= not to follow: forget it
		history.replaceState(null, "", `/${location.hash}`);
	document.body.classList.remove("signed-out");
	shell();
	await route();
}

function signedOutPage(message) {
	if (state.leave) {
		state.leave();
		state.leave = null;
	}
	state.me = null;
	state.firstRender = true;
	document.querySelector("header.topbar")?.remove();
	document.body.classList.add("signed-out");
	main().removeAttribute("aria-busy");
	document.title = "Sign in · Warren";
	signinPage(main(), { message, next: nextParam(), onSignedIn: signedIn });
}

async function signOut() {
	try {
		await api.post("/auth/logout", undefined, { noRetry: true });
	} catch (e) {
		// Signed out all the same when the session is gone already.
	}
	history.replaceState(null, "", "/");
	signedOutPage();
	notify("You are signed out");
}
export { signOut };

let expired = false;
api.whenSignedOut(() => {
	if (!state.me || expired)
		return;
	expired = true;
	signedOutPage("Your session has ended: sign in again to go on.");
	setTimeout(() => { expired = false; }, 1000);
});

// ---------------------------------------------------------------- boot

document.addEventListener("click", (e) => {
	const a = e.target.closest("a.skip");
	if (a) {
		e.preventDefault();
		main().focus();
	}
});

window.addEventListener("hashchange", () => {
	if (location.hash.startsWith("#/") || location.hash === "")
		route();
});

async function boot() {
	clear(main());
	main().append(loading("Starting"));
	try {
		const me = await api.get("/me", { noRetry: true }).catch(async (err) => {
			if (err.status === 401 && await api.refresh())
				return api.get("/me", { noRetry: true });
			throw err;
		});
		await signedIn(me);
	} catch (err) {
		if (err.status === 401)
			signedOutPage();
		else
			replace(main(), h("div.page-header", h("h1", { tabindex: "-1" }, "Warren")), errorBox(err),
				h("p", button("Try again", boot, "primary")));
	}
}

boot();
