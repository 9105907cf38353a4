"""``/docs``: the OpenAPI document as one self-contained HTML page (no script, no CDN)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#222;padding:0 1rem}
h2{border-bottom:1px solid #ddd;padding-bottom:.3rem;margin-top:2.5rem}
.op{border:1px solid #ddd;border-radius:6px;margin:1rem 0;padding:.6rem 1rem}
.method{display:inline-block;min-width:4.5rem;font-weight:700;color:#fff;border-radius:4px;
text-align:center;padding:.1rem .4rem;margin-right:.5rem}
.get{background:#1565c0}.post{background:#2e7d32}.put,.patch{background:#ef6c00}
.delete{background:#c62828}code,pre{font-family:ui-monospace,monospace;font-size:.85rem}
pre{background:#f6f8fa;padding:.6rem;overflow:auto;border-radius:4px}
table{border-collapse:collapse;margin:.4rem 0;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
.access{font-size:.8rem;color:#555;margin-left:.5rem}
"""


def render_docs(spec: dict[str, Any]) -> str:
    info = spec.get("info", {})
    title = escape(f"{info.get('title', 'API')} {info.get('version', '')}")
    parts = [
        f"<h1>{title}</h1>",
        "<p>Machine-readable: <a href='/openapi.json'>/openapi.json</a> (OpenAPI "
        f"{escape(str(spec.get('openapi', '')))}).</p>",
        f"<pre>{escape(info.get('description', ''))}</pre>",
    ]
    by_tag: dict[str, list[str]] = {}
    for path, operations in spec.get("paths", {}).items():
        for method, op in operations.items():
            tag = (op.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append(_operation(path, method, op))
    for tag, ops in by_tag.items():
        parts.append(f"<h2>{escape(tag)}</h2>{''.join(ops)}")
    parts.append("<h2>Schemas</h2>")
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        parts.append(
            f"<h3 id='schema-{escape(name)}'>{escape(name)}</h3>"
            f"<pre>{escape(json.dumps(schema, indent=2))}</pre>"
        )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>"
    )


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    access = op.get("x-access", "")
    head = (
        f"<div class='op'><p><span class='method {escape(method)}'>{escape(method.upper())}</span>"
        f"<code>{escape(path)}</code><span class='access'>access: {escape(access)}</span></p>"
        f"<p><strong>{escape(op.get('summary', ''))}</strong></p>"
    )
    if op.get("description"):
        head += f"<p>{escape(op['description'])}</p>"
    rows = "".join(
        f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
        f"<td>{'yes' if p.get('required') else 'no'}</td>"
        f"<td><code>{escape(json.dumps(p.get('schema', {})))}</code></td></tr>"
        for p in op.get("parameters", [])
    )
    if rows:
        head += (
            "<table><tr><th>parameter</th><th>in</th><th>required</th><th>schema</th></tr>"
            f"{rows}</table>"
        )
    body = op.get("requestBody")
    if body:
        for content_type, content in body.get("content", {}).items():
            head += (
                f"<p>Request body ({escape(content_type)}, "
                f"{'required' if body.get('required') else 'optional'}): "
                f"{_schema_link(content.get('schema', {}))}</p>"
            )
    responses = "".join(
        f"<tr><td>{escape(status)}</td><td>{escape(resp.get('description', ''))}</td><td>"
        + ", ".join(
            f"{escape(ct)} {_schema_link(c.get('schema', {}))}"
            for ct, c in resp.get("content", {}).items()
        )
        + "</td></tr>"
        for status, resp in op.get("responses", {}).items()
    )
    head += (
        f"<table><tr><th>status</th><th>meaning</th><th>content</th></tr>{responses}</table></div>"
    )
    return head


def _schema_link(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[1]
        return f"<a href='#schema-{escape(name)}'>{escape(name)}</a>"
    return f"<code>{escape(json.dumps(schema))}</code>"
