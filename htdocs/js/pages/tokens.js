// API tokens for scripts and the CLI: the secret is shown once, at creation.

import * as api from "../api.js";
import {
	h, replace, loading, empty, when, pageHeader, button, busy, notify, field, val, formError,
	clearFormError, confirmDialog, section, copyButton, badge,
} from "../ui.js";

export async function page(ctx, fresh = null) {
	const { main, signal } = ctx;
	if (!fresh)
		replace(main, pageHeader("API tokens"), loading("Loading tokens"));
	const tokens = (await api.get("/tokens", { signal })).items;

	const form = h("form.stack", { novalidate: true },
		h("div.form-error"),
		h("div.grid3",
			field({ label: "Name", name: "name", required: true, maxlength: 100, autocomplete: "off",
				placeholder: "laptop CLI", hint: "To recognize it later." }),
			field({ label: "Scope", name: "scope", type: "select", value: "full",
				options: [["full", "Full: read and change"], ["read", "Read only"]] }),
			field({ label: "Expires after (days)", name: "days", type: "number", min: 1, max: 3650, value: 90,
				inputmode: "numeric", hint: "Empty: never." })),
		h("div.form-actions", h("button.btn.primary", { type: "submit" }, "Create token")));
	form.addEventListener("submit", async (e) => {
		e.preventDefault();
		clearFormError(form);
		const body = { name: val(form, "name"), scope: val(form, "scope") };
		if (val(form, "days"))
			body.expires_in_days = Number(val(form, "days"));
		const btn = form.querySelector("button[type=submit]");
		btn.disabled = true;
		try {
			const t = await api.post("/tokens", body);
			await page(ctx, t);
		} catch (err) {
			formError(form, err);
		} finally {
			btn.disabled = false;
		}
	});

	const shown = fresh ? h("div.alert.ok.secret-once", { role: "status", tabindex: "-1" },
		h("strong", `Token "${fresh.name}" created: copy it now, it is not shown again.`),
		h("p.token-line", h("code.mono.select.token-value", fresh.token), " ", copyButton(fresh.token)),
		h("p.hint", "Use it as: Authorization: Bearer <token>")) : null;

	const rows = tokens.map((t) => {
		const dead = t.revoked_at || (t.expires_at && new Date(t.expires_at) < new Date());
		const slot = h("div.inline-error");
		const revoke = dead ? null : button("Revoke", () => busy(revoke, async () => {
			if (!await confirmDialog({ title: `Revoke "${t.name}"?`, text: "Anything using it stops working at once.",
				confirm: "Revoke", danger: true }))
				return;
			await api.del(`/tokens/${api.id(t.id)}`);
			notify(`Token "${t.name}" revoked`);
			await page(ctx);
		}, slot), "small danger", { "aria-label": `Revoke ${t.name}` });
		return h("tr",
			h("td", { dataset: { label: "Name" } }, h("span.strong", t.name)),
			h("td", { dataset: { label: "Scope" } }, t.scope),
			h("td", { dataset: { label: "Created" } }, when(t.created_at)),
			h("td", { dataset: { label: "Last used" } }, t.last_used_at ? when(t.last_used_at) : "never"),
			h("td", { dataset: { label: "Expires" } }, t.expires_at ? when(t.expires_at) : "never"),
			h("td", { dataset: { label: "State" } }, t.revoked_at ? badge("revoked")
				: dead ? badge("expired") : h("span.badge.ok", "active")),
			h("td.c-actions", { dataset: { label: "Actions" } }, revoke, slot));
	});

	replace(main, pageHeader("API tokens"),
		shown,
		section("Create a token", form),
		section("Your tokens", tokens.length ? h("table.list.tokens",
			h("caption.visually-hidden", "Your API tokens"),
			h("thead", h("tr", ["Name", "Scope", "Created", "Last used", "Expires", "State", "Actions"]
				.map((c) => h("th", { scope: "col" }, c)))),
			h("tbody", rows)) : empty("No tokens yet", "A token lets a script or the command line act as you.")));
	if (shown)
		shown.focus();
}
