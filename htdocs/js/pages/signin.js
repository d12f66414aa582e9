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
	const refusal = h("div.signin-refusal", { "aria-live": "assertive" });
	const opening = next && next.startsWith("/api/v1/auth/handoff");
	const card = h("div.signin-card",
		h("div.signin-brand", h("span.logo.big", { "aria-hidden": "true" }), "Warren"),
		h("h1", { tabindex: "-1" }, "Sign in"),
		h("p.muted", opening ? "Sign in to open your workspace."
			: "Your development workspaces, one click away."),
		message ? h("div.alert.info", { role: "status" }, message) : null,
		refusal,
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

	loadProviders(providers, next, refusal);
	form.elements.namedItem("username").focus();
}

// Why a provider's sign-in came back refused (?signin_error=&provider=):
// a code from a fixed list, never text taken from the address.
const REFUSALS = {
	"email-unverified": "the provider has not verified your e-mail address. Verify it there, then try again.",
	"signup-closed": "there is no Warren account for you, and signing up needs an invitation or an e-mail address of an allowed domain.",
	"invitation-invalid": "the invitation is not valid (used, expired or for another address).",
	"account-disabled": "your Warren account is disabled. Ask an administrator.",
	"access-denied": "access was denied at the provider.",
	"expired": "the sign-in took too long or started in another browser. Try again.",
	"provider-error": "the provider could not be reached or refused Warren's request. Try again later, or ask an administrator.",
	"conflict": "no username is free for your account. Ask an administrator.",
	"failed": "Warren could not verify the provider's answer. Ask an administrator: the audit log says why.",
};

function takeRefusal() {
	const q = new URLSearchParams(location.search);
	const code = q.get("signin_error");
	if (code === null)
		return null;
	const provider = q.get("provider") || "";
	q.delete("signin_error");
	q.delete("provider");
	const rest = q.toString();
	history.replaceState(null, "", `/${rest ? `?${rest}` : ""}${location.hash}`);
	return { reason: Object.hasOwn(REFUSALS, code) ? REFUSALS[code] : REFUSALS.failed, provider };
}

function showRefusal(slot, refused, list) {
	const p = list.find((x) => x.name === refused.provider);
	const who = p ? (p.display_name || p.name) : "the provider";
	replace(slot, h("div.alert.error", { role: "alert" },
		h("strong", `Sign-in with ${who} failed`), `: ${refused.reason}`));
}

async function loadProviders(box, next, refusalSlot) {
	const refused = takeRefusal();
	let list;
	try {
		list = await api.get("/auth/providers", { noRetry: true });
	} catch (err) {
		if (refused)
			showRefusal(refusalSlot, refused, []);
		replace(box, errorBox(err));
		return;
	}
	if (refused)
		showRefusal(refusalSlot, refused, list.providers || []);
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
