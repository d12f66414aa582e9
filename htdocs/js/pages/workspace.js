// One workspace: live status, actions, ports and sharing, schedule, build
// history and the log of a build, followed while it runs.

import * as api from "../api.js";
import {
	h, replace, clear, loading, errorBox, badge, setBadge, when, button, busy, notify, field, val,
	intOrNull, formError, clearFormError, isTransitional, workspaceStatus, confirmDialog, dl, seconds,
	duration, uniqueId, explain,
} from "../ui.js";
import { poll, openHref, portUrl, SHARE_LEVELS, shareRank, shareLabel, templateName, resources, newKey } from "./common.js";

const TRANSITION_VERB = { start: "Starting", stop: "Stopping", restart: "Restarting", update: "Updating", delete: "Deleting" };

export async function detail(ctx) {
	const { main, signal, me } = ctx;
	const wid = ctx.params.id;
	let ws = await api.get(`/workspaces/${api.id(wid)}`, { signal });
	ctx.setTitle(ws.name);
	let template = await api.get(`/templates/${api.id(ws.template_id)}`, { signal }).catch(() => null);
	const versions = new Map();
	const versionOf = async (n) => {
		if (!versions.has(n))
			versions.set(n, await api.get(`/templates/${api.id(ws.template_id)}/versions/${n}`, { signal })
				.catch(() => null));
		return versions.get(n);
	};
	let version = await versionOf(ws.template_version);
	const ownerUser = ws.owner_id === me.id ? null
		: await api.get(`/users/${api.id(ws.owner_id)}`, { signal }).catch(() => null);
	const org = ws.org_id ? await api.get(`/orgs/${api.id(ws.org_id)}`, { signal }).catch(() => null) : null;
	const owner = ws.owner_id === me.id;
	const mine = owner || me.role === "admin";

	// ------------------------------------------------------------ layout
	const title = h("h1", { tabindex: "-1" }, ws.name);
	const statusBadge = badge(workspaceStatus(ws));
	const actions = h("div.page-actions");
	const banner = h("div.banner-slot", { "aria-live": "polite" });
	const actionError = h("div.form-error");
	const facts = h("div");
	const portsBox = h("div");
	const scheduleBox = h("div");
	const buildsBox = h("div", loading("Loading builds"));
	const logBox = h("div.log-panel");
	const paramsBox = h("div");
	const sec = (t, ...c) => {
		const id = uniqueId("sec");
		return h("section.card", { "aria-labelledby": id }, h("h2", { id }, t), ...c);
	};
	replace(main,
		h("p.crumbs", h("a", { href: "#/workspaces" }, "Workspaces"), " / "),
		h("div.page-header", h("div.title-line", title, statusBadge), actions),
		banner, actionError,
		h("div.ws-grid",
			sec("Overview", facts),
			sec("Ports and sharing", portsBox),
			sec("Schedule", scheduleBox),
			sec("Parameters", paramsBox),
			h("section.card.span2", { "aria-labelledby": "builds-h" },
				h("h2", { id: "builds-h" }, "Builds"), buildsBox, logBox)));

	// ----------------------------------------------------------- actions
	async function transition(kind, extra = {}) {
		const b = await api.post(`/workspaces/${api.id(ws.id)}/builds`, { transition: kind, ...extra },
			{ idempotencyKey: newKey() });
		notify(`${TRANSITION_VERB[kind] || kind} ${ws.name}`);
		followBuild = b.id;
		await refresh();
	}

	function actionButtons() {
		const st = workspaceStatus(ws);
		const busyNow = isTransitional(st);
		const out = [];
		const act = (label, fn, cls = "", key = label) => {
			const b = button(label, () => busy(b, fn, actionError), cls, { dataset: { key } });
			if (busyNow || !mine)
				b.disabled = true;
			return b;
		};
		if (st === "running" && owner)
			out.push(h("a.btn.primary", { href: openHref(ws), target: "_blank", rel: "noopener", dataset: { key: "open" } },
				"Open workspace", h("span.visually-hidden", " (new tab)")));
		if (st === "running") {
			out.push(act("Stop", () => transition("stop")));
			out.push(act("Restart", () => transition("restart")));
		} else if (st !== "deleted") {
			out.push(act("Start", () => transition("start"), st === "running" ? "" : "primary"));
		}
		const active = template && template.active_version;
		if (active && active !== ws.template_version)
			out.push(act(`Update to version ${active}`, async () => {
				const ok = await confirmDialog({
					title: `Update ${ws.name} to version ${active}?`,
					text: `The workspace is rebuilt from version ${active} of ${templateName(template)}; `
						+ "its home directory is kept. A running workspace restarts.",
					confirm: "Update",
				});
				if (ok)
					await transition("update", { template_version: active });
			}, "", "update"));
		out.push(act("Delete", async () => {
			const ok = await confirmDialog({
				title: `Delete ${ws.name}?`,
				text: "The container and its home directory are removed for good. This cannot be undone.",
				confirm: "Delete workspace", danger: true, typeToConfirm: ws.name,
			});
			if (!ok)
				return;
			await api.del(`/workspaces/${api.id(ws.id)}`);
			notify(`Deleting ${ws.name}`);
			deleting = true;
			await refresh();
		}, "danger", "delete"));
		return out;
	}

	// ------------------------------------------------------------ render
	let templateAt = Date.now();
	let lastBuild = null;
	let followBuild = null;
	let deleting = false;
	const keys = {};

	function keyed(name, key, el, render) {
		if (keys[name] === key)
			return;
		keys[name] = key;
		const focused = el.contains(document.activeElement) ? document.activeElement : null;
		const fk = focused && (focused.dataset.key || focused.name || focused.id);
		render();
		if (focused) {
			const again = fk && (el.querySelector(`[data-key="${CSS.escape(fk)}"]`)
				|| el.querySelector(`[name="${CSS.escape(fk)}"]`));
			(again && !again.disabled ? again : title).focus();
		}
	}

	function renderAll() {
		const st = workspaceStatus(ws);
		setBadge(statusBadge, st);
		const k = `${st}|${template && template.active_version}|${ws.template_version}`;
		keyed("actions", k, actions, () => replace(actions, actionButtons()));
		keyed("banner", `${st}|${ws.build_id}|${ws.build_status}|${ws.status_reason}`, banner, () => {
			if (st === "unknown")
				replace(banner, h("div.alert.warn", h("strong", "Its state is unknown for now."),
					h("p", `${ws.status_reason || "Its Docker host does not answer"}: Warren starts it again `
						+ "as soon as the host is back.")));
			else if (isTransitional(st) && ws.status_reason)
				replace(banner, h("div.alert.warn", h("span.spinner", { "aria-hidden": "true" }),
					`Waiting: ${ws.status_reason}. It goes on as soon as the host is back.`));
			else if (isTransitional(st))
				replace(banner, h("div.alert.info", h("span.spinner", { "aria-hidden": "true" }),
					`${TRANSITION_VERB[ws.build_transition] || "Working"}… the log below follows the build.`));
			else if (st === "failed")
				replace(banner, h("div.alert.error", h("strong", `The last ${ws.build_transition} failed.`),
					h("p", "The build log below says why. Start the workspace again once it is fixed.")));
			else
				clear(banner);
		});
		keyed("facts", JSON.stringify([ws.status, ws.started_at, ws.stopped_at, ws.last_activity_at, ws.deadline,
			ws.max_deadline, ws.template_version, template && template.active_version, ws.dormant_at,
			Math.floor(Date.now() / 60000)]), facts, () => replace(facts, overview()));
		keyed("ports", JSON.stringify([st, ws.shared_ports, ws.template_version]), portsBox,
			() => replace(portsBox, ports()));
		keyed("schedule", JSON.stringify([ws.autostop_ttl, ws.idle_timeout, ws.deadline, st]), scheduleBox,
			() => replace(scheduleBox, schedule()));
		keyed("params", JSON.stringify(ws.parameters), paramsBox, () => replace(paramsBox, parameters()));
	}

	function overview() {
		const st = workspaceStatus(ws);
		const active = template && template.active_version;
		return dl([
			["Address", st === "running" && owner
				? h("a.mono", { href: openHref(ws), target: "_blank", rel: "noopener" }, ws.url.replace(/^https?:\/\//, ""))
				: h("span.mono", ws.url.replace(/^https?:\/\//, ""))],
			["Template", h("span", h("a", { href: `#/templates/${ws.template_id}` }, templateName(template)),
				` · version ${ws.template_version}`,
				active && active !== ws.template_version ? h("span.pill", `v${active} available`) : null)],
			version ? ["Resources", `${resources(version)} · ${version.image}`] : null,
			ws.starter || ws.repository ? ["Project", h("span",
				ws.starter ? `starter ${ws.starter}` : null,
				ws.starter && ws.repository ? " · " : null,
				ws.repository ? h("span.mono", ws.repository.url
					+ (ws.repository.branch ? ` (${ws.repository.branch})` : "")
					+ ` → ~/${ws.repository.directory}`) : null,
				ws.initialized_at ? [" · set up ", when(ws.initialized_at)] : " · set up at the first start")] : null,
			!owner ? ["Owner", ownerUser ? (ownerUser.display_name || ownerUser.username) : ws.owner_id] : null,
			ws.org_id ? ["Organization", org ? (org.display_name || org.name) : ws.org_id] : null,
			["Created", when(ws.created_at)],
			ws.started_at ? ["Started", when(ws.started_at)] : null,
			ws.stopped_at && st !== "running" ? ["Stopped", when(ws.stopped_at)] : null,
			["Last used", ws.last_activity_at ? h("span", when(ws.last_activity_at),
				ws.last_activity_cause ? ` (${ws.last_activity_cause})` : "") : "never"],
			ws.deadline && st === "running" ? ["Stops automatically", when(ws.deadline)] : null,
			ws.max_deadline && st === "running" ? ["Stops at the latest", when(ws.max_deadline)] : null,
			ws.dormant_at ? ["Dormant since", when(ws.dormant_at)] : null,
			ws.dormant_at_after ? ["Goes dormant", when(ws.dormant_at_after)] : null,
			ws.delete_at_after ? ["Deleted after", when(ws.delete_at_after)] : null,
		]);
	}

	function ports() {
		const list = (version && version.ports) || [];
		if (list.length === 0)
			return h("p.muted", "This template publishes no ports.");
		const max = version.max_share_level || "owner";
		const shared = new Map((ws.shared_ports || []).map((p) => [p.port, p.level]));
		const running = workspaceStatus(ws) === "running";
		const note = h("p.hint", `The template allows sharing up to: ${shareLabel(max).toLowerCase()}.`);
		const items = list.map((p) => {
			const level = shared.get(p.port) || "owner";
			const fid = uniqueId("share");
			const select = h("select", { id: fid, name: `share-${p.port}`, dataset: { key: `share-${p.port}` } },
				SHARE_LEVELS.map(([l, t]) => h("option", { value: l, selected: l === level,
					disabled: shareRank(l) > shareRank(max) }, t)));
			const slot = h("div.inline-error");
			const apply = button("Apply", () => busy(apply, async () => {
				const want = select.value;
				if (want === "owner") {
					if (shared.has(p.port))
						await api.del(`/workspaces/${api.id(ws.id)}/ports/${p.port}`);
				} else {
					await api.put(`/workspaces/${api.id(ws.id)}/ports/${p.port}`, { level: want });
				}
				notify(want === "owner" ? `Port ${p.port} is no longer shared` : `Port ${p.port} shared with ${shareLabel(want).toLowerCase()}`);
				await refresh();
			}, slot), "small", { dataset: { key: `apply-${p.port}` } });
			if (!mine) {
				select.disabled = true;
				apply.disabled = true;
			}
			return h("li.port",
				h("div.port-head",
					h("span.port-num.mono", String(p.port)),
					h("span", p.name || "", h("span.sub", `${p.protocol || "http"}`)),
					running && (owner || level !== "owner") && (p.protocol || "http") === "http"
						? h("a.btn.small", { href: openHref(ws, p.port), target: "_blank", rel: "noopener",
							dataset: { key: `open-${p.port}` } }, "Open", h("span.visually-hidden", ` port ${p.port} (new tab)`))
						: null),
				h("div.port-share",
					h("label", { for: fid }, "Shared with"), select, apply,
					level !== "owner" ? h("span.pill.shared", { dataset: { shared: p.port } }, `shared: ${level}`) : null),
				level !== "owner" ? h("p.hint.mono", portUrl(ws, p.port).replace(/^https?:\/\//, "")) : null,
				slot);
		});
		return [h("ul.ports", items), note];
	}

	function schedule() {
		const st = workspaceStatus(ws);
		const form = h("form.stack", { novalidate: true },
			h("div.form-error"),
			h("div.grid2",
				field({ label: "Stop after (hours)", name: "autostop_hours", type: "number", min: 0,
					step: 1, inputmode: "numeric", value: ws.autostop_ttl ? Math.round(ws.autostop_ttl / 3600) : "",
					hint: "Counted from each start. Empty or 0: never.", disabled: !mine }),
				field({ label: "Stop when idle (minutes)", name: "idle_minutes", type: "number", min: 0, step: 1,
					inputmode: "numeric", value: ws.idle_timeout ? Math.round(ws.idle_timeout / 60) : "",
					hint: version && version.idle_timeout ? `Empty: the template's ${seconds(version.idle_timeout)}.`
						: "Empty: never.", disabled: !mine })),
			mine ? h("div.form-actions", h("button.btn", { type: "submit", dataset: { key: "save-schedule" } }, "Save schedule")) : null);
		form.addEventListener("submit", async (e) => {
			e.preventDefault();
			clearFormError(form);
			const hours = intOrNull(val(form, "autostop_hours"));
			const mins = intOrNull(val(form, "idle_minutes"));
			const btn = form.querySelector("button[type=submit]");
			btn.disabled = true;
			try {
				ws = await api.patch(`/workspaces/${api.id(ws.id)}`, {
					autostop_ttl: (hours || 0) * 3600, idle_timeout: (mins || 0) * 60 });
				notify("Schedule saved");
				keys.schedule = null;
				renderAll();
			} catch (err) {
				formError(form, err);
			} finally {
				btn.disabled = false;
			}
		});
		const out = [form];
		if (st === "running" && mine) {
			const eid = uniqueId("ext");
			const hoursSel = h("select", { id: eid, name: "extend_hours" },
				[1, 2, 4, 8, 24].map((n) => h("option", { value: n }, `${n} hour${n === 1 ? "" : "s"}`)));
			const slot = h("div.inline-error");
			const ext = button("Extend", () => busy(ext, async () => {
				const r = await api.post(`/workspaces/${api.id(ws.id)}/extend`, { hours: Number(hoursSel.value) });
				notify(`It now stops ${new Date(r.deadline).toLocaleString()}`);
				await refresh();
			}, slot), "small", { dataset: { key: "extend" } });
			out.push(h("div.extend",
				h("p", ws.deadline ? h("span", "Stops automatically ", when(ws.deadline), ".")
					: "No automatic stop is scheduled; extending sets one."),
				h("div.inline-form", h("label", { for: eid }, "Keep it running"), hoursSel, h("span", "longer"), ext),
				slot));
		}
		return out;
	}

	function parameters() {
		const entries = Object.entries(ws.parameters || {});
		if (entries.length === 0)
			return h("p.muted", "None.");
		return dl(entries.map(([k, v]) => [k, h("span.mono", typeof v === "string" ? v : JSON.stringify(v))]));
	}

	// ------------------------------------------------------------ builds
	async function loadBuilds() {
		const r = await api.get(`/workspaces/${api.id(ws.id)}/builds?limit=20`, { signal });
		if (r.items.length === 0) {
			replace(buildsBox, h("p.muted", "No builds yet: start the workspace to make one."));
			return;
		}
		replace(buildsBox, h("table.list.builds",
			h("caption.visually-hidden", "Builds of this workspace, newest first"),
			h("thead", h("tr", ["#", "Transition", "Status", "When", "Took", "Log"].map((c) => h("th", { scope: "col" }, c)))),
			h("tbody", r.items.map((b) => h("tr",
				h("td", { dataset: { label: "#" } }, String(b.number)),
				h("td", { dataset: { label: "Transition" } }, b.transition,
					h("span.sub", `${b.reason}${b.template_version ? ` · v${b.template_version}` : ""}`)),
				h("td", { dataset: { label: "Status" } }, badge(b.status),
					b.error ? h("span.sub.error-text", b.error) : null),
				h("td", { dataset: { label: "When" } }, when(b.created_at)),
				h("td", { dataset: { label: "Took" } }, duration(b.started_at, b.completed_at) || "—"),
				h("td", { dataset: { label: "Log" } }, button("Show log", () => showLog(b), "small",
					{ "aria-label": `Show log of build ${b.number}`, dataset: { key: `log-${b.number}` } })))))));
	}

	// The log of one build; followed (long poll) until the build ends.
	let logRun = 0;
	async function showLog(b) {
		logRun += 1;
		const run = logRun;
		const lines = h("ol.log-lines");
		const state = h("span.log-state", { role: "status" }, "loading…");
		const box = h("div.log", { role: "log", "aria-label": `Log of build ${b.number}`, tabindex: "0" }, lines);
		replace(logBox, h("div.log-head",
			h("h3", `Build ${b.number}: ${b.transition}`), state), box);
		let after = 0;
		let errors = 0;
		let first = null;
		while (run === logRun && !signal.aborted) {
			let r;
			const asked = Date.now();
			try {
				r = await api.get(`/builds/${api.id(b.id)}/logs?after=${after}&follow=true&timeout=10`, { signal });
				errors = 0;
			} catch (err) {
				if (err.name === "AbortError" || run !== logRun)
					return;
				errors += 1;
				state.textContent = `${explain(err).title}: retrying`;
				if (errors > 5) {
					state.textContent = explain(err).title;
					return;
				}
				await new Promise((res) => setTimeout(res, 2000));
				continue;
			}
			if (run !== logRun)
				return;
			const stick = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
			for (const l of r.items) {
				// Each step's time from the build's first line.
				const at = new Date(l.at).getTime();
				if (first === null)
					first = at;
				lines.append(h(`li.${l.stream || "stdout"}`,
					h("time.log-time", { datetime: l.at, title: new Date(l.at).toLocaleTimeString() },
						`+${((at - first) / 1000).toFixed(2)} s`), " ", l.line));
			}
			if (stick)
				box.scrollTop = box.scrollHeight;
			after = r.next_after;
			if (r.done) {
				state.textContent = lines.children.length ? "complete" : "no lines";
				// The build's end is news now, not at the next poll: the
				// page offers to open the workspace at once.
				if (b.id === ws.build_id)
					refresh().catch(() => {});
				return;
			}
			state.textContent = "following…";
			// Nothing new at once: the API had no worker to spare for
			// waiting (it keeps half of them for everyone else), so wait
			// here instead of asking again straight away.
			if (r.items.length === 0 && Date.now() - asked < 1000)
				await new Promise((res) => setTimeout(res, 1500));
		}
	}

	// -------------------------------------------------------------- poll
	async function refresh() {
		try {
			ws = await api.get(`/workspaces/${api.id(wid)}`, { signal });
		} catch (err) {
			if (err.status === 404 && (deleting || ws.status === "deleting")) {
				notify(`${ws.name} is deleted`);
				ctx.go("#/workspaces");
				return;
			}
			throw err;
		}
		if (template && Date.now() - templateAt > 30000) {
			templateAt = Date.now();
			template = await api.get(`/templates/${api.id(ws.template_id)}`, { signal }).catch(() => template);
		}
		version = await versionOf(ws.template_version);
		renderAll();
		if (ws.build_id !== lastBuild) {
			const fresh = lastBuild !== null;
			lastBuild = ws.build_id;
			await loadBuilds();
			if (ws.build_id && (fresh || isTransitional(ws.status) || followBuild === ws.build_id))
				showLog({ id: ws.build_id, number: ws.build_number, transition: ws.build_transition });
		} else if (keys.buildStatus !== ws.build_status) {
			await loadBuilds();
		}
		keys.buildStatus = ws.build_status;
	}

	renderAll();
	lastBuild = ws.build_id;
	keys.buildStatus = ws.build_status;
	await loadBuilds();
	if (ws.build_id)
		showLog({ id: ws.build_id, number: ws.build_number, transition: ws.build_transition });
	poll(ctx, refresh, () => (isTransitional(ws.status) ? 1500 : 5000));
	ctx.onCleanup(() => { logRun += 1; });
}
