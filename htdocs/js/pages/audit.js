// The audit log, newest first, with filters kept in the address
// (#/audit?action=workspace.*&since=...), for admins and auditors.

import * as api from "../api.js";
import { h, replace, loading, empty, when, pageHeader, button, busy, field, val, uniqueId } from "../ui.js";

const ACTIONS = ["auth.*", "auth.login", "auth.logout", "auth.logout_all", "auth.oauth_login", "auth.refresh_reuse",
	"auth.session_revoke", "user.*", "user.create", "user.update", "user.role_change", "user.disable", "user.enable",
	"user.delete", "org.*", "org.create", "org.update", "org.delete", "org.member_set", "org.member_remove",
	"token.*", "token.create", "token.revoke", "template.*", "template.create", "template.update",
	"template.version_create", "template.activate", "template.archive", "template.unarchive", "workspace.*",
	"workspace.create", "workspace.start", "workspace.stop", "workspace.restart", "workspace.update",
	"workspace.delete", "workspace.extend", "workspace.port_share", "workspace.port_unshare", "secret.*",
	"secret.create", "secret.update", "secret.delete", "quota.set", "invitation.create"];

// datetime-local (the browser's time zone) <-> RFC 3339 UTC
function toLocalInput(iso) {
	if (!iso)
		return "";
	const d = new Date(iso);
	if (Number.isNaN(d.getTime()))
		return "";
	const p = (n) => String(n).padStart(2, "0");
	return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function fromLocalInput(s) {
	if (!s)
		return "";
	const d = new Date(s);
	return Number.isNaN(d.getTime()) ? "" : d.toISOString().replace(/\.\d+Z$/, "Z");
}

export async function page(ctx) {
	const { main, signal, me } = ctx;
	const q = ctx.query;
	const filters = { actor: q.get("actor") || "", action: q.get("action") || "", target: q.get("target") || "",
		since: q.get("since") || "", until: q.get("until") || "" };
	const users = me.role === "admin" ? await api.all("/users", { signal }).catch(() => []) : [];
	const names = new Map(users.map((u) => [u.id, u.username]));
	const listId = uniqueId("actions");
	const form = h("form.filters", { novalidate: true, role: "search", "aria-label": "Filter the audit log" },
		users.length ? field({ label: "Who", name: "actor", type: "select", value: filters.actor,
			options: [["", "Anyone"], ...users.map((u) => [u.id, u.username])] })
			: field({ label: "Who (user id)", name: "actor", value: filters.actor, spellcheck: false }),
		field({ label: "Action", name: "action", value: filters.action, list: listId, spellcheck: false,
			autocapitalize: "off", hint: "e.g. workspace.* for every workspace action" }),
		h("datalist", { id: listId }, ACTIONS.map((a) => h("option", { value: a }))),
		field({ label: "Target id", name: "target", value: filters.target, spellcheck: false }),
		field({ label: "From", name: "since", type: "datetime-local", value: toLocalInput(filters.since) }),
		field({ label: "Until", name: "until", type: "datetime-local", value: toLocalInput(filters.until) }),
		h("div.filter-actions",
			h("button.btn.primary", { type: "submit" }, "Apply filters"),
			h("a.btn", { href: "#/audit" }, "Clear")));
	form.addEventListener("submit", (e) => {
		e.preventDefault();
		const next = api.q({ actor: val(form, "actor"), action: val(form, "action"), target: val(form, "target"),
			since: fromLocalInput(val(form, "since")), until: fromLocalInput(val(form, "until")) });
		location.hash = `#/audit${next}`;
	});

	const tbody = h("tbody");
	const more = h("div.more");
	const results = h("div", loading("Loading the audit log"));
	replace(main, pageHeader("Audit log"), h("section.card", form), results);

	const resultBadge = (r) => h(`span.badge.${r === "success" ? "ok" : r === "denied" ? "warn" : "bad"}`, r);
	const row = (e) => h("tr",
		h("td", { dataset: { label: "When" } }, when(e.at, true)),
		h("td", { dataset: { label: "Who" } }, e.actor_name || names.get(e.actor_id) || (e.actor_id ? e.actor_id.slice(0, 8) : h("span.muted", "anonymous"))),
		h("td", { dataset: { label: "Action" } }, h("span.mono", e.action)),
		h("td", { dataset: { label: "Target" } }, e.target_type || "", e.target_id ? h("span.sub.mono", e.target_id) : null),
		h("td", { dataset: { label: "Result" } }, resultBadge(e.result)),
		h("td", { dataset: { label: "From" } }, h("span.mono", e.source_addr || "—")),
		h("td.details", { dataset: { label: "Details" } }, e.details && Object.keys(e.details).length
			? h("span.mono.small-text", Object.entries(e.details).map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`).join(", "))
			: ""));

	let shown = 0;
	async function load(cursor) {
		const r = await api.get(`/audit${api.q({ ...filters, limit: 50, cursor })}`, { signal });
		shown += r.items.length;
		for (const e of r.items)
			tbody.append(row(e));
		replace(more, r.next_cursor ? button("Show older entries", (ev) => busy(ev.currentTarget, () => load(r.next_cursor))) : null);
		return r;
	}
	await load(null);
	const active = Object.values(filters).some(Boolean);
	if (shown === 0)
		replace(results, empty(active ? "Nothing matches these filters" : "The audit log is empty"));
	else
		replace(results, h("p.hint", { role: "status" }, active ? "Entries matching the filters, newest first."
			: "Every entry, newest first."),
		h("table.list.audit", h("caption.visually-hidden", "Audit log entries"),
			h("thead", h("tr", ["When", "Who", "Action", "Target", "Result", "From", "Details"].map((c) => h("th", { scope: "col" }, c)))),
			tbody), more);
}
