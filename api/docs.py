"""``/docs``: Swagger UI on ``/openapi.json``, its files served by this API (no CDN).

Swagger UI renders the spec's Markdown, shows schemas as models, and sends requests ("Try it
out") with the bearer token given under "Authorize" (the spec's ``bearerAuth`` scheme).
"""

from __future__ import annotations

from html import escape


def render_docs(title: str, spec_url: str, assets_url: str) -> str:
    title = escape(title)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{assets_url}/swagger-ui/swagger-ui.css">
<style>body{{margin:0}}</style>
</head>
<body>
<noscript>This page needs JavaScript; the API description itself is
<a href="{escape(spec_url)}">{escape(spec_url)}</a> (OpenAPI 3.1).</noscript>
<div id="swagger-ui" data-spec-url="{escape(spec_url)}"></div>
<script src="{assets_url}/swagger-ui/swagger-ui-bundle.js"></script>
<script src="{assets_url}/docs.js"></script>
</body>
</html>
"""
