// Starts Swagger UI on /schema (backend/web/openapi.py): a file, not an inline script, so
// the page keeps the app's Content-Security-Policy. No validator badge (it would load an
// image from another host).

// What axe-core asks of Swagger UI's markup once it has drawn the spec: its servers menu
// has an empty label, and its title is an h1 followed by h3 groups (and an h4 "Schemas").
function accessible() {
  document.getElementById("servers")?.setAttribute("aria-label", "Server");
  for (const heading of document.querySelectorAll(".swagger-ui h3.opblock-tag, .swagger-ui .models > h4")) {
    heading.setAttribute("aria-level", "2");
  }
}

window.addEventListener("load", () => {
  const root = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
    validatorUrl: null,
    deepLinking: false, // its links sit inside the operations' buttons (axe: nested-interactive)
    onComplete: accessible,
  });
});
