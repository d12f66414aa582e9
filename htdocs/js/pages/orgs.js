// Organizations: the ones you belong to (admins and auditors see all),
// their members and roles, and their quota (admins).

import * as api from "../api.js";
import {
	h, replace, loading, empty, when, pageHeader, button, busy, notify, field, val, formError,
	clearFormError, confirmDialog, dl, section, uniqueId,
} from "../ui.js";
import { quotaForm } from "./quota.js";

const ORG_ROLES = [["member", "Member"], ["admin", "Admin"], ["owner", "Owner"]];

export async function list(ctx) {
	const { main, signal } = ctx;
	const admin = ctx.can(["admin"]);
	replace(main, pageHeader("Organizations"), loading("Loading organizations"));
	const items = await api.all("/orgs", { signal });
	const form = admin ? createForm(ctx) : null;
	const body = items.length === 0
		? empty(admin ? "No organizations yet" : "You are in no organization",
			"An organization groups people: they can share workspace ports and secrets, and have a common quota.")
		: h("table.list",
			h("caption.visually-hidden", "Organizations"),
			h("thead", h("tr", ["Organization", "Your role", "Created"].map((c) => h("th", { scope: "col" }, c)))),
			h("tbody", items.map((o) => h("tr",
				h("td", { dataset: { label: "Organization" } }, h("a.strong", { href: `#/orgs/${o.id}` }, o.display_name || o.name),
					h("span.sub.mono", o.name)),
				h("td", { dataset: { label: "Your role" } }, o.my_role || h("span.muted", "not a member")),
				h("td", { dataset: { label: "Created" } }, when(o.created_at))))));
	replace(main, pageHeader("Organizations"), form, body);
}

function createForm(ctx) {
	const form = h("form.stack", { novalidate: true },
		h("div.form-error"),
		h("div.grid2",
			field({ label: "Name", name: "name", required: true, maxlength: 32, spellcheck: false, autocapitalize: "off",
				hint: "Lower-case letters, digits and '-'." }),
			field({ label: "Display name", name: "display_name", maxlength: 200 })),
		h("div.form-actions", h("button.btn.primary", { type: "submit" }, "Create organization")));
	form.addEventListener("submit", async (e) => {
		e.preventDefault();
		clearFormError(form);
		try {
			const o = await api.post("/orgs", { name: val(form, "name"), display_name: val(form, "display_name") });
			notify(`Organization ${o.name} created`);
			ctx.go(`#/orgs/${o.id}`);
		} catch (err) {
			formError(form, err);
		}
	});
	return h("details.card.add", h("summary", "Add an organization"), form);
}

export async function detail(ctx) {
	const { main, signal, me } = ctx;
	const oid = ctx.params.id;
	const admin = me.role === "admin";
	const users = admin ? await api.all("/users", { signal }).catch(() => []) : [];
	const render = async () => {
		const [o, members] = await Promise.all([
			api.get(`/orgs/${api.id(oid)}`, { signal }),
			api.get(`/orgs/${api.id(oid)}/members`, { signal }),
		]);
		ctx.setTitle(o.display_name || o.name);
		const manage = admin || o.my_role === "owner" || o.my_role === "admin";
		const slot = h("div.form-error");
		const actions = [];
		if (admin || o.my_role === "owner") {
			const del = button("Delete organization", () => busy(del, async () => {
				const ok = await confirmDialog({ title: `Delete ${o.name}?`,
					text: "Its memberships, quota and secrets go with it.", confirm: "Delete", danger: true,
					typeToConfirm: o.name });
				if (!ok)
					return;
				await api.del(`/orgs/${api.id(o.id)}`);
				notify(`${o.name} deleted`);
				ctx.go("#/orgs");
			}, slot), "danger");
			actions.push(del);
		} else if (o.my_role) {
			const leave = button("Leave", () => busy(leave, async () => {
				if (!await confirmDialog({ title: `Leave ${o.name}?`, confirm: "Leave", danger: true }))
					return;
				await api.del(`/orgs/${api.id(o.id)}/members/${api.id(me.id)}`);
				notify(`You left ${o.name}`);
				ctx.go("#/orgs");
			}, slot), "danger");
			actions.push(leave);
		}

		const memberRows = members.items.map((m) => {
			const rid = uniqueId("role");
			const sel = h("select", { id: rid, name: "role", disabled: !manage },
				ORG_ROLES.map(([v, t]) => h("option", { value: v, selected: v === m.role }, t)));
			const rowSlot = h("div.inline-error");
			const save = button("Save", () => busy(save, async () => {
				await api.put(`/orgs/${api.id(o.id)}/members/${api.id(m.user_id)}`, { role: sel.value });
				notify(`${m.username} is now ${sel.value}`);
				await render();
			}, rowSlot), "small", { "aria-label": `Save the role of ${m.username}` });
			const rm = button("Remove", () => busy(rm, async () => {
				if (!await confirmDialog({ title: `Remove ${m.username} from ${o.name}?`, confirm: "Remove", danger: true }))
					return;
				await api.del(`/orgs/${api.id(o.id)}/members/${api.id(m.user_id)}`);
				notify(`${m.username} removed`);
				await render();
			}, rowSlot), "small danger", { "aria-label": `Remove ${m.username}` });
			return h("tr",
				h("td", { dataset: { label: "Member" } }, h("span.strong", m.username), m.display_name ? h("span.sub", m.display_name) : null),
				h("td", { dataset: { label: "Role" } }, h("label.visually-hidden", { for: rid }, `Role of ${m.username}`), sel),
				h("td", { dataset: { label: "Since" } }, when(m.created_at)),
				h("td.c-actions", { dataset: { label: "Actions" } }, manage ? [save, rm] : null, rowSlot));
		});

		let addForm = null;
		if (manage) {
			const memberIds = new Set(members.items.map((m) => m.user_id));
			const candidates = users.filter((u) => !memberIds.has(u.id));
			addForm = h("form.inline-form.add-member", { novalidate: true },
				admin ? field({ label: "User", name: "user", type: "select",
					options: [["", "Choose a user…"], ...candidates.map((u) => [u.id, u.display_name ? `${u.username} (${u.display_name})` : u.username])] })
					: field({ label: "User id", name: "user", spellcheck: false, hint: "Ask them for it: it is on their account page." }),
				field({ label: "Role", name: "role", type: "select", value: "member", options: ORG_ROLES }),
				h("button.btn", { type: "submit" }, "Add member"),
				h("div.form-error"));
			addForm.addEventListener("submit", async (e) => {
				e.preventDefault();
				clearFormError(addForm);
				const user = val(addForm, "user");
				if (!user) {
					formError(addForm, new api.ApiError(400, { title: "Choose a user", detail: "user is required" }));
					return;
				}
				try {
					await api.put(`/orgs/${api.id(o.id)}/members/${api.id(user)}`, { role: val(addForm, "role") });
					notify("Member added");
					await render();
				} catch (err) {
					formError(addForm, err);
				}
			});
		}

		let rename = null;
		if (manage) {
			rename = h("form.stack", { novalidate: true },
				h("div.form-error"),
				h("div.grid2",
					field({ label: "Name", name: "name", value: o.name, maxlength: 32, spellcheck: false }),
					field({ label: "Display name", name: "display_name", value: o.display_name, maxlength: 200 })),
				h("div.form-actions", h("button.btn", { type: "submit" }, "Save")));
			rename.addEventListener("submit", async (e) => {
				e.preventDefault();
				clearFormError(rename);
				try {
					await api.patch(`/orgs/${api.id(o.id)}`, { name: val(rename, "name"), display_name: val(rename, "display_name") });
					notify("Organization saved");
					await render();
				} catch (err) {
					formError(rename, err);
				}
			});
			rename = h("details.edit", h("summary", "Rename"), rename);
		}

		replace(main,
			h("p.crumbs", h("a", { href: "#/orgs" }, "Organizations"), " / "),
			h("div.page-header", h("h1", { tabindex: "-1" }, o.display_name || o.name), h("div.page-actions", actions)),
			slot,
			section("About", dl([["Name", h("span.mono", o.name)], ["Your role", o.my_role || "not a member"],
				["Members", String(members.items.length)], ["Created", when(o.created_at)]]), rename),
			section("Members",
				members.items.length ? h("table.list.members",
					h("caption.visually-hidden", "Members"),
					h("thead", h("tr", ["Member", "Role", "Since", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
					h("tbody", memberRows)) : h("p.muted", "No members yet."),
				addForm),
			admin ? section("Quota", h("p.hint", "Counts every workspace of the organization, whoever owns it."),
				quotaForm("orgs", o.id, signal)) : null);
	};
	replace(main, pageHeader("Organization"), loading());
	await render();
}
