// Your account: profile, password, sessions, sign out everywhere.

import * as api from "../api.js";
import {
	h, replace, loading, when, pageHeader, button, busy, notify, field, val, formError, clearFormError,
	confirmDialog, dl, section,
} from "../ui.js";
import { roleName } from "./users.js";

function browserOf(ua) {
	if (!ua)
		return "unknown browser";
	const m = /(Firefox|Edg|Chrome|Chromium|Safari|curl|python-requests)[/ ]([\d.]+)/.exec(ua);
	const os = /(Windows|Mac OS X|Android|iPhone|Linux)/.exec(ua);
	const name = m ? { Edg: "Edge" }[m[1]] || m[1] : ua.slice(0, 40);
	return os ? `${name} on ${os[1] === "Mac OS X" ? "macOS" : os[1]}` : name;
}

export async function page(ctx) {
	const { main, signal } = ctx;
	replace(main, pageHeader("Account"), loading());
	const me = await ctx.refreshMe();
	const [user, sessions] = await Promise.all([
		api.get(`/users/${api.id(me.id)}`, { signal }),
		api.get("/me/sessions", { signal }),
	]);

	const profile = h("form.stack", { novalidate: true },
		h("div.form-error"),
		field({ label: "Display name", name: "display_name", value: user.display_name, maxlength: 200,
			autocomplete: "name" }),
		h("div.form-actions", h("button.btn", { type: "submit" }, "Save")));
	profile.addEventListener("submit", async (e) => {
		e.preventDefault();
		clearFormError(profile);
		try {
			await api.patch(`/users/${api.id(me.id)}`, { display_name: val(profile, "display_name") });
			notify("Saved");
		} catch (err) {
			formError(profile, err);
		}
	});

	const password = h("form.stack", { novalidate: true },
		h("div.form-error"),
		user.has_password ? field({ label: "Current password", name: "current_password", type: "password",
			autocomplete: "current-password", required: true }) : null,
		field({ label: "New password", name: "password", type: "password", autocomplete: "new-password",
			minlength: 8, required: true, hint: "At least 8 characters." }),
		h("div.form-actions", h("button.btn", { type: "submit" }, user.has_password ? "Change password" : "Set a password")));
	password.addEventListener("submit", async (e) => {
		e.preventDefault();
		clearFormError(password);
		const body = { password: password.elements.namedItem("password").value };
		if (user.has_password)
			body.current_password = password.elements.namedItem("current_password").value;
		try {
			await api.patch(`/users/${api.id(me.id)}`, body);
			password.reset();
			notify("Password changed");
		} catch (err) {
			if (err.status === 400 && /^password /.test(err.detail))
				err.detail = "password: the new password needs at least 8 characters.";
			formError(password, err);
		}
	});

	const slot = h("div.form-error");
	const everywhere = button("Sign out everywhere", () => busy(everywhere, async () => {
		if (!await confirmDialog({ title: "Sign out everywhere?",
			text: "Every session of yours ends, this one included, and workspace tabs lose access.",
			confirm: "Sign out everywhere", danger: true }))
			return;
		await api.post("/auth/logout-all", undefined, { noRetry: true });
		ctx.signedOut("You are signed out everywhere.");
	}, slot), "danger");

	const rows = sessions.items.map((s) => {
		const end = s.current ? null : button("Sign out", () => busy(end, async () => {
			await api.del(`/me/sessions/${api.id(s.id)}`);
			notify("That session is signed out");
			await page(ctx);
		}, slot), "small", { "aria-label": `Sign out the session of ${browserOf(s.user_agent)}` });
		return h("tr",
			h("td", { dataset: { label: "Browser" } }, h("span.strong", browserOf(s.user_agent)),
				s.current ? h("span.pill", "this one") : null),
			h("td", { dataset: { label: "From" } }, h("span.mono", s.source_addr || "—")),
			h("td", { dataset: { label: "Signed in" } }, when(s.created_at)),
			h("td", { dataset: { label: "Last active" } }, when(s.last_seen_at)),
			h("td", { dataset: { label: "Ends" } }, when(s.expires_at)),
			h("td.c-actions", { dataset: { label: "Actions" } }, end));
	});

	replace(main, pageHeader("Account"),
		h("div.ws-grid",
			section("You", dl([
				["Username", h("span.mono", me.username)],
				["E-mail", me.email || "—"],
				["Role", roleName(me.role)],
				["User id", h("span.mono.select", me.id)],
				(user.organizations || []).length ? ["Organizations", user.organizations.map((o) => `${o.display_name || o.name} (${o.role})`).join(", ")] : null,
			]), profile),
			section("Password", password)),
		section("Sessions",
			h("p.hint", "Where you are signed in. Signing a session out ends it at once."),
			h("table.list.sessions", h("caption.visually-hidden", "Your sessions"),
				h("thead", h("tr", ["Browser", "From", "Signed in", "Last active", "Ends", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
				h("tbody", rows)),
			h("div.form-actions", everywhere), slot));
}
