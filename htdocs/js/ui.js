// DOM helpers and the small components every page uses.  Text always goes
// in as text nodes: nothing from the API is ever parsed as HTML, and no
// element gets a style attribute (the pages run under
// Content-Security-Policy: default-src 'self').

import { ApiError } from "./api.js";

// h("button.btn.primary", {type: "submit", onclick: fn}, "Save")
export function h(spec, attrs, ...children) {
	const m = /^([a-z0-9]+)?((?:[.#][\w-]+)*)$/i.exec(spec);
	const el = document.createElement((m && m[1]) || "div");
	if (m && m[2])
		for (const part of m[2].match(/[.#][\w-]+/g)) {
			if (part[0] === ".")
				el.classList.add(part.slice(1));
			else
				el.id = part.slice(1);
		}
	if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
		children.unshift(attrs);
		attrs = null;
	}
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false)
			continue;
		if (k.startsWith("on") && typeof v === "function")
			el.addEventListener(k.slice(2), v);
		else if (k === "class")
			el.className = [el.className, v].filter(Boolean).join(" ");
		else if (k === "dataset")
			Object.assign(el.dataset, v);
		else if (k === "value" || k === "checked" || k === "selected")
			el[k] = v;
		else if (k === "style")
			throw new Error("no style attributes under the CSP: use a class");
		else
			el.setAttribute(k, v === true ? "" : String(v));
	}
	append(el, children);
	return el;
}

export function append(el, children) {
	for (const c of children.flat(Infinity)) {
		if (c === null || c === undefined || c === false)
			continue;
		el.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
	return el;
}

export function clear(el) {
	while (el.firstChild)
		el.firstChild.remove();
	return el;
}

export function replace(el, ...children) {
	clear(el);
	return append(el, children);
}

let uid = 0;
export function uniqueId(prefix = "f") {
	uid += 1;
	return `${prefix}-${uid}`;
}

// ---------------------------------------------------------------- times

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const dtf = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dtfs = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

export function ago(iso) {
	if (!iso)
		return "—";
	const s = (new Date(iso).getTime() - Date.now()) / 1000;
	const a = Math.abs(s);
	if (a < 45)
		return s < 0 ? "just now" : "in a few seconds";
	if (a < 2700)
		return rtf.format(Math.round(s / 60), "minute");
	if (a < 79200)
		return rtf.format(Math.round(s / 3600), "hour");
	if (a < 30 * 86400)
		return rtf.format(Math.round(s / 86400), "day");
	return dtf.format(new Date(iso));
}

// A <time> with the relative form shown and the exact one on hover.
export function when(iso, exact = false) {
	if (!iso)
		return h("span.muted", "—");
	const d = new Date(iso);
	return h("time", { datetime: iso, title: dtfs.format(d) }, exact ? dtfs.format(d) : ago(iso));
}

export function duration(fromIso, toIso) {
	if (!fromIso || !toIso)
		return "";
	const s = (new Date(toIso) - new Date(fromIso)) / 1000;
	if (s < 1)
		return `${Math.round(s * 1000)} ms`;
	if (s < 120)
		return `${s.toFixed(1)} s`;
	return `${Math.round(s / 60)} min`;
}

export function seconds(n) {
	if (n === null || n === undefined || n === 0)
		return "none";
	if (n % 86400 === 0)
		return `${n / 86400} d`;
	if (n % 3600 === 0)
		return `${n / 3600} h`;
	if (n % 60 === 0)
		return `${n / 60} min`;
	return `${n} s`;
}

// ------------------------------------------------------------- statuses

const TRANSITIONAL = new Set(["starting", "stopping", "restarting", "updating", "deleting", "pending"]);
const STATUS_CLASS = {
	running: "ok", succeeded: "ok", starting: "busy", stopping: "busy", restarting: "busy",
	updating: "busy", deleting: "busy", pending: "busy", stopped: "idle", canceled: "idle",
	deleted: "idle", dormant: "warn", unknown: "warn", failed: "bad",
};

export function isTransitional(status) {
	return TRANSITIONAL.has(status);
}

// A workspace that never had a build has status "canceled" in the API;
// "never started" is what it is.
export function workspaceStatus(ws) {
	return ws.build_id ? ws.status : "never started";
}

export function badge(status) {
	const el = h("span.badge", status);
	setBadge(el, status);
	return el;
}

export function setBadge(el, status) {
	el.className = `badge ${STATUS_CLASS[status] || "idle"}`;
	el.textContent = status;
	return el;
}

// ---------------------------------------------------------- messages

// Problem+json, or anything thrown, as a title and a sentence.
export function explain(err) {
	if (err instanceof ApiError) {
		const p = err.problem || {};
		if (err.type === "/problems/quota-exceeded" && p.limit) {
			const n = Number(p.quota);
			const what = {
				max_workspaces: n === 1 ? "workspace" : "workspaces",
				max_running: n === 1 ? "running workspace" : "running workspaces",
				max_cpu_millis: "CPU millicores", max_memory_mb: "MB of memory",
			}[p.limit] || p.limit;
			const whose = p.scope === "organization" ? "The organization's" : "Your";
			return { title: "Quota exceeded", detail: `${whose} quota allows ${p.quota} ${what}, `
				+ `and ${p.usage} ${Number(p.usage) === 1 ? "is" : "are"} in use. Stop or delete a workspace `
				+ "first, or ask an administrator for a larger quota." };
		}
		if (err.type === "/problems/csrf")
			return { title: err.title, detail: `${err.detail ? `${err.detail}. ` : ""}`
				+ "Open Warren at its own address and sign in there." };
		if (err.status === 404 && !err.detail)
			return { title: "Not found", detail: "It does not exist, or you may not see it." };
		return { title: err.title, detail: err.detail };
	}
	return { title: "Something went wrong", detail: String((err && err.message) || err) };
}

// An alert box for an error, to put where the action was.
export function errorBox(err) {
	const { title, detail } = explain(err);
	return h("div.alert.error", { role: "alert" }, h("strong", title), detail ? h("p", detail) : null);
}

// Shows err in the form's error slot and marks the field it names.
export function formError(form, err) {
	const slot = form.querySelector(".form-error");
	for (const el of form.querySelectorAll("[aria-invalid]"))
		el.removeAttribute("aria-invalid");
	if (slot)
		replace(slot, errorBox(err));
	const field = err instanceof ApiError ? err.field : null;
	const input = field ? form.querySelector(`[name="${field}"]`) : null;
	if (input) {
		input.setAttribute("aria-invalid", "true");
		input.focus();
	} else if (slot) {
		slot.querySelector("[role=alert]")?.setAttribute("tabindex", "-1");
		slot.querySelector("[role=alert]")?.focus();
	}
}

export function clearFormError(form) {
	const slot = form.querySelector(".form-error");
	if (slot)
		clear(slot);
	for (const el of form.querySelectorAll("[aria-invalid]"))
		el.removeAttribute("aria-invalid");
}

// Polite announcements, shown as a toast at the bottom.
export function notify(message, kind = "ok") {
	const region = document.getElementById("toasts");
	if (!region)
		return;
	const t = h(`div.toast.${kind}`, message);
	region.append(t);
	setTimeout(() => t.remove(), kind === "error" ? 8000 : 4000);
}

// --------------------------------------------------------- components

export function loading(what = "Loading") {
	return h("p.loading", { role: "status" }, h("span.spinner", { "aria-hidden": "true" }), `${what}…`);
}

export function empty(title, text, action) {
	return h("div.empty", h("p.empty-title", title), text ? h("p", text) : null, action || null);
}

export function button(label, onclick, cls = "", attrs = {}) {
	return h(`button.btn${cls ? `.${cls.split(" ").join(".")}` : ""}`, { type: "button", onclick, ...attrs }, label);
}

// Runs an async action from a button: disabled and busy meanwhile, error
// shown in the slot given (or as a toast).
export async function busy(btn, fn, slot) {
	if (btn.disabled)
		return undefined;
	btn.disabled = true;
	btn.setAttribute("aria-busy", "true");
	if (slot)
		clear(slot);
	try {
		return await fn();
	} catch (err) {
		if (err && err.name === "AbortError")
			return undefined;
		if (slot)
			replace(slot, errorBox(err));
		else
			notify(`${explain(err).title}${explain(err).detail ? `: ${explain(err).detail}` : ""}`, "error");
		return undefined;
	} finally {
		btn.disabled = false;
		btn.removeAttribute("aria-busy");
	}
}

// A labelled form control.  opts: {label, name, type, value, required,
// hint, options: [[value, text]], placeholder, min, max, pattern, ...}
export function field(opts) {
	const fid = uniqueId(opts.name || "f");
	const hint = opts.hint ? h("p.hint", { id: `${fid}-hint` }, opts.hint) : null;
	const common = {
		id: fid, name: opts.name, required: opts.required, "aria-describedby": hint ? `${fid}-hint` : null,
		autocomplete: opts.autocomplete, disabled: opts.disabled, readonly: opts.readonly,
	};
	let control;
	if (opts.type === "select") {
		control = h("select", common, (opts.options || []).map(([v, t, dis]) =>
			h("option", { value: v, selected: String(v) === String(opts.value ?? ""), disabled: dis }, t)));
	} else if (opts.type === "textarea") {
		control = h("textarea", { ...common, rows: opts.rows || 4, placeholder: opts.placeholder,
			spellcheck: opts.spellcheck === undefined ? null : String(opts.spellcheck) });
		control.value = opts.value ?? "";
	} else if (opts.type === "checkbox") {
		control = h("input", { ...common, type: "checkbox", checked: !!opts.value });
		return h("div.field.check", control, h("label", { for: fid }, opts.label), hint);
	} else {
		control = h("input", {
			...common, type: opts.type || "text", value: opts.value ?? "", placeholder: opts.placeholder,
			min: opts.min, max: opts.max, step: opts.step, pattern: opts.pattern, minlength: opts.minlength,
			maxlength: opts.maxlength, inputmode: opts.inputmode, list: opts.list,
			spellcheck: opts.spellcheck === undefined ? null : String(opts.spellcheck),
			autocapitalize: opts.autocapitalize,
		});
	}
	const label = h("label", { for: fid }, opts.label, opts.required ? h("span.req", { "aria-hidden": "true" }, " *") : null);
	return h(`div.field${opts.wide ? ".wide" : ""}`, label, control, hint);
}

// The value of a named control of a form: "" when empty.
export function val(form, name) {
	const el = form.elements.namedItem(name);
	if (!el)
		return "";
	if (el.type === "checkbox")
		return el.checked;
	return el.value.trim();
}

export function intOrNull(s) {
	if (s === "" || s === null || s === undefined)
		return null;
	const n = Number(s);
	return Number.isFinite(n) ? Math.round(n) : null;
}

// A modal confirmation; resolves true when confirmed.
export function confirmDialog({ title, text, confirm = "Confirm", danger = false, typeToConfirm = null }) {
	return new Promise((resolve) => {
		const tid = uniqueId("dlg");
		let input = null;
		const ok = h(`button.btn.${danger ? "danger" : "primary"}`, { type: "submit", value: "ok" }, confirm);
		const cancel = h("button.btn", { type: "submit", value: "cancel" }, "Cancel");
		if (typeToConfirm) {
			input = h("input", { id: `${tid}-in`, autocomplete: "off", spellcheck: "false", autocapitalize: "off" });
			ok.disabled = true;
			input.addEventListener("input", () => { ok.disabled = input.value.trim() !== typeToConfirm; });
		}
		const form = h("form", { method: "dialog" },
			h("h2", { id: tid }, title),
			text ? h("p", text) : null,
			typeToConfirm ? h("div.field",
				h("label", { for: `${tid}-in` }, "Type ", h("strong", typeToConfirm), " to confirm"), input) : null,
			// The confirming button first: Enter in the text field is
			// that button (and nothing while it is disabled).
			h("div.actions", ok, cancel));
		const dlg = h("dialog", { "aria-labelledby": tid }, form);
		document.body.append(dlg);
		dlg.addEventListener("close", () => {
			resolve(dlg.returnValue === "ok");
			dlg.remove();
		});
		dlg.showModal();
		// A destructive action never sits under a stray Enter.
		(input || (danger ? cancel : ok)).focus();
	});
}

// A table that becomes a list of cards on a narrow screen: each cell
// carries its column's name (data-label, shown by the stylesheet).
export function table(columns, rows, opts = {}) {
	return h(`table.list${opts.cls ? `.${opts.cls}` : ""}`,
		opts.caption ? h("caption.visually-hidden", opts.caption) : null,
		h("thead", h("tr", columns.map((c) => h("th", { scope: "col", class: c.cls }, c.label)))),
		h("tbody", rows.map((r) => tableRow(columns, r))));
}

export function tableRow(columns, row) {
	return h("tr", columns.map((c) => {
		const v = c.cell(row);
		return h("td", { dataset: { label: c.label }, class: c.cls }, v);
	}));
}

// The page's heading, focused after navigation for screen readers.
export function pageHeader(title, ...actions) {
	return h("div.page-header", h("h1", { tabindex: "-1" }, title),
		actions.length ? h("div.page-actions", actions) : null);
}

export function section(title, ...children) {
	const hid = uniqueId("sec");
	return h("section.card", { "aria-labelledby": hid }, h("h2", { id: hid }, title), children);
}

export function copyButton(text, label = "Copy") {
	const b = button(label, async () => {
		try {
			await navigator.clipboard.writeText(text);
			notify("Copied to the clipboard");
		} catch (e) {
			notify("Could not copy: select the text and copy it by hand", "error");
		}
	}, "small");
	return b;
}

export function dl(pairs) {
	return h("dl.facts", pairs.filter(Boolean).map(([k, v]) => [h("dt", k), h("dd", v)]));
}
