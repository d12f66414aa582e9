// The quota form for a user or an organization (admins only).

import * as api from "../api.js";
import { h, replace, loading, field, intOrNull, val, notify, formError, clearFormError, errorBox } from "../ui.js";

const LIMITS = [
	["max_workspaces", "Workspaces", "How many it may have."],
	["max_running", "Running at once", null],
	["max_cpu_millis", "CPU of running ones (millicores)", "1000 = one core."],
	["max_memory_mb", "Memory of running ones (MB)", null],
];

// scope: "users" or "orgs"
export function quotaForm(scope, subjectId, signal) {
	const box = h("div.quota", loading("Loading the quota"));
	(async () => {
		let q;
		try {
			q = await api.get(`/quotas/${scope}/${api.id(subjectId)}`, { signal });
		} catch (err) {
			replace(box, errorBox(err));
			return;
		}
		const form = h("form.stack", { novalidate: true, "aria-label": "Quota" },
			h("div.form-error"),
			h("div.grid2", LIMITS.map(([k, label, hint]) => field({
				label, name: k, type: "number", min: 0, inputmode: "numeric", value: q[k] ?? "",
				hint: [hint, "Empty: no limit."].filter(Boolean).join(" "),
			}))),
			h("div.form-actions", h("button.btn", { type: "submit" }, "Save quota")));
		form.addEventListener("submit", async (e) => {
			e.preventDefault();
			clearFormError(form);
			const body = {};
			for (const [k] of LIMITS)
				body[k] = intOrNull(val(form, k));
			const btn = form.querySelector("button[type=submit]");
			btn.disabled = true;
			try {
				await api.put(`/quotas/${scope}/${api.id(subjectId)}`, body);
				notify("Quota saved");
			} catch (err) {
				formError(form, err);
			} finally {
				btn.disabled = false;
			}
		});
		replace(box, form);
	})();
	return box;
}
