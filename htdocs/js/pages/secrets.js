// Secrets: values go in, only names come back.  Yours, and those of the
// organizations you manage.

import * as api from "../api.js";
import {
	h, replace, loading, empty, when, pageHeader, button, busy, notify, field, val, formError,
	clearFormError, confirmDialog, section, uniqueId,
} from "../ui.js";

export async function page(ctx) {
	const { main, signal, me } = ctx;
	replace(main, pageHeader("Secrets"), loading("Loading secrets"));
	const [secrets, orgs] = await Promise.all([
		api.get("/secrets", { signal }).then((r) => r.items),
		api.all("/orgs", { signal }).catch(() => []),
	]);
	const orgName = new Map(orgs.map((o) => [o.id, o.display_name || o.name]));
	const manageable = orgs.filter((o) => o.my_role === "owner" || o.my_role === "admin" || me.role === "admin");

	const form = h("form.stack", { novalidate: true, autocomplete: "off" },
		h("div.form-error"),
		h("div.grid2",
			field({ label: "Name", name: "name", required: true, maxlength: 64, spellcheck: false, autocapitalize: "off",
				placeholder: "GITHUB_TOKEN", hint: "Letters, digits and _: it becomes an environment variable." }),
			manageable.length ? field({ label: "Belongs to", name: "org_id", type: "select",
				options: [["", "Me"], ...manageable.map((o) => [o.id, o.display_name || o.name])] }) : null),
		field({ label: "Value", name: "value", type: "textarea", rows: 3, spellcheck: false, autocomplete: "off",
			hint: "Stored encrypted. Nobody can read it back here, you included." }),
		h("div.form-actions", h("button.btn.primary", { type: "submit" }, "Save secret")));
	form.addEventListener("submit", async (e) => {
		e.preventDefault();
		clearFormError(form);
		const body = { name: val(form, "name"), value: form.elements.namedItem("value").value };
		if (manageable.length && val(form, "org_id"))
			body.org_id = val(form, "org_id");
		const btn = form.querySelector("button[type=submit]");
		btn.disabled = true;
		try {
			await api.post("/secrets", body);
			notify(`Secret ${body.name} saved`);
			await page(ctx);
		} catch (err) {
			formError(form, err);
		} finally {
			btn.disabled = false;
		}
	});

	const rows = secrets.map((s) => {
		const slot = h("div.inline-error");
		const vid = uniqueId("val");
		const replaceForm = h("form.inline-form", { novalidate: true, autocomplete: "off" },
			h("label", { for: vid }, `New value for ${s.name}`),
			h("input", { id: vid, name: "value", type: "password", autocomplete: "new-password" }),
			h("button.btn.small", { type: "submit" }, "Replace"));
		replaceForm.addEventListener("submit", async (e) => {
			e.preventDefault();
			try {
				await api.put(`/secrets/${api.id(s.id)}`, { value: replaceForm.elements.namedItem("value").value });
				notify(`${s.name} replaced`);
				await page(ctx);
			} catch (err) {
				formError(replaceForm, err);
			}
		});
		replaceForm.append(h("div.form-error"));
		const del = button("Delete", () => busy(del, async () => {
			if (!await confirmDialog({ title: `Delete the secret ${s.name}?`,
				text: "Workspaces that use it no longer get it at their next start.", confirm: "Delete", danger: true }))
				return;
			await api.del(`/secrets/${api.id(s.id)}`);
			notify(`${s.name} deleted`);
			await page(ctx);
		}, slot), "small danger", { "aria-label": `Delete ${s.name}` });
		return h("li.secret",
			h("div.secret-head",
				h("span.mono.strong", s.name),
				h("span.sub", s.scope === "org" ? `organization: ${orgName.get(s.owner_id) || s.owner_id}` : "yours"),
				h("span.sub", "updated ", when(s.updated_at)),
				h("span.grow"),
				del),
			h("details", h("summary", "Replace the value"), replaceForm),
			slot);
	});

	replace(main, pageHeader("Secrets"),
		section("Add a secret", form),
		section("Saved secrets", secrets.length ? h("ul.secrets", rows)
			: empty("No secrets yet", "Secrets reach workspaces as environment variables, chosen when a workspace is made.")));
}
