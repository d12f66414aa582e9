// Users and their roles, for admins: list, create, invite, and one user's
// role, state, password, quota and deletion.

import * as api from "../api.js";
import {
	h, replace, loading, empty, when, pageHeader, button, busy, notify, field, val, formError,
	clearFormError, confirmDialog, dl, badge, copyButton, section,
} from "../ui.js";
import { quotaForm } from "./quota.js";

export const ROLES = [
	["member", "Member"],
	["template-admin", "Template admin"],
	["auditor", "Auditor"],
	["admin", "Admin"],
];

export function roleName(r) {
	const f = ROLES.find(([k]) => k === r);
	return f ? f[1] : r;
}

export async function list(ctx) {
	const { main, signal } = ctx;
	const tbody = h("tbody");
	const more = h("div.more");
	const table = h("table.list.users",
		h("caption.visually-hidden", "Users"),
		h("thead", h("tr", ["User", "E-mail", "Role", "State", "Created"].map((c) => h("th", { scope: "col" }, c)))),
		tbody);
	const listBox = h("div", loading("Loading users"));
	replace(main, pageHeader("Users"), createForm(ctx, () => reload()), inviteCard(ctx), listBox);

	const row = (u) => h("tr", { dataset: { user: u.username } },
		h("td", { dataset: { label: "User" } }, h("a.strong", { href: `#/users/${u.id}` }, u.username),
			u.display_name ? h("span.sub", u.display_name) : null),
		h("td", { dataset: { label: "E-mail" } }, u.email || h("span.muted", "—")),
		h("td", { dataset: { label: "Role" } }, roleName(u.role)),
		h("td", { dataset: { label: "State" } }, u.disabled ? badge("disabled") : h("span.badge.ok", "active"),
			u.has_password ? null : h("span.sub", "no password (sign-in provider)")),
		h("td", { dataset: { label: "Created" } }, when(u.created_at)));

	async function page(cursor) {
		const r = await api.get(`/users${api.q({ limit: 50, cursor })}`, { signal });
		for (const u of r.items)
			tbody.append(row(u));
		replace(more, r.next_cursor ? button("Show more users", (e) => busy(e.currentTarget, () => page(r.next_cursor)))
			: null);
		return r;
	}

	async function reload() {
		replace(tbody);
		const r = await page(null);
		if (r.items.length === 0)
			replace(listBox, empty("No users"));
		else if (!listBox.contains(table))
			replace(listBox, table, more);
	}
	await reload();
}

function createForm(ctx, after) {
	const form = h("form.stack", { novalidate: true },
		h("div.form-error"),
		h("div.grid2",
			field({ label: "Username", name: "username", required: true, maxlength: 63, autocomplete: "off",
				spellcheck: false, autocapitalize: "off", hint: "Lower-case letters, digits, '.', '_' or '-'." }),
			field({ label: "Display name", name: "display_name", maxlength: 200, autocomplete: "off" }),
			field({ label: "E-mail", name: "email", type: "email", autocomplete: "off", spellcheck: false }),
			field({ label: "Role", name: "role", type: "select", value: "member", options: ROLES }),
			field({ label: "Password", name: "password", type: "password", autocomplete: "new-password", minlength: 8,
				hint: "At least 8 characters. Empty: the user signs in through a provider only." })),
		h("div.form-actions", h("button.btn.primary", { type: "submit" }, "Create user")));
	form.addEventListener("submit", async (e) => {
		e.preventDefault();
		clearFormError(form);
		const body = { username: val(form, "username"), role: val(form, "role") };
		for (const k of ["display_name", "email"])
			if (val(form, k))
				body[k] = val(form, k);
		if (form.elements.namedItem("password").value)
			body.password = form.elements.namedItem("password").value;
		const btn = form.querySelector("button[type=submit]");
		btn.disabled = true;
		try {
			const u = await api.post("/users", body);
			notify(`User ${u.username} created`);
			form.reset();
			await after();
		} catch (err) {
			formError(form, err);
		} finally {
			btn.disabled = false;
		}
	});
	return h("details.card.add", { open: ctx.query.get("new") === "1" }, h("summary", "Add a user"), form);
}

// Creating invitations, and the ones made so far: each pending one can be
// revoked until it is used.
function inviteCard(ctx) {
	const listBox = h("div.invitations");
	const result = h("div");
	const form = h("form.stack", { novalidate: true },
		h("p.hint", "An invitation lets someone sign up through a sign-in provider (GitHub or an OpenID Connect provider) once."),
		h("div.form-error"),
		h("div.grid3",
			field({ label: "E-mail (optional)", name: "email", type: "email", autocomplete: "off",
				hint: "When given, only this address can use it." }),
			field({ label: "Role", name: "role", type: "select", value: "member", options: ROLES }),
			field({ label: "Valid for (hours)", name: "hours", type: "number", min: 1, max: 720, value: 168 })),
		h("div.form-actions", h("button.btn", { type: "submit" }, "Create invitation")),
		result);

	const row = (i) => {
		const slot = h("div.inline-error");
		const who = i.email || "anyone";
		const revoke = i.status !== "pending" ? null : button("Revoke", () => busy(revoke, async () => {
			if (!await confirmDialog({ title: `Revoke the invitation for ${who}?`,
				text: "Its code no longer signs anyone up.", confirm: "Revoke", danger: true }))
				return;
			await api.del(`/invitations/${api.id(i.id)}`);
			notify(`Invitation for ${who} revoked`);
			await reload();
		}, slot), "small danger", { "aria-label": `Revoke the invitation for ${who}` });
		return h("tr", { dataset: { invitation: i.id } },
			h("td", { dataset: { label: "For" } }, i.email || h("span.muted", "anyone")),
			h("td", { dataset: { label: "Role" } }, roleName(i.role)),
			h("td", { dataset: { label: "State" } }, i.status === "pending" ? badge("pending")
				: i.status === "used" ? h("span.badge.ok", "used") : badge(i.status),
			i.used_by ? h("span.sub", "by ", h("a", { href: `#/users/${i.used_by}` }, i.used_by_name || "a user"))
				: null),
			h("td", { dataset: { label: "Created" } }, when(i.created_at),
				i.created_by_name ? h("span.sub", `by ${i.created_by_name}`) : null),
			h("td", { dataset: { label: "Expires" } }, when(i.expires_at)),
			h("td.c-actions", { dataset: { label: "Actions" } }, revoke, slot));
	};

	async function reload() {
		const r = await api.get(`/invitations${api.q({ limit: 50 })}`, { signal: ctx.signal });
		replace(listBox, r.items.length ? h("table.list.invitations",
			h("caption.visually-hidden", "Invitations"),
			h("thead", h("tr", ["For", "Role", "State", "Created", "Expires", "Actions"]
				.map((c) => h("th", { scope: "col" }, c)))),
			h("tbody", r.items.map(row))) : h("p.hint", "No invitations yet."));
	}

	form.addEventListener("submit", async (e) => {
		e.preventDefault();
		clearFormError(form);
		const body = { role: val(form, "role"), expires_in_hours: Number(val(form, "hours")) || 168 };
		if (val(form, "email"))
			body.email = val(form, "email");
		try {
			const inv = await api.post("/invitations", body);
			const providers = await api.get("/auth/providers").catch(() => ({ providers: [] }));
			replace(result, h("div.alert.info.secret-once", { role: "status" },
				h("strong", "Invitation code (shown once)"),
				h("p", h("code.mono.select", inv.code), " ", copyButton(inv.code)),
				providers.providers.length ? h("p", "Sign-up links: ", providers.providers.map((p) =>
					[h("code.mono.select", `${location.origin}${p.start_url}?invite=${encodeURIComponent(inv.code)}`), " "])) : null));
			await reload();
		} catch (err) {
			formError(form, err);
		}
	});
	const card = h("details.card.add.invite", h("summary", "Invitations"), form, listBox);
	// Read when first opened: most visits to the page are about users.
	card.addEventListener("toggle", () => {
		if (card.open && !listBox.firstChild)
			reload().catch((err) => replace(listBox, h("p.inline-error", err.message)));
	});
	return card;
}

// ------------------------------------------------------------ one user

export async function detail(ctx) {
	const { main, signal, me } = ctx;
	const uid = ctx.params.id;
	const render = async () => {
		const u = await api.get(`/users/${api.id(uid)}`, { signal });
		ctx.setTitle(u.username);
		const slot = h("div.form-error");
		const toggle = button(u.disabled ? "Enable" : "Disable", () => busy(toggle, async () => {
			if (!u.disabled) {
				const ok = await confirmDialog({ title: `Disable ${u.username}?`,
					text: "They are signed out everywhere and cannot sign in until enabled again. "
						+ "Their workspaces are kept.", confirm: "Disable", danger: true });
				if (!ok)
					return;
			}
			await api.patch(`/users/${api.id(u.id)}`, { disabled: !u.disabled });
			notify(u.disabled ? `${u.username} enabled` : `${u.username} disabled`);
			await render();
		}, slot), u.disabled ? "" : "danger");
		const remove = button("Delete user", () => busy(remove, async () => {
			const ok = await confirmDialog({ title: `Delete ${u.username}?`,
				text: "The account is removed for good, with its sessions and tokens.",
				confirm: "Delete user", danger: true, typeToConfirm: u.username });
			if (!ok)
				return;
			await api.del(`/users/${api.id(u.id)}`);
			notify(`${u.username} deleted`);
			ctx.go("#/users");
		}, slot), "danger");
		if (u.id === me.id)
			remove.disabled = true;

		const roleForm = h("form.inline-form", { novalidate: true },
			field({ label: "Role", name: "role", type: "select", value: u.role, options: ROLES }),
			h("button.btn", { type: "submit" }, "Change role"),
			h("div.form-error"));
		roleForm.addEventListener("submit", async (e) => {
			e.preventDefault();
			clearFormError(roleForm);
			try {
				await api.patch(`/users/${api.id(u.id)}`, { role: val(roleForm, "role") });
				notify(`${u.username} is now ${roleName(val(roleForm, "role")).toLowerCase()}`);
				await render();
			} catch (err) {
				formError(roleForm, err);
			}
		});

		const profile = h("form.stack", { novalidate: true },
			h("div.form-error"),
			h("div.grid2",
				field({ label: "Display name", name: "display_name", value: u.display_name, maxlength: 200 }),
				field({ label: "E-mail", name: "email", type: "email", value: u.email || "" }),
				field({ label: "New password", name: "password", type: "password", autocomplete: "new-password",
					minlength: 8, hint: "Empty: unchanged." })),
			h("div.form-actions", h("button.btn", { type: "submit" }, "Save")));
		profile.addEventListener("submit", async (e) => {
			e.preventDefault();
			clearFormError(profile);
			const body = { display_name: val(profile, "display_name") };
			if (val(profile, "email") && val(profile, "email") !== (u.email || ""))
				body.email = val(profile, "email");
			if (profile.elements.namedItem("password").value)
				body.password = profile.elements.namedItem("password").value;
			try {
				await api.patch(`/users/${api.id(u.id)}`, body);
				notify("Saved");
				await render();
			} catch (err) {
				formError(profile, err);
			}
		});

		replace(main,
			h("p.crumbs", h("a", { href: "#/users" }, "Users"), " / "),
			h("div.page-header", h("div.title-line", h("h1", { tabindex: "-1" }, u.username),
				u.disabled ? badge("disabled") : null), h("div.page-actions", toggle, remove)),
			slot,
			h("div.ws-grid",
				section("Account",
					dl([["Display name", u.display_name || "—"], ["E-mail", u.email || "—"],
						["Role", roleName(u.role)], ["Password", u.has_password ? "set" : "none (provider sign-in)"],
						["Created", when(u.created_at)], ["Updated", when(u.updated_at)]]),
					roleForm),
				section("Organizations", (u.organizations || []).length
					? h("ul.plain", u.organizations.map((o) => h("li",
						h("a", { href: `#/orgs/${o.id}` }, o.display_name || o.name), ` · ${o.role}`)))
					: h("p.muted", "Not a member of any organization.")),
				section("Profile and password", profile),
				section("Quota", quotaForm("users", u.id, signal))));
	};
	replace(main, pageHeader("User"), loading());
	await render();
}
