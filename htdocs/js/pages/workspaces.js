// The workspaces dashboard (live statuses) and the form that creates one.

import * as api from "../api.js";
import {
	h, replace, clear, loading, empty, errorBox, badge, setBadge, when, pageHeader, button, busy,
	notify, field, val, intOrNull, formError, clearFormError, isTransitional, workspaceStatus,
	uniqueId, append,
} from "../ui.js";
import { poll, openHref, templateMap, templateName, resources, newKey } from "./common.js";

// ------------------------------------------------------------ the list

export async function list(ctx) {
	const { main, me, signal } = ctx;
	const privileged = me.role === "admin" || me.role === "auditor";
	const everyone = privileged && ctx.query.get("owner") === "all";
	const header = pageHeader("Workspaces",
		h("a.btn.primary", { href: "#/workspaces/new" }, "New workspace"));
	const filter = privileged ? h("div.segmented", { role: "group", "aria-label": "Show" },
		h("a.seg", { href: "#/workspaces", "aria-current": everyone ? null : "page" }, "Mine"),
		h("a.seg", { href: "#/workspaces?owner=all", "aria-current": everyone ? "page" : null }, "Everyone's")) : null;
	const body = h("div", loading("Loading workspaces"));
	replace(main, header, filter, body);

	const [templates, owners] = await Promise.all([
		templateMap(signal),
		everyone && me.role === "admin" ? api.all("/users", { signal }).then((us) =>
			new Map(us.map((u) => [u.id, u.username]))).catch(() => new Map()) : new Map(),
	]);
	const path = everyone ? "/workspaces" : `/workspaces${api.q({ owner: me.id })}`;
	const rows = new Map();	// id -> {tr, update}
	let tbody = null;
	let anyBusy = false;

	const columns = [
		{ label: "Workspace", cls: "c-name" },
		...(everyone ? [{ label: "Owner" }] : []),
		{ label: "Template" },
		{ label: "Status", cls: "c-status" },
		{ label: "Last used" },
		{ label: "Actions", cls: "c-actions" },
	];

	function makeRow(ws) {
		const status = badge(workspaceStatus(ws));
		const activity = h("td", { dataset: { label: "Last used" } });
		const tplCell = h("td", { dataset: { label: "Template" } });
		const actions = h("td.c-actions", { dataset: { label: "Actions" } });
		const tr = h("tr", { dataset: { id: ws.id } },
			h("td.c-name", { dataset: { label: "Workspace" } },
				h("a.strong", { href: `#/workspaces/${ws.id}` }, ws.name),
				h("span.sub.mono", new URL(ws.url).host)),
			everyone ? h("td", { dataset: { label: "Owner" } }, owners.get(ws.owner_id) || ws.owner_id.slice(0, 8)) : null,
			tplCell,
			h("td.c-status", { dataset: { label: "Status" } }, status),
			activity,
			actions);
		let actionKey = null;
		const update = (w) => {
			setBadge(status, workspaceStatus(w));
			const t = templates.get(w.template_id);
			const newer = t && t.active_version && t.active_version > w.template_version;
			replace(tplCell, templateName(t), h("span.sub", `version ${w.template_version}`,
				newer ? h("span.pill", `v${t.active_version} available`) : null));
			replace(activity, w.last_activity_at ? when(w.last_activity_at) : h("span.muted", "never"));
			const key = `${w.status}|${w.build_id}`;
			if (key !== actionKey) {
				const hadFocus = actions.contains(document.activeElement);
				actionKey = key;
				replace(actions, rowActions(w, () => refresh()));
				if (hadFocus)
					(actions.querySelector("a,button:not([disabled])") || tr.querySelector("a")).focus();
			}
		};
		update(ws);
		return { tr, update };
	}

	function rowActions(ws, after) {
		const st = workspaceStatus(ws);
		const out = [];
		const owner = ws.owner_id === me.id;
		// Auditors read; admins may act on anyone's; opening is the owner's
		// (others reach a workspace through the ports it shares).
		if (!owner && me.role !== "admin")
			return out;
		if (st === "running" && owner)
			out.push(h("a.btn.small.primary", { href: openHref(ws), target: "_blank", rel: "noopener",
				"aria-label": `Open ${ws.name} (new tab)` }, "Open"));
		const act = (transition, label, cls = "") => {
			const b = button(label, () => busy(b, async () => {
				await api.post(`/workspaces/${api.id(ws.id)}/builds`, { transition },
					{ idempotencyKey: newKey() });
				notify(`${ws.name}: ${transition} requested`);
				await after();
			}), `small ${cls}`.trim(), { "aria-label": `${label} ${ws.name}` });
			return b;
		};
		if (st === "running")
			out.push(act("stop", "Stop"));
		else if (!isTransitional(st) && st !== "deleted")
			out.push(act("start", "Start"));
		if (isTransitional(st))
			out.push(h("span.muted.small-text", "working…"));
		return out;
	}

	async function refresh() {
		const items = await api.all(path, { signal });
		anyBusy = items.some((w) => isTransitional(w.status));
		if (items.length === 0) {
			rows.clear();
			tbody = null;
			replace(body, empty(everyone ? "No workspaces yet" : "You have no workspaces yet",
				"A workspace is a container made from a template, with its own address and storage.",
				h("a.btn.primary", { href: "#/workspaces/new" }, "Create your first workspace")));
			return;
		}
		if (tbody === null) {
			tbody = h("tbody");
			replace(body, h("table.list.ws-list",
				h("caption.visually-hidden", "Workspaces, with their status"),
				h("thead", h("tr", columns.map((c) => h("th", { scope: "col", class: c.cls }, c.label)))),
				tbody),
			h("p.hint.live-note", { "aria-hidden": "true" }, "Statuses update by themselves."));
		}
		const seen = new Set();
		items.forEach((w, i) => {
			seen.add(w.id);
			let r = rows.get(w.id);
			if (!r) {
				r = makeRow(w);
				rows.set(w.id, r);
			} else {
				r.update(w);
			}
			if (tbody.children[i] !== r.tr)
				tbody.insertBefore(r.tr, tbody.children[i] || null);
		});
		for (const [wid, r] of rows)
			if (!seen.has(wid)) {
				r.tr.remove();
				rows.delete(wid);
			}
	}

	await refresh();
	poll(ctx, refresh, () => (anyBusy ? 1500 : 5000));
}

// ------------------------------------------------------------- create

export async function create(ctx) {
	const { main, signal } = ctx;
	replace(main, pageHeader("New workspace"), loading("Loading templates"));
	const [templates, orgs, secrets] = await Promise.all([
		api.all("/templates", { signal }),
		api.all("/orgs", { signal }).catch(() => []),
		api.get("/secrets", { signal }).then((r) => r.items).catch(() => []),
	]);
	const usable = templates.filter((t) => t.active_version);
	if (usable.length === 0) {
		replace(main, pageHeader("New workspace"), empty("No templates yet",
			"A workspace is made from a template, and there is none yet.",
			ctx.can(["admin", "template-admin"]) ? h("a.btn.primary", { href: "#/templates/new" }, "Create a template")
				: h("p", "Ask an administrator to create one.")));
		return;
	}
	const wanted = ctx.query.get("template");
	const chosen = usable.find((t) => t.id === wanted || t.name === wanted) || usable[0];
	const errorSlot = h("div.form-error");
	const paramsBox = h("div.params");
	const starterBox = h("div.starters");
	const versionNote = h("p.hint");
	const gid = uniqueId("tpl");
	const picker = h("fieldset.template-picker",
		h("legend", "Template"),
		h("div.choices", usable.map((t) => h("label.choice",
			h("input", { type: "radio", name: "template", value: t.id, checked: t.id === chosen.id,
				"aria-describedby": `${gid}-${t.id}` }),
			h("span.choice-body",
				h("span.choice-title", templateName(t)),
				h("span.choice-text", { id: `${gid}-${t.id}` }, t.description || t.name))))));
	const myOrgs = orgs.filter((o) => o.my_role);
	const secretNames = [...new Set(secrets.map((s) => s.name))];
	const submit = h("button.btn.primary", { type: "submit" }, "Create workspace");
	const form = h("form.stack", { novalidate: true },
		errorSlot,
		h("div.card", picker, versionNote),
		h("div.card",
			field({ label: "Name", name: "name", required: true, maxlength: 32, autocomplete: "off",
				spellcheck: false, autocapitalize: "off", placeholder: "my-project",
				hint: "Lower-case letters, digits and '-', at most 32: it is part of the workspace's address." }),
			paramsBox),
		h("div.card",
			h("h2.h3", "Project"),
			h("p.hint", "Put into the home on the workspace's first start, by the workspace itself: "
				+ "a starter's files, a git repository, or both."),
			starterBox,
			h("div.grid2",
				field({ label: "Git repository (https)", name: "repo_url", type: "url", autocomplete: "off",
					spellcheck: false, autocapitalize: "off", placeholder: "https://git.example.org/team/app.git",
					hint: "Cloned into a directory of the home named after it." }),
				field({ label: "Branch", name: "repo_branch", autocomplete: "off", spellcheck: false,
					autocapitalize: "off", placeholder: "the repository's default" }),
				field({ label: "Credentials", name: "repo_secret", type: "select",
					options: [["", "None (a public repository)"], ...secretNames.map((n) => [n, `Secret ${n}`])],
					hint: "A secret holding username:password, or a token, for a private repository." }))),
		h("details.card",
			h("summary", "More options"),
			h("div.grid2",
				field({ label: "Organization", name: "org_id", type: "select",
					options: [["", "None (personal)"], ...myOrgs.map((o) => [o.id, o.display_name || o.name])],
					hint: "Counts against the organization's quota too." }),
				field({ label: "Stop after (hours)", name: "autostop_hours", type: "number",
					min: 0, step: 1, inputmode: "numeric", hint: "Empty or 0: no automatic stop." }),
				field({ label: "Stop when idle (minutes)", name: "idle_minutes", type: "number",
					min: 0, step: 1, inputmode: "numeric", hint: "Empty: the template's setting." })),
			secretNames.length ? h("fieldset.secrets-pick", h("legend", "Secrets to pass in"),
				h("p.hint", "Each becomes an environment variable of the same name in the workspace."),
				secretNames.map((n) => field({ type: "checkbox", name: `secret:${n}`, label: n }))) : null),
		h("div.card", field({ type: "checkbox", name: "start", label: "Start it now", value: true })),
		h("div.form-actions", submit, h("a.btn", { href: "#/workspaces" }, "Cancel")));
	replace(main, pageHeader("New workspace"), form);

	let version = null;
	async function showTemplate(tid) {
		replace(paramsBox, loading("Loading the template"));
		const t = await api.get(`/templates/${api.id(tid)}`, { signal });
		version = t.active || null;
		replace(versionNote, version ? `Version ${version.number}: ${version.image} · ${resources(version)}`
			+ (version.ports.length ? ` · ports ${version.ports.map((p) => p.port).join(", ")}` : "") : "");
		clear(paramsBox);
		const starters = (version && version.starters) || [];
		replace(starterBox, starters.length ? field({ label: "Starter", name: "starter", type: "select",
			options: [["", "None: an empty home"], ...starters.map((st) => [st.name,
				(st.display_name || st.name) + (st.description ? ` — ${st.description}` : "")])],
			hint: "Files to begin with; files already in the home are kept." }) : null);
		const defs = (version && version.parameters) || [];
		if (defs.length)
			append(paramsBox, [h("h2.h3", "Parameters"), defs.map(paramField)]);
		for (const name of (version && version.secrets) || []) {
			const box = form.elements.namedItem(`secret:${name}`);
			if (box)
				box.checked = true;
		}
	}
	picker.addEventListener("change", (e) => {
		if (e.target.name === "template")
			showTemplate(e.target.value).catch((err) => replace(paramsBox, errorBox(err)));
	});
	await showTemplate(chosen.id);

	form.addEventListener("submit", async (e) => {
		e.preventDefault();
		clearFormError(form);
		const body = {
			name: val(form, "name"),
			template: form.elements.namedItem("template").value,
			start: val(form, "start"),
		};
		const params = {};
		for (const d of (version && version.parameters) || []) {
			const el = form.elements.namedItem(`param:${d.name}`);
			if (!el)
				continue;
			if (d.type === "bool")
				params[d.name] = el.checked;
			else if (el.value.trim() !== "")
				params[d.name] = d.type === "number" ? Number(el.value) : el.value;
		}
		if (Object.keys(params).length)
			body.parameters = params;
		if (val(form, "org_id"))
			body.org_id = val(form, "org_id");
		const hours = intOrNull(val(form, "autostop_hours"));
		if (hours !== null)
			body.autostop_ttl = hours * 3600;
		const mins = intOrNull(val(form, "idle_minutes"));
		if (mins !== null)
			body.idle_timeout = mins * 60;
		if (form.elements.namedItem("starter") && val(form, "starter"))
			body.starter = val(form, "starter");
		if (val(form, "repo_url")) {
			body.repository = { url: val(form, "repo_url").trim() };
			if (val(form, "repo_branch"))
				body.repository.branch = val(form, "repo_branch").trim();
			if (val(form, "repo_secret"))
				body.repository.secret = val(form, "repo_secret");
		}
		const chosenSecrets = secretNames.filter((n) => val(form, `secret:${n}`));
		if (chosenSecrets.length)
			body.secrets = chosenSecrets;
		if (!body.name) {
			formError(form, new api.ApiError(400, { title: "The workspace needs a name",
				detail: "name is required" }));
			return;
		}
		submit.disabled = true;
		submit.setAttribute("aria-busy", "true");
		try {
			const ws = await api.post("/workspaces", body, { idempotencyKey: newKey() });
			notify(`Workspace ${ws.name} created${body.start ? ": starting" : ""}`);
			ctx.go(`#/workspaces/${ws.id}`);
		} catch (err) {
			formError(form, err);
		} finally {
			submit.disabled = false;
			submit.removeAttribute("aria-busy");
		}
	});
}

function paramField(d) {
	const name = `param:${d.name}`;
	const hint = [d.description, d.type === "number" && (d.min !== undefined || d.max !== undefined)
		? `Between ${d.min ?? "−∞"} and ${d.max ?? "∞"}.` : null,
	d.mutable === false ? "Cannot be changed later." : null].filter(Boolean).join(" ") || null;
	if (d.type === "bool")
		return field({ type: "checkbox", name, label: d.name, value: d.default === true, hint });
	if (Array.isArray(d.options) && d.options.length)
		return field({ type: "select", name, label: d.name, required: d.required, hint,
			value: d.default ?? "", options: [...(d.required ? [] : [["", "—"]]), ...d.options.map((o) => [o, o])] });
	return field({
		name, label: d.name, required: d.required, hint, value: d.default ?? "",
		type: d.type === "number" ? "number" : "text", min: d.min, max: d.max, step: d.type === "number" ? "any" : null,
		spellcheck: false,
	});
}
