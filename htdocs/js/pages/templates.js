// Templates and their versions.  Everyone reads them; template admins
// create templates and versions, activate a version and archive.

import * as api from "../api.js";
import {
	h, replace, loading, empty, when, pageHeader, button, busy, notify, field, val, intOrNull,
	formError, clearFormError, confirmDialog, dl, seconds, badge,
} from "../ui.js";
import { templateName, resources, shareLabel, SHARE_LEVELS } from "./common.js";

const ADMINS = ["admin", "template-admin"];
const CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
	"NET_BIND_SERVICE", "NET_RAW", "SYS_CHROOT", "AUDIT_WRITE", "MKNOD", "SETFCAP", "SYS_PTRACE"];

// ------------------------------------------------------------ the list

export async function list(ctx) {
	const { main, signal } = ctx;
	const admin = ctx.can(ADMINS);
	const archived = ctx.query.get("archived") === "true";
	const header = pageHeader("Templates",
		admin ? h("a.btn.primary", { href: "#/templates/new" }, "New template") : null);
	const filter = h("div.segmented", { role: "group", "aria-label": "Show" },
		h("a.seg", { href: "#/templates", "aria-current": archived ? null : "page" }, "In use"),
		h("a.seg", { href: "#/templates?archived=true", "aria-current": archived ? "page" : null }, "With archived"));
	replace(main, header, filter, loading("Loading templates"));
	const items = await api.all(`/templates${archived ? "?archived=true" : ""}`, { signal });
	if (items.length === 0) {
		replace(main, header, filter, empty("No templates yet",
			"A template says what a workspace runs: an image, its ports, resources and schedule.",
			admin ? h("a.btn.primary", { href: "#/templates/new" }, "Create a template") : null));
		return;
	}
	replace(main, header, filter, h("ul.cards", items.map((t) => h("li.card.tpl-card",
		h("h2.h3", h("a", { href: `#/templates/${t.id}` }, templateName(t))),
		h("p.mono.sub", t.name),
		t.description ? h("p", t.description) : null,
		h("p.meta",
			t.archived_at ? badge("archived") : t.active_version ? h("span.pill", `version ${t.active_version} active`)
				: h("span.pill", "no active version"),
			" updated ", when(t.updated_at)),
		!t.archived_at && t.active_version
			? h("a.btn.small", { href: `#/workspaces/new?template=${t.id}` }, "New workspace") : null))));
}

// --------------------------------------------------------- the details

export async function detail(ctx) {
	const { main, signal } = ctx;
	const admin = ctx.can(ADMINS);
	const tid = ctx.params.id;
	const render = async () => {
		const [t, vs] = await Promise.all([
			api.get(`/templates/${api.id(tid)}`, { signal }),
			api.get(`/templates/${api.id(tid)}/versions`, { signal }),
		]);
		ctx.setTitle(templateName(t));
		const actionSlot = h("div.form-error");
		const actions = [];
		if (!t.archived_at && t.active_version)
			actions.push(h("a.btn.primary", { href: `#/workspaces/new?template=${t.id}` }, "New workspace"));
		if (admin && !t.archived_at)
			actions.push(h("a.btn", { href: `#/templates/${t.id}/versions/new` }, "New version"));
		if (admin) {
			const arch = button(t.archived_at ? "Unarchive" : "Archive", () => busy(arch, async () => {
				if (!t.archived_at) {
					const ok = await confirmDialog({ title: `Archive ${templateName(t)}?`,
						text: "No new workspace can be made from it; existing workspaces keep running.",
						confirm: "Archive", danger: true });
					if (!ok)
						return;
					await api.del(`/templates/${api.id(t.id)}`);
				} else {
					await api.patch(`/templates/${api.id(t.id)}`, { archived: false });
				}
				notify(t.archived_at ? "Template unarchived" : "Template archived");
				await render();
			}, actionSlot), t.archived_at ? "" : "danger");
			actions.push(arch);
		}
		const editForm = admin ? detailsForm(t, render) : null;
		replace(main,
			h("p.crumbs", h("a", { href: "#/templates" }, "Templates"), " / "),
			h("div.page-header", h("div.title-line", h("h1", { tabindex: "-1" }, templateName(t)),
				t.archived_at ? badge("archived") : null), h("div.page-actions", actions)),
			actionSlot,
			h("section.card", { "aria-labelledby": "tpl-about" }, h("h2", { id: "tpl-about" }, "About"),
				dl([["Name", h("span.mono", t.name)], ["Description", t.description || "—"],
					["Active version", t.active_version ? String(t.active_version) : "none"],
					["Created", when(t.created_at)], ["Updated", when(t.updated_at)],
					t.archived_at ? ["Archived", when(t.archived_at)] : null]),
				editForm),
			h("section.card", { "aria-labelledby": "tpl-versions" }, h("h2", { id: "tpl-versions" }, "Versions"),
				vs.items.length === 0 ? h("p.muted", "No versions.") : h("ul.versions",
					vs.items.map((v) => versionItem(t, v, admin && !t.archived_at, render)))));
	};
	replace(main, pageHeader("Template"), loading());
	await render();
}

function detailsForm(t, after) {
	const form = h("form.stack", { novalidate: true },
		h("div.form-error"),
		field({ label: "Display name", name: "display_name", value: t.display_name, maxlength: 200 }),
		field({ label: "Description", name: "description", type: "textarea", rows: 2, value: t.description }),
		h("div.form-actions", h("button.btn", { type: "submit" }, "Save details")));
	form.addEventListener("submit", async (e) => {
		e.preventDefault();
		clearFormError(form);
		try {
			await api.patch(`/templates/${api.id(t.id)}`, {
				display_name: val(form, "display_name"), description: val(form, "description") });
			notify("Template saved");
			await after();
		} catch (err) {
			formError(form, err);
		}
	});
	return h("details.edit", h("summary", "Edit name and description"), form);
}

function versionItem(t, v, admin, after) {
	const slot = h("div.inline-error");
	const act = admin && !v.active ? button("Activate", () => busy(act, async () => {
		await api.patch(`/templates/${api.id(t.id)}`, { active_version: v.number });
		notify(`Version ${v.number} is now active`);
		await after();
	}, slot), "small", { "aria-label": `Activate version ${v.number}` }) : null;
	const facts = dl([
		["Image", h("span.mono", v.image)],
		v.command && v.command.length ? ["Command", h("span.mono", v.command.join(" "))] : null,
		v.args && v.args.length ? ["Arguments", h("span.mono", v.args.join(" "))] : null,
		["Resources", `${resources(v)} · ${v.pids} processes`],
		["Ports", v.ports.length ? v.ports.map((p) => `${p.port}${p.name ? ` (${p.name})` : ""}`).join(", ") : "none"],
		["Home", h("span.mono", `${v.home_path} · uid ${v.uid}:${v.gid}`)],
		["Probe", v.probe ? `${v.probe.type} :${v.probe.port}${v.probe.path || ""} within ${v.probe.timeout} s` : "—"],
		["Idle timeout", seconds(v.idle_timeout)],
		["Longest run", seconds(v.max_lifetime)],
		["Sharing up to", shareLabel(v.max_share_level)],
		Object.keys(v.env || {}).length ? ["Environment", h("span.mono", Object.keys(v.env).join(", "))] : null,
		v.parameters && v.parameters.length ? ["Parameters", v.parameters.map((p) => p.name).join(", ")] : null,
		v.secrets && v.secrets.length ? ["Secrets", v.secrets.join(", ")] : null,
		v.capabilities && v.capabilities.length ? ["Capabilities", v.capabilities.join(", ")] : null,
		["Restart policy", v.restart_policy],
	]);
	return h("li.version",
		h("div.version-head",
			h("h3", `Version ${v.number}`),
			v.active ? h("span.badge.ok", "active") : null,
			h("span.sub", "created ", when(v.created_at)),
			h("span.grow"),
			act),
		slot,
		h("details", h("summary", `${v.image} · ${resources(v)}`), facts));
}

// ------------------------------------------------------ version form

// The form for a version; returns {el, read()}: read() gives the JSON
// body or throws an ApiError-like {field, message}.
function versionForm(v) {
	v = v || {};
	const portRows = h("div.port-rows");
	const addPort = (p = {}) => {
		const row = h("div.port-row",
			field({ label: "Port", name: "port_number", type: "number", min: 1, max: 65535, value: p.port ?? "", inputmode: "numeric" }),
			field({ label: "Name", name: "port_name", value: p.name ?? "", maxlength: 64 }),
			field({ label: "Protocol", name: "port_protocol", type: "select", value: p.protocol || "http",
				options: [["http", "HTTP"], ["tcp", "TCP"]] }));
		row.append(button("Remove", () => row.remove(), "small quiet", { "aria-label": "Remove this port" }));
		portRows.append(row);
	};
	for (const p of v.ports || [])
		addPort(p);
	const envText = Object.entries(v.env || {}).map(([k, x]) => `${k}=${x}`).join("\n");
	const probe = v.probe || {};
	const el = h("div.stack",
		h("fieldset.card",
			h("legend", "Image and command"),
			field({ label: "Image", name: "image", required: true, value: v.image ?? "", spellcheck: false,
				autocapitalize: "off", placeholder: "registry.example/team/image:tag",
				hint: "A Docker image reference; the Docker host must have it or reach its registry." }),
			h("div.grid2",
				field({ label: "Command", name: "command", type: "textarea", rows: 2, spellcheck: false,
					value: (v.command || []).join("\n"), hint: "One argument per line. Empty: the image's own." }),
				field({ label: "Arguments", name: "args", type: "textarea", rows: 2, spellcheck: false,
					value: (v.args || []).join("\n"), hint: "One per line." })),
			field({ label: "Environment", name: "env", type: "textarea", rows: 3, spellcheck: false, value: envText,
				hint: "NAME=value, one per line." })),
		h("fieldset.card",
			h("legend", "Ports"),
			h("p.hint", "The first port is the workspace's main address; each can be shared."),
			portRows,
			button("Add a port", () => addPort(), "small")),
		h("fieldset.card",
			h("legend", "Resources and user"),
			h("div.grid3",
				field({ label: "CPU (millicores)", name: "cpu_millis", type: "number", min: 10, value: v.cpu_millis ?? 1000,
					inputmode: "numeric", hint: "1000 = one core." }),
				field({ label: "Memory (MB)", name: "memory_mb", type: "number", min: 16, value: v.memory_mb ?? 1024,
					inputmode: "numeric" }),
				field({ label: "Processes", name: "pids", type: "number", min: 16, value: v.pids ?? 512, inputmode: "numeric" }),
				field({ label: "Home directory", name: "home_path", value: v.home_path ?? "/home/coder", spellcheck: false,
					hint: "Kept across restarts and updates." }),
				field({ label: "User id", name: "uid", type: "number", min: 1, value: v.uid ?? 1000, inputmode: "numeric" }),
				field({ label: "Group id", name: "gid", type: "number", min: 1, value: v.gid ?? 1000, inputmode: "numeric" }))),
		h("fieldset.card",
			h("legend", "Readiness probe"),
			h("div.grid3",
				field({ label: "Type", name: "probe_type", type: "select", value: probe.type || "http",
					options: [["http", "HTTP"], ["tcp", "TCP"]] }),
				field({ label: "Port", name: "probe_port", type: "number", min: 1, max: 65535, value: probe.port ?? "",
					inputmode: "numeric", hint: "Empty: the first port." }),
				field({ label: "Path", name: "probe_path", value: probe.path ?? "/", spellcheck: false, hint: "HTTP only." }),
				field({ label: "Timeout (seconds)", name: "probe_timeout", type: "number", min: 1, max: 3600,
					value: probe.timeout ?? 60, inputmode: "numeric" }))),
		h("fieldset.card",
			h("legend", "Schedule and sharing"),
			h("div.grid3",
				field({ label: "Idle timeout (minutes)", name: "idle_minutes", type: "number", min: 1, inputmode: "numeric",
					value: v.idle_timeout ? Math.round(v.idle_timeout / 60) : "", hint: "Empty: never stops for idling." }),
				field({ label: "Longest run (hours)", name: "lifetime_hours", type: "number", min: 1, inputmode: "numeric",
					value: v.max_lifetime ? Math.round(v.max_lifetime / 3600) : "", hint: "Empty: no limit." }),
				field({ label: "Sharing allowed up to", name: "max_share_level", type: "select",
					value: v.max_share_level || "owner", options: SHARE_LEVELS }),
				field({ label: "When the container exits", name: "restart_policy", type: "select",
					value: v.restart_policy || "restart", options: [["restart", "Restart it"], ["fail", "Mark it failed"]] }))),
		h("fieldset.card",
			h("legend", "Parameters, secrets and capabilities"),
			field({ label: "Parameters (JSON)", name: "parameters", type: "textarea", rows: 5, spellcheck: false, wide: true,
				value: v.parameters && v.parameters.length ? JSON.stringify(v.parameters, null, 2) : "",
				placeholder: '[{"name": "REPO", "type": "string", "default": "", "description": "Git repository"}]',
				hint: "An array of {name, type: string|number|bool, default, description, required, mutable, "
					+ "options, pattern, min, max}. Values reach the workspace as environment variables." }),
			field({ label: "Secrets it asks for", name: "secrets", value: (v.secrets || []).join(", "), spellcheck: false,
				hint: "Names, separated by commas: checked for the user when a workspace is created." }),
			h("fieldset.caps", h("legend", "Linux capabilities to keep"),
				h("div.caps-grid", CAPABILITIES.map((c) => field({ type: "checkbox", name: `cap:${c}`, label: c,
					value: (v.capabilities || []).includes(c) }))))));

	function read(form) {
		const lines = (s) => s.split("\n").map((x) => x.trim()).filter(Boolean);
		const num = (name) => intOrNull(val(form, name));
		const body = { image: val(form, "image") };
		const cmd = lines(form.elements.namedItem("command").value);
		const args = lines(form.elements.namedItem("args").value);
		if (cmd.length)
			body.command = cmd;
		if (args.length)
			body.args = args;
		const env = {};
		for (const line of lines(form.elements.namedItem("env").value)) {
			const i = line.indexOf("=");
			if (i < 1)
				throw bad(`env line "${line}" is not NAME=value`);
			env[line.slice(0, i).trim()] = line.slice(i + 1);
		}
		body.env = env;
		body.ports = [...portRows.querySelectorAll(".port-row")].map((row) => {
			const p = { port: intOrNull(row.querySelector("[name=port_number]").value),
				protocol: row.querySelector("[name=port_protocol]").value };
			const n = row.querySelector("[name=port_name]").value.trim();
			if (n)
				p.name = n;
			return p;
		}).filter((p) => p.port !== null);
		for (const k of ["cpu_millis", "memory_mb", "pids", "uid", "gid"])
			if (num(k) !== null)
				body[k] = num(k);
		if (val(form, "home_path"))
			body.home_path = val(form, "home_path");
		body.probe = { type: val(form, "probe_type") };
		if (num("probe_port") !== null)
			body.probe.port = num("probe_port");
		if (body.probe.type === "http" && val(form, "probe_path"))
			body.probe.path = val(form, "probe_path");
		if (num("probe_timeout") !== null)
			body.probe.timeout = num("probe_timeout");
		if (num("idle_minutes"))
			body.idle_timeout = num("idle_minutes") * 60;
		if (num("lifetime_hours"))
			body.max_lifetime = num("lifetime_hours") * 3600;
		body.max_share_level = val(form, "max_share_level");
		body.restart_policy = val(form, "restart_policy");
		const ptext = form.elements.namedItem("parameters").value.trim();
		if (ptext) {
			try {
				body.parameters = JSON.parse(ptext);
			} catch (e) {
				throw bad(`parameters is not valid JSON: ${e.message}`);
			}
		}
		const secrets = val(form, "secrets").split(/[\s,]+/).filter(Boolean);
		if (secrets.length)
			body.secrets = secrets;
		const caps = CAPABILITIES.filter((c) => val(form, `cap:${c}`));
		if (caps.length)
			body.capabilities = caps;
		return body;
	}
	return { el, read };
}

function bad(detail) {
	return new api.ApiError(400, { title: "The request has an invalid field", detail,
		type: "/problems/invalid-input" });
}

// ------------------------------------------------------- new template

export async function create(ctx) {
	const { main } = ctx;
	const vf = versionForm({ image: "", ports: [{ port: 8080, name: "web", protocol: "http" }] });
	const submit = h("button.btn.primary", { type: "submit" }, "Create template");
	const form = h("form.stack", { novalidate: true },
		h("div.form-error"),
		h("fieldset.card",
			h("legend", "Template"),
			h("div.grid2",
				field({ label: "Name", name: "name", required: true, maxlength: 32, spellcheck: false, autocapitalize: "off",
					placeholder: "python-dev", hint: "Lower-case letters, digits and '-'; it never changes." }),
				field({ label: "Display name", name: "display_name", maxlength: 200, placeholder: "Python development" })),
			field({ label: "Description", name: "description", type: "textarea", rows: 2 })),
		h("h2", "First version"),
		vf.el,
		h("div.form-actions", submit, h("a.btn", { href: "#/templates" }, "Cancel")));
	replace(main, h("p.crumbs", h("a", { href: "#/templates" }, "Templates"), " / "), pageHeader("New template"), form);
	form.addEventListener("submit", async (e) => {
		e.preventDefault();
		clearFormError(form);
		submit.disabled = true;
		try {
			const body = { name: val(form, "name"), version: vf.read(form) };
			if (val(form, "display_name"))
				body.display_name = val(form, "display_name");
			if (val(form, "description"))
				body.description = val(form, "description");
			const t = await api.post("/templates", body);
			notify(`Template ${t.name} created with version 1 active`);
			ctx.go(`#/templates/${t.id}`);
		} catch (err) {
			formError(form, err);
		} finally {
			submit.disabled = false;
		}
	});
}

// --------------------------------------------------------- new version

export async function newVersion(ctx) {
	const { main, signal } = ctx;
	const tid = ctx.params.id;
	replace(main, pageHeader("New version"), loading());
	const t = await api.get(`/templates/${api.id(tid)}`, { signal });
	const vs = await api.get(`/templates/${api.id(tid)}/versions`, { signal });
	const base = t.active || vs.items[0] || null;
	const vf = versionForm(base);
	const submit = h("button.btn.primary", { type: "submit" }, "Create version");
	const form = h("form.stack", { novalidate: true },
		h("div.form-error"),
		base ? h("p.hint", `Filled in from version ${base.number}; versions never change once made.`) : null,
		vf.el,
		h("div.card", field({ type: "checkbox", name: "activate", label: "Make it the active version", value: true,
			hint: "New workspaces use the active version; existing ones can update to it." })),
		h("div.form-actions", submit, h("a.btn", { href: `#/templates/${t.id}` }, "Cancel")));
	ctx.setTitle(`New version of ${templateName(t)}`);
	replace(main,
		h("p.crumbs", h("a", { href: "#/templates" }, "Templates"), " / ",
			h("a", { href: `#/templates/${t.id}` }, templateName(t)), " / "),
		pageHeader(`New version of ${templateName(t)}`), form);
	form.addEventListener("submit", async (e) => {
		e.preventDefault();
		clearFormError(form);
		submit.disabled = true;
		try {
			const body = vf.read(form);
			body.activate = val(form, "activate");
			const v = await api.post(`/templates/${api.id(t.id)}/versions`, body);
			notify(`Version ${v.number} created${body.activate ? " and active" : ""}`);
			ctx.go(`#/templates/${t.id}`);
		} catch (err) {
			formError(form, err);
		} finally {
			submit.disabled = false;
		}
	});
}
