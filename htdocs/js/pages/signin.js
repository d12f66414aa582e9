// Sign-in: a password form and a button per configured OAuth provider.
// After sign-in the browser goes to ?next= when it names a page of this
// site (the workspace hand-off sends people here that way).

import * as api from "../api.js";
import { h, replace, field, val, formError, clearFormError, explain, errorBox } from "../ui.js";

export default function signinPage(main, { message, next, onSignedIn }) {
	const errorSlot = h("div.form-error", { "aria-live": "assertive" });
	const submit = h("button.btn.primary.block", { type: "submit" }, "Sign in");
	const form = h("form.signin-form", { novalidate: true },
		errorSlot,
		field({ label: "Username or e-mail", name: "username", autocomplete: "username", required: true,
			autocapitalize: "off", spellcheck: false }),
		field({ label: "Password", name: "password", type: "password", autocomplete: "current-password",
			required: true }),
		submit);
	const providers = h("div.providers");
	const opening = next && next.startsWith("/api/v1/auth/handoff");
	const card = h("div.signin-card",
		h("div.signin-brand", h("span.logo.big", { "aria-hidden": "true" }), "Warren"),
		h("h1", { tabindex: "-1" }, "Sign in"),
		h("p.muted", opening ? "Sign in to open your workspace."
			: "Your development workspaces, one click away."),
		message ? h("div.alert.info", { role: "status" }, message) : null,
		form,
		providers);
	replace(main, h("div.signin-wrap", card));

	form.addEventListener("submit", async (e) => {
		e.preventDefault();
		clearFormError(form);
		const username = val(form, "username");
		const password = form.elements.namedItem("password").value;
		if (!username || !password) {
			replace(errorSlot, h("div.alert.error", { role: "alert" },
				h("strong", "Enter your username and password")));
			form.elements.namedItem(username ? "password" : "username").focus();
			form.elements.namedItem(username ? "password" : "username").setAttribute("aria-invalid", "true");
			return;
		}
		submit.disabled = true;
		submit.setAttribute("aria-busy", "true");
		submit.textContent = "Signing in…";
		try {
			await api.post("/auth/login", { username, password }, { noRetry: true });
			const me = await api.get("/me", { noRetry: true });
			await onSignedIn(me);
		} catch (err) {
			submit.disabled = false;
			submit.removeAttribute("aria-busy");
			submit.textContent = "Sign in";
			if (err.status === 429 && err.retryAfter) {
				const mins = Math.ceil(Number(err.retryAfter) / 60);
				err.detail = `Too many failed sign-ins: try again in ${mins} minute${mins === 1 ? "" : "s"}.`;
			}
			formError(form, err);
			if (err.status === 401) {
				const pw = form.elements.namedItem("password");
				pw.value = "";
				pw.setAttribute("aria-invalid", "true");
				pw.focus();
			}
			if (err.type === "/problems/csrf")
				offerHome(errorSlot);
		}
	});

	loadProviders(providers, next);
	form.elements.namedItem("username").focus();
}

async function loadProviders(box, next) {
	let list;
	try {
		list = await api.get("/auth/providers", { noRetry: true });
	} catch (err) {
		replace(box, errorBox(err));
		return;
	}
	if (!list.providers || list.providers.length === 0)
		return;
	const ret = next && next.length <= 512 ? next : "/";
	replace(box,
		h("p.or", h("span", "or")),
		h("ul.provider-list", list.providers.map((p) => h("li",
			h("a.btn.block.provider", {
				href: `${p.start_url}?return_to=${encodeURIComponent(ret)}`,
				dataset: { provider: p.name },
			}, h("span.provider-mark", { "aria-hidden": "true" }, (p.display_name || p.name).slice(0, 1)),
			`Continue with ${p.display_name || p.name}`)))));
}

// Signed in from another address than the deployment's: link to it.
async function offerHome(slot) {
	try {
		const doc = await api.get("/openapi.json", { noRetry: true });
		const url = doc.servers && doc.servers[0] && doc.servers[0].url;
		if (url && new URL(url).origin !== location.origin)
			slot.append(h("p.hint", "Warren's address is ", h("a", { href: `${url}/` }, url), "."));
	} catch (err) {
		slot.append(h("p.hint", explain(err).title));
	}
}
