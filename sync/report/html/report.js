/* upnsync HTML report: shows the lists of the JSON report in the page's
   data block, one page of rows at a time, with a filter and sorting per
   column. Every value is set with textContent: nothing from the data
   becomes markup, a script, an event handler or a link. */
(function () {
	"use strict";
	var doc = document;
	var fmt = new Intl.NumberFormat("en-US");
	var collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" });
	var SIZES = [50, 100, 500, 1000];

	function el(tag, cls, text) {
		var e = doc.createElement(tag);
		if (cls) e.className = cls;
		if (text !== undefined && text !== null) e.textContent = String(text);
		return e;
	}
	function put(parent, child) { parent.appendChild(child); return child; }
	function list(v) { return Array.isArray(v) ? v : []; }
	function str(v) { return v === undefined || v === null ? "" : String(v); }
	function entriesOf(s) {
		return str(s).split(";").map(function (x) { return x.trim(); }).filter(function (x) { return x !== ""; });
	}
	// text appends s to parent with line-break opportunities after "," and
	// before "@", so that a DN or a UPN wraps where it reads well.
	function text(parent, s) {
		s = str(s);
		var from = 0;
		for (var i = 0; i < s.length; i++) {
			var c = s.charCodeAt(i), cut = c === 44 ? i + 1 : c === 64 ? i : -1;
			if (cut > from) {
				parent.appendChild(doc.createTextNode(s.slice(from, cut)));
				parent.appendChild(doc.createElement("wbr"));
				from = cut;
			}
		}
		if (from < s.length) parent.appendChild(doc.createTextNode(s.slice(from)));
	}
	// lines shows items one a line; with sub, the lines after the first are
	// details of it.
	function lines(td, items, sub) {
		items.forEach(function (t, i) { text(put(td, el("span", i && sub ? "cell-sub" : "cell-line")), t); });
	}

	// A Windows usernames list, with marks: entry (lower case) -> [tag, class, title].
	function entryList(td, value, marks) {
		var parts = entriesOf(value);
		if (!parts.length) { put(td, el("span", "empty", "(empty)")); return; }
		parts.forEach(function (p, i) {
			if (i) td.appendChild(doc.createTextNode("; "));
			var m = marks[p.toLowerCase()];
			var e = put(td, el(m ? m[0] : "span", m ? m[1] + " entry" : "entry"));
			text(e, p);
			if (m && m[2]) e.title = m[2];
		});
	}
	// A dry run's page says what an apply would do.
	var dryRun = true;
	function removed() { return dryRun ? "would be removed" : "removed"; }
	function marks(c, side) {
		var m = Object.create(null);
		if (side === "before") {
			list(c.replaced).forEach(function (r) { m[str(r.old).toLowerCase()] = ["del", "rep", "replaced by " + str(r.new)]; });
			list(c.removed).forEach(function (r) { m[str(r).toLowerCase()] = ["del", "gone", removed()]; });
		} else {
			list(c.added).forEach(function (a) { m[str(a).toLowerCase()] = ["ins", "add", "added"]; });
			list(c.replaced).forEach(function (r) { m[str(r.new).toLowerCase()] = ["ins", "rep", "replaces " + str(r.old)]; });
		}
		return m;
	}
	function userLabel(id, name) { return name ? id + " (" + name + ")" : id; }

	// Columns: title, key(row) for sorting and filtering, text(row) when
	// the filter looks at more than the key, cell(td, row) when the cell
	// shows more than the key, cls for the cells, and optional when the
	// column is left out of a table where no row has a value.
	var COLUMNS = {
		changes: [
			{ title: "User", key: function (c) { return str(c.user_id); },
				text: function (c) { return str(c.user_id) + " " + str(c.name) + " " + str(c.external_id); },
				cell: function (td, c) { lines(td, [str(c.user_id)].concat(c.name ? [c.name] : []), true); } },
			{ title: "Match", cls: "nowrap", key: function (c) { return c.departed ? "departed: " + c.departed : str(c.match); } },
			{ title: "Directory person", key: function (c) { return str(c.upn) || str(c.dn); },
				text: function (c) { return str(c.upn) + " " + str(c.dn) + " " + str(c.guid); },
				cell: function (td, c) { lines(td, [c.upn, c.dn].filter(Boolean), true); } },
			{ title: "Before", key: function (c) { return str(c.before); },
				cell: function (td, c) { entryList(td, c.before, marks(c, "before")); } },
			{ title: "After", key: function (c) { return str(c.after); },
				cell: function (td, c) { entryList(td, c.after, marks(c, "after")); } },
			{ title: "Notes", optional: true, key: function (c) { return list(c.notes).join(" "); },
				cell: function (td, c) { lines(td, list(c.notes)); } }
		],
		conflicts: [
			{ title: "UPN", key: function (c) { return str(c.upn); } },
			{ title: "Detail", key: function (c) { return str(c.detail); } },
			{ title: "Octopus users", key: function (c) { return list(c.users).join(", "); } },
			{ title: "Directory people", key: function (c) { return list(c.people).join(" "); },
				cell: function (td, c) { lines(td, list(c.people)); } }
		],
		unmatched: [
			{ title: "Person", key: function (p) { return str(p.dn); } },
			{ title: "UPN", key: function (p) { return str(p.upn); } },
			{ title: "objectGUID", key: function (p) { return str(p.guid); } }
		],
		skipped: [
			{ title: "Person", key: function (s) { return str(s.dn); } },
			{ title: "Reason", key: function (s) { return str(s.reason); } }
		],
		departures: [
			{ title: "Person", key: function (d) { return d.dn ? str(d.dn) : "objectGUID " + str(d.guid); } },
			{ title: "Reason", cls: "nowrap", key: function (d) { return str(d.reason); } },
			{ title: "Detail", key: function (d) { return str(d.detail); } },
			{ title: "Entries", key: function (d) { return list(d.entries).map(function (e) { return "user " + userLabel(str(e.user_id), e.name) + ": " + str(e.entry); }).join(" "); },
				cell: function (td, d) { lines(td, list(d.entries).map(function (e) { return "user " + userLabel(str(e.user_id), e.name) + ": " + str(e.entry); })); } },
			{ title: "Outcome", key: function (d) { return d.removed ? removed() : str(d.kept) || "kept"; } }
		],
		pinned_missing: [
			{ title: "User", key: function (p) { return userLabel(str(p.user_id), p.name); } },
			{ title: "ExternalIdentifier", key: function (p) { return str(p.external_id); } },
			{ title: "Would match", key: function (p) { return p.match ? str(p.dn || p.upn) + " by " + str(p.match) : ""; },
				cell: function (td, p) { lines(td, p.match ? [str(p.dn || p.upn) + " by " + str(p.match), "objectGUID " + str(p.guid)] : [], true); } }
		],
		stale: [
			{ title: "User", key: function (s) { return str(s.user_id); } },
			{ title: "Why", key: function (s) { return s.missing ? "the user no longer exists" : s.already_applied ? "already holds the planned value" : "changed since the plan"; } },
			{ title: "Plan saw", key: function (s) { return str(s.expected); } },
			{ title: "Found", key: function (s) { return str(s.found); } }
		]
	};

	function rowsOf(data, name, kind) {
		if (name === "conflicts") return list(data.conflicts).filter(function (c) { return c.reason === kind; });
		if (name === "stale") return data.applied ? list(data.applied.stale) : [];
		return list(data[name]);
	}

	var serial = 0;
	function Table(host, rows, allCols, caption) {
		var cols = allCols.filter(function (c) { return !c.optional || rows.some(function (r) { return c.key(r) !== ""; }); });
		var id = "t" + (++serial), all = rows.map(function (_, i) { return i; });
		var order = all, view = all, hay = null, keys = [], q = "", page = 0, size = 100, sortCol = -1, dir = 1, timer = 0;

		var bar = put(host, el("div", "bar"));
		var label = put(bar, el("label", "", "Filter "));
		var input = put(label, el("input"));
		input.type = "search";
		input.setAttribute("aria-controls", id);
		input.setAttribute("autocomplete", "off");
		var status = put(bar, el("span", "status"));
		status.setAttribute("aria-live", "polite");
		var pager = put(bar, el("span", "pager"));
		function button(text, aria, fn) {
			var b = put(pager, el("button", "", text));
			b.type = "button";
			b.setAttribute("aria-label", aria);
			b.addEventListener("click", fn);
			return b;
		}
		var first = button("\u00ab", "First page", function () { go(0); });
		var prev = button("\u2039 Previous", "Previous page", function () { go(page - 1); });
		var where = put(pager, el("span", "where"));
		var next = button("Next \u203a", "Next page", function () { go(page + 1); });
		var last = button("\u00bb", "Last page", function () { go(pages() - 1); });
		var sel = put(pager, el("select"));
		sel.setAttribute("aria-label", "Rows per page");
		SIZES.forEach(function (n) {
			var o = put(sel, el("option", "", n + " rows"));
			o.value = String(n);
			o.selected = n === size;
		});
		sel.addEventListener("change", function () { size = Number(sel.value); go(0); });

		// A short list needs no filter, and one page no pager.
		bar.hidden = rows.length <= 10;
		pager.hidden = rows.length <= SIZES[0];
		var wrap = put(host, el("div", "wrap"));
		wrap.tabIndex = 0;
		wrap.setAttribute("role", "region");
		wrap.setAttribute("aria-label", caption);
		var table = put(wrap, el("table"));
		table.id = id;
		put(table, el("caption", "vh", caption));
		var tr = put(put(table, el("thead")), el("tr"));
		var ths = cols.map(function (col, i) {
			var th = put(tr, el("th"));
			th.scope = "col";
			var b = put(th, el("button"));
			b.type = "button";
			put(b, el("span", "", col.title));
			put(b, el("span", "arrow", "\u2195")).setAttribute("aria-hidden", "true");
			b.addEventListener("click", function () { sortBy(i); });
			return th;
		});
		var tbody = put(table, el("tbody"));

		function pages() { return Math.max(1, Math.ceil(view.length / size)); }
		function go(p) { page = Math.min(Math.max(0, p), pages() - 1); render(); }
		function keyOf(i) {
			if (!keys[i]) keys[i] = rows.map(function (r) { return cols[i].key(r); });
			return keys[i];
		}
		function sortBy(i) {
			dir = sortCol === i ? -dir : 1;
			sortCol = i;
			var k = keyOf(i);
			order = all.slice().sort(function (a, b) { return dir * collator.compare(k[a], k[b]) || a - b; });
			ths.forEach(function (th, j) {
				if (j === i) th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
				else th.removeAttribute("aria-sort");
				th.querySelector(".arrow").textContent = j === i ? (dir > 0 ? "\u25b2" : "\u25bc") : "\u2195";
			});
			filter();
		}
		function filter() {
			if (!q) { view = order; go(0); return; }
			if (!hay) {
				hay = rows.map(function (r) {
					return cols.map(function (c) { return (c.text || c.key)(r); }).join("\n").toLowerCase();
				});
			}
			view = order.filter(function (i) { return hay[i].indexOf(q) >= 0; });
			go(0);
		}
		input.addEventListener("input", function () {
			clearTimeout(timer);
			timer = setTimeout(function () {
				var v = input.value.trim().toLowerCase();
				if (v !== q) { q = v; filter(); }
			}, rows.length > 5000 ? 200 : 60);
		});
		function render() {
			var from = page * size, to = Math.min(view.length, from + size), frag = doc.createDocumentFragment();
			for (var n = from; n < to; n++) {
				var row = rows[view[n]], r = put(frag, el("tr"));
				cols.forEach(function (c) {
					var td = put(r, el("td", c.cls));
					if (c.cell) c.cell(td, row); else text(td, c.key(row));
				});
			}
			tbody.replaceChildren(frag);
			var s = view.length ? "Rows " + fmt.format(from + 1) + "\u2013" + fmt.format(to) + " of " + fmt.format(view.length) : "No row matches";
			if (q) s += " matching (" + fmt.format(rows.length) + " in all)";
			status.textContent = s;
			host.setAttribute("data-shown", String(to - from));
			host.setAttribute("data-matching", String(view.length));
			where.textContent = "Page " + fmt.format(page + 1) + " of " + fmt.format(pages());
			first.disabled = prev.disabled = page === 0;
			next.disabled = last.disabled = page >= pages() - 1;
		}
		host.setAttribute("data-rows", String(rows.length));
		render();
	}

	function init() {
		var data;
		performance.mark("upnsync:start");
		try {
			data = JSON.parse(doc.getElementById("upnsync-data").textContent);
			dryRun = data.mode !== "apply";
			performance.mark("upnsync:parsed");
		} catch (e) {
			doc.querySelectorAll(".nojs").forEach(function (p) { p.textContent = "The data in this file cannot be read (" + e.message + "): the file is damaged or cut short."; });
			return;
		}
		doc.documentElement.classList.add("js");
		doc.querySelectorAll("[data-list]").forEach(function (host) {
			var name = host.getAttribute("data-list"), kind = host.getAttribute("data-kind");
			var cols = COLUMNS[name];
			if (!cols) return;
			var caption = name + (kind ? ": " + kind : "");
			Table(host, rowsOf(data, name, kind), cols, caption);
		});
		doc.documentElement.setAttribute("data-ready", "true");
	}
	// Let the header and the summary paint before the lists are parsed.
	setTimeout(init, 0);
})();
