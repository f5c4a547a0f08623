"""The API reference at /schema: Swagger UI served by the app itself.

Litestar's viewers load their scripts from a CDN and start them with an inline script;
the app's Content-Security-Policy (`script-src 'self'`, web/security.py) blocks both, so
/schema was a blank page (issue 11, item 14). Here Swagger UI's files come from the
`swagger-ui-bundle-v2` package, served under /schema/assets, and a script file of ours
(frontend/schema-viewer.js) starts it: the strict policy holds on this page too.
static/css/schema.css and a main landmark make Swagger UI's page pass axe-core (colours
with 4.5:1 contrast, a label for its servers menu).
"""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Request, Router
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — API reference</title>
<link rel="icon" href="/static/icons/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="stylesheet" href="/static/css/schema.css">
</head>
<body>
<main>
<div id="swagger-ui" data-spec="{spec}"></div>
</main>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-ui-standalone-preset.js"></script>
<script src="/js/schema-viewer.js"></script>
</body>
</html>
"""


class LocalSwaggerUI(OpenAPIRenderPlugin):
    """Swagger UI at /schema and /schema/swagger, every file from this server."""

    def __init__(self) -> None:
        super().__init__(path=["/", "/swagger"])

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        base = self.get_openapi_json_route(request).rsplit("/", 1)[0]
        return PAGE.format(
            title=escape(str(openapi_schema.get("info", {}).get("title", "API"))),
            assets=escape(f"{base}/assets"),
            spec=escape(self.get_openapi_json_route(request)),
        ).encode()

    def receive_router(self, router: Router) -> None:
        router.register(
            create_static_files_router(
                path="/assets",
                directories=[swagger_ui_path],
                opt={"exclude_from_auth": True},
                include_in_schema=False,
                name="schema-assets",
            )
        )


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Boxoffice", version="0.1.0", path="/schema", render_plugins=[LocalSwaggerUI()]
    )
