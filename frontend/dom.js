// Tiny DOM helpers. Text always goes in through textContent, never innerHTML,
// so nothing the server or a user typed can become markup.

/** h("li", {class: "x", dataset: {id}}, child, "text") */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function $$(selector, root = document) {
  return Array.from(root.querySelectorAll(selector));
}

/** Show a transient message in a [data-testid=message] box. kind: "info" | "error" | "success". */
export function showMessage(box, text, kind = "info", { timeout = 8000 } = {}) {
  if (!box) return;
  clearTimeout(box._timer);
  box.textContent = text;
  box.dataset.kind = kind;
  // Errors interrupt (role=alert); the rest wait politely, unless the page
  // announces them another way (data-live="off").
  if (kind === "error") box.setAttribute("role", "alert");
  else if (box.dataset.live !== "off") box.setAttribute("role", "status");
  else box.removeAttribute("role");
  box.hidden = !text;
  if (text && timeout) box._timer = setTimeout(() => (box.hidden = true), timeout);
}

/** A same-origin path to come back to after signing in; anything else becomes "/". */
export function safeNext(value) {
  if (typeof value !== "string" || !value.startsWith("/") || value.startsWith("//") || value.includes("\\")) return "/";
  return value;
}
