// Starts Swagger UI on /schema (backend/web/openapi.py): a file, not an inline script, so
// the page keeps the app's Content-Security-Policy. No validator badge (it would load an
// image from another host).
window.addEventListener("load", () => {
  const root = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
    validatorUrl: null,
    deepLinking: true,
  });
});
