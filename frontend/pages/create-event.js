// Create an event: basics, price categories, a section/row layout builder and
// a live preview drawn by the same SeatMap the event page uses.
//
// State lives in plain objects; inputs write into it and schedule a preview
// rebuild (one per frame). The list DOM is rebuilt only when rows or sections
// are added or removed, so typing never loses focus.

import { api, ApiError } from "../api.js";
import { isSignedIn, onAuthChange } from "../auth.js";
import { $, h } from "../dom.js";
import { formatMoney, minorDigits, parseMoney } from "../format.js";
import { holdProblem, MAX_ROW_SEATS, MAX_SECTION_NAME, maxSeatsProblem, priceProblem, rowSeatsProblem, sectionNameProblem, totalProblem } from "../limits.js";
import { initNav } from "../nav.js";
import { KIND_AVAILABLE, swatch } from "../seatdraw.js";
import { SeatMap } from "../seatmap.js";
import { SeatStore } from "../seatstore.js";

initNav();

const PALETTE = ["#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed", "#0891b2", "#dc2626", "#4d7c0f"];
const SECTION_GAP = 2; // rows of space between sections, as the server places them
const MAX_PREVIEW = 100_000;

let uid = 0;
const nextUid = () => `k${++uid}`;

const state = {
  categories: [
    { uid: nextUid(), name: "Standard", colour: PALETTE[0], price: "25" },
    { uid: nextUid(), name: "Premium", colour: PALETTE[1], price: "45" },
  ],
  sections: [],
};
state.sections.push({
  uid: nextUid(),
  name: "Stalls",
  category: state.categories[0].uid,
  rows: ["A", "B", "C", "D", "E", "F"].map((label, i) => ({
    uid: nextUid(),
    label,
    seats: String(10 + i * 2),
    category: i < 2 ? state.categories[1].uid : "",
    accessible: i === 5 ? "1, 20" : "",
  })),
});

const form = $("[data-testid=create-form]");
const errorBox = $("[data-testid=form-error]");
const currency = () => form.currency.value;

// ------------------------------------------------------------ helpers

function slug(text, taken) {
  let base = text.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "category";
  base = base.slice(0, 40);
  let id = base, n = 2;
  while (taken.has(id)) id = `${base}-${n++}`;
  taken.add(id);
  return id;
}

/** "A" → "B", "Z" → "AA", "AZ" → "BA"; numbers count up. */
function nextLabel(label) {
  if (/^\d+$/.test(label)) return String(Number(label) + 1);
  if (!/^[A-Za-z]+$/.test(label)) return "";
  const upper = label.toUpperCase().split("");
  let i = upper.length - 1;
  while (i >= 0) {
    if (upper[i] !== "Z") {
      upper[i] = String.fromCharCode(upper[i].charCodeAt(0) + 1);
      return upper.join("");
    }
    upper[i] = "A";
    i--;
  }
  return `A${upper.join("")}`;
}

function labelRange(from, to) {
  const out = [];
  let label = from.toUpperCase();
  const end = to.toUpperCase();
  for (let guard = 0; label && guard < 500; guard++) {
    out.push(label);
    if (label === end) return out;
    label = nextLabel(label);
  }
  return out.slice(0, 1);
}

function parseAccessible(text) {
  return [...new Set(String(text).split(/[\s,;]+/).filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n > 0))].sort((a, b) => a - b);
}

const seatsOf = (row) => Math.max(0, Math.min(10_000, Number.parseInt(row.seats, 10) || 0));

// ------------------------------------------------------------- preview

/** The server's placement, mirrored: sections stacked, every row centred on the widest. */
function previewSeats() {
  const catId = new Map(state.categories.map((c) => [c.uid, c.uid]));
  const rows = state.sections.flatMap((s) => s.rows);
  const widest = Math.max(0, ...rows.map(seatsOf));
  const prefix = state.sections.length > 1;
  const seats = [];
  let y = 0;
  for (const section of state.sections) {
    for (const row of section.rows) {
      const n = seatsOf(row);
      const accessible = new Set(parseAccessible(row.accessible));
      const category = catId.get(row.category) || catId.get(section.category) || state.categories[0]?.uid;
      const offset = (widest - n) / 2;
      for (let k = 1; k <= n && seats.length < MAX_PREVIEW; k++) {
        const label = `${prefix ? `${section.name}-` : ""}${row.label}${k}`;
        seats.push({ id: `${section.uid}-${row.uid}-${k}`, label, section: section.name, row: row.label, number: k, category, accessible: accessible.has(k), x: offset + k - 1, y, status: "available", version: 0 });
      }
      y += 1;
    }
    y += SECTION_GAP;
  }
  return seats;
}

let preview = null;
let previewFrame = 0;

function schedulePreview() {
  if (!previewFrame) previewFrame = requestAnimationFrame(renderPreview);
}

function renderPreview() {
  previewFrame = 0;
  const categories = state.categories.map((c) => ({ id: c.uid, name: c.name || "Unnamed", colour: c.colour, price: parseMoney(c.price, currency()) ?? 0 }));
  const seats = previewSeats();
  const store = new SeatStore(seats, categories);
  if (!preview) {
    preview = new SeatMap($("[data-testid=preview]"), store, {
      interactive: false,
      autoHeight: () => ({ min: 200, max: 420 }),
      tooltip: (i) => {
        // Read the map's current store: it is replaced on every edit.
        const s = preview.store;
        const cat = s.category(i);
        const lines = [`Row ${s.row[i]} · Seat ${s.number[i]}`];
        if (cat) lines.push(`${cat.name} · ${formatMoney(cat.price, currency())}`);
        if (s.accessible[i]) lines.push("Wheelchair accessible");
        return { title: s.label[i], lines, kind: "available" };
      },
    });
  } else preview.setStore(store, { refit: true });
  $(".preview-panel [data-legend=categories]").replaceChildren(
    ...categories.map((c) => h("li", {}, swatch(KIND_AVAILABLE, c.colour), h("span", { text: c.name }), h("span", { class: "legend-price", text: formatMoney(c.price, currency()) }))),
  );
  const total = state.sections.reduce((sum, s) => sum + s.rows.reduce((t, r) => t + seatsOf(r), 0), 0);
  $("[data-testid=seat-total]").textContent = `${total.toLocaleString()} seat${total === 1 ? "" : "s"}`;
  checkFields();
}

// ---------------------------------------------------------------- limits

/** Say `message` beside `field` (and mark it invalid), or clear what was said. */
function sayBeside(field, message) {
  if (!field) return;
  let note = field.nextElementSibling?.classList.contains("field-error") ? field.nextElementSibling : null;
  if (!message) {
    field.removeAttribute("aria-invalid");
    field.removeAttribute("aria-describedby");
    note?.remove();
    return;
  }
  if (!note) {
    note = h("span", { class: "field-error", id: `err-${nextUid()}`, "data-testid": "field-error" });
    field.after(note);
  }
  note.textContent = message;
  field.setAttribute("aria-invalid", "true");
  field.setAttribute("aria-describedby", note.id);
}

/** Every field against the server's limits (../limits.js), said beside it; the
 *  problems, for the submit to refuse with. */
function checkFields() {
  const found = [];
  const check = (field, message, where) => {
    sayBeside(field, message);
    if (message) found.push(`${where}: ${message}`);
  };
  const several = state.sections.length > 1;
  let total = 0;
  for (const section of state.sections) {
    const rows = section.rows.map((r) => ({ label: r.label, seats: Number.parseInt(r.seats, 10) }));
    check(section.nameEl, sectionNameProblem(section.name, rows, several), `Section ${section.name || "name"}`);
    for (const row of section.rows) {
      const seats = Number.parseInt(row.seats, 10);
      total += Number.isInteger(seats) ? seats : 0;
      check(row.seatsEl, rowSeatsProblem(seats), `Row ${row.label} in ${section.name}`);
    }
  }
  for (const c of state.categories) check(c.priceEl, priceProblem(parseMoney(c.price, currency()), (m) => formatMoney(m, currency())), `The price of ${c.name || "a category"}`);
  // Left empty, the server's defaults apply (600 s; 10 seats or the event's size).
  check(form.holdSeconds, form.holdSeconds.value === "" ? "" : holdProblem(Number(form.holdSeconds.value)), "Hold time");
  check(form.maxSeatsPerUser, form.maxSeatsPerUser.value === "" ? "" : maxSeatsProblem(Number(form.maxSeatsPerUser.value), total), "Max seats per person");
  check($("[data-testid=seat-total]"), totalProblem(total), "The event");
  return found;
}

// ------------------------------------------------------------- builder UI

function input(attrs, onInput) {
  return h("input", { ...attrs, oninput: (e) => { onInput(e.target.value); schedulePreview(); } });
}

function categoryOptions(selected, { allowInherit = false } = {}) {
  const options = state.categories.map((c) => h("option", { value: c.uid, text: c.name || "Unnamed", selected: c.uid === selected }));
  if (allowInherit) options.unshift(h("option", { value: "", text: "Section default", selected: !selected }));
  return options;
}

function renderCategories() {
  const box = $("[data-builder=categories]");
  box.replaceChildren(
    ...state.categories.map((c, index) =>
      h(
        "div",
        { class: "builder-row category-row", "data-testid": "category-row" },
        h("label", { class: "field" }, h("span", { text: "Name" }), input({ value: c.name, required: true, maxlength: 60, "data-testid": "category-name" }, (v) => { c.name = v; refreshCategorySelects(); })),
        h("label", { class: "field field--colour" }, h("span", { text: "Colour" }), input({ type: "color", value: c.colour, "data-testid": "category-colour" }, (v) => (c.colour = v))),
        h("label", { class: "field field--price" }, h("span", { text: `Price (${currency()})` }), (c.priceEl = input({ value: c.price, inputmode: "decimal", "data-testid": "category-price", step: minorDigits(currency()) ? "0.01" : "1" }, (v) => (c.price = v)))),
        h("button", {
          type: "button",
          class: "btn btn-icon btn-small",
          "aria-label": `Remove category ${c.name || index + 1}`,
          disabled: state.categories.length === 1,
          text: "×",
          onclick: () => {
            state.categories.splice(index, 1);
            const fallback = state.categories[0].uid;
            for (const s of state.sections) {
              if (s.category === c.uid) s.category = fallback;
              for (const r of s.rows) if (r.category === c.uid) r.category = "";
            }
            renderAll();
          },
        }),
      ),
    ),
  );
}

/** Category names changed: update <select>s without rebuilding rows. */
function refreshCategorySelects() {
  for (const select of document.querySelectorAll("select[data-cat-select]")) {
    const value = select.value;
    const inherit = select.dataset.catSelect === "row";
    select.replaceChildren(...categoryOptions(value, { allowInherit: inherit }));
    select.value = value;
  }
}

function renderSections() {
  const box = $("[data-builder=sections]");
  box.replaceChildren(
    ...state.sections.map((section, sIndex) => {
      const rows = section.rows.map((row, rIndex) =>
        h(
          "tr",
          { "data-testid": "row" },
          h("td", {}, input({ value: row.label, "aria-label": `Row ${rIndex + 1} label`, maxlength: 4, class: "input-short", "data-testid": "row-label" }, (v) => (row.label = v.toUpperCase()))),
          h("td", {}, (row.seatsEl = input({ value: row.seats, type: "number", min: 1, max: MAX_ROW_SEATS, "aria-label": `Row ${row.label || rIndex + 1} seats`, class: "input-short", "data-testid": "row-seats" }, (v) => (row.seats = v)))),
          h("td", {}, h("select", { "data-cat-select": "row", "aria-label": `Row ${row.label || rIndex + 1} category`, onchange: (e) => { row.category = e.target.value; schedulePreview(); } }, categoryOptions(row.category, { allowInherit: true }))),
          h("td", {}, input({ value: row.accessible, placeholder: "e.g. 1, 2", "aria-label": `Row ${row.label || rIndex + 1} accessible seat numbers`, class: "input-medium" }, (v) => (row.accessible = v))),
          h("td", {}, h("button", { type: "button", class: "btn btn-icon btn-small", "aria-label": `Remove row ${row.label || rIndex + 1}`, text: "×", onclick: () => { section.rows.splice(rIndex, 1); renderAll(); } })),
        ),
      );
      const from = h("input", { class: "input-short", value: nextLabel(section.rows.at(-1)?.label || "") || "A", "aria-label": "First row label", maxlength: 4 });
      const to = h("input", { class: "input-short", value: "", placeholder: "J", "aria-label": "Last row label", maxlength: 4 });
      const count = h("input", { class: "input-short", type: "number", min: 1, max: MAX_ROW_SEATS, value: section.rows.at(-1)?.seats || "20", "aria-label": "Seats per row" });
      return h(
        "div",
        { class: "section-block", "data-testid": "section" },
        h(
          "div",
          { class: "section-head" },
          h("label", { class: "field" }, h("span", { text: "Section name" }), (section.nameEl = input({ value: section.name, maxlength: MAX_SECTION_NAME, "data-testid": "section-name" }, (v) => (section.name = v)))),
          h("label", { class: "field" }, h("span", { text: "Category" }), h("select", { "data-cat-select": "section", onchange: (e) => { section.category = e.target.value; schedulePreview(); } }, categoryOptions(section.category))),
          h("button", { type: "button", class: "btn btn-ghost btn-small", disabled: state.sections.length === 1, text: "Remove section", onclick: () => { state.sections.splice(sIndex, 1); renderAll(); } }),
        ),
        h(
          "table",
          { class: "rows-table" },
          h("thead", {}, h("tr", {}, h("th", { text: "Row" }), h("th", { text: "Seats" }), h("th", { text: "Category" }), h("th", { text: "Accessible seats" }), h("th", {}, h("span", { class: "visually-hidden", text: "Remove" })))),
          h("tbody", {}, rows),
        ),
        h(
          "div",
          { class: "row-adder" },
          h("button", {
            type: "button",
            class: "btn btn-ghost btn-small",
            "data-testid": "add-row",
            text: "+ Row",
            onclick: () => {
              const last = section.rows.at(-1);
              section.rows.push({ uid: nextUid(), label: nextLabel(last?.label || "") || "A", seats: last?.seats || "20", category: last?.category || "", accessible: "" });
              renderAll();
            },
          }),
          h("span", { class: "row-adder-range" }, "Rows ", from, " to ", to, " with ", count, " seats "),
          h("button", {
            type: "button",
            class: "btn btn-ghost btn-small",
            text: "Add rows",
            onclick: () => {
              const labels = labelRange(from.value.trim() || "A", to.value.trim() || from.value.trim() || "A");
              const existing = new Set(section.rows.map((r) => r.label));
              for (const label of labels) if (!existing.has(label)) section.rows.push({ uid: nextUid(), label, seats: count.value || "20", category: "", accessible: "" });
              renderAll();
            },
          }),
        ),
      );
    }),
  );
}

function renderAll() {
  renderCategories();
  renderSections();
  schedulePreview();
}

// ---------------------------------------------------------------- submit

function buildBody() {
  const problems = [];
  const name = form.name.value.trim();
  if (!name) problems.push("Give the event a name.");
  const taken = new Set();
  const ids = new Map();
  const categories = state.categories.map((c) => {
    const id = slug(c.name, taken);
    ids.set(c.uid, id);
    const price = parseMoney(c.price, currency());
    if (!c.name.trim()) problems.push("Every category needs a name.");
    return { id, name: c.name.trim(), colour: c.colour, price: price ?? 0 };
  });
  const sectionNames = new Set();
  const sections = state.sections.map((s) => {
    if (sectionNames.has(s.name.trim().toUpperCase())) problems.push(`Two sections are called ${s.name}.`);
    sectionNames.add(s.name.trim().toUpperCase());
    const labels = new Set();
    const rows = s.rows.map((r) => {
      const seats = seatsOf(r);
      if (!r.label.trim()) problems.push(`A row in ${s.name} has no label.`);
      if (labels.has(r.label)) problems.push(`Row ${r.label} appears twice in ${s.name}.`);
      labels.add(r.label);
      if (seats < 1) problems.push(`Row ${r.label} in ${s.name} needs at least one seat.`);
      const accessible = parseAccessible(r.accessible).filter((n) => n <= seats);
      const row = { label: r.label.trim(), seats };
      if (r.category) row.category = ids.get(r.category);
      if (accessible.length) row.accessible = accessible;
      return row;
    });
    if (!rows.length) problems.push(`Section ${s.name} has no rows.`);
    return { name: s.name.trim(), category: ids.get(s.category) || categories[0].id, rows };
  });
  problems.push(...checkFields());
  const body = { name, currency: currency(), layout: { categories, sections } };
  if (form.startsAt.value) body.startsAt = new Date(form.startsAt.value).toISOString();
  if (form.venue.value.trim()) body.venue = form.venue.value.trim();
  const hold = Number.parseInt(form.holdSeconds.value, 10);
  if (Number.isInteger(hold)) body.holdSeconds = hold;
  const max = Number.parseInt(form.maxSeatsPerUser.value, 10);
  if (Number.isInteger(max)) body.maxSeatsPerUser = max;
  return { body, problems: [...new Set(problems)] };
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  errorBox.hidden = true;
  const { body, problems } = buildBody();
  if (problems.length) {
    errorBox.textContent = problems.join(" ");
    errorBox.hidden = false;
    return;
  }
  const button = $("[data-testid=create-submit]");
  button.disabled = true;
  button.textContent = "Creating…";
  try {
    const created = await api("/events", { method: "POST", body });
    location.assign(`/e/${created.id}`);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    errorBox.textContent = err.status === 401 ? "Please sign in again to create the event." : organiserMessage(err);
    errorBox.hidden = false;
    button.disabled = false;
    button.textContent = "Create event";
  }
});

$("[data-action=add-category]").addEventListener("click", () => {
  const colour = PALETTE[state.categories.length % PALETTE.length];
  state.categories.push({ uid: nextUid(), name: `Category ${state.categories.length + 1}`, colour, price: "20" });
  renderAll();
});
$("[data-action=add-section]").addEventListener("click", () => {
  const n = state.sections.length + 1;
  state.sections.push({ uid: nextUid(), name: n === 2 ? "Circle" : `Section ${n}`, category: state.categories[0].uid, rows: ["A", "B", "C"].map((label) => ({ uid: nextUid(), label, seats: "16", category: "", accessible: "" })) });
  renderAll();
});
form.currency.addEventListener("change", renderAll);
for (const field of [form.holdSeconds, form.maxSeatsPerUser]) field.addEventListener("input", schedulePreview);

function gate() {
  const signedIn = isSignedIn();
  $("[data-testid=signin-needed]").hidden = signedIn;
  $("[data-testid=create-submit]").disabled = !signedIn;
}

gate();
onAuthChange(gate);
renderAll();

/** The organiser building a layout needs the server's reason for a 400 (which field,
 * which limit); everything else gets the buyer wording (../errors.js). */
function organiserMessage(err) {
  return err.code === "invalid_input" && err.serverMessage ? `The event was not created: ${err.serverMessage}` : err.message;
}
