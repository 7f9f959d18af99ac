"""The OpenAPI 3.1 description of the server, built from the model's feature schema, and /docs.

/docs is a small page of its own (no CDN, no external script): it fetches /openapi.json from the
same server and lists the routes and the features of a record. Runtime module: carried by bundles.
"""

from __future__ import annotations

from typing import Any

from .schema import Feature, ModelSchema

_TYPES = {"int": "integer", "float": "number", "bool": "boolean"}
_ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "field": {"type": ["string", "null"]}},
    "required": ["detail", "field"],
}


def feature_schema(feature: Feature) -> dict[str, Any]:
    """JSON Schema of one feature value."""
    if feature.type == "category":
        cats = list(feature.categories or ())
        out: dict[str, Any] = {"enum": [*cats, None] if feature.nullable else cats}
    else:
        kind = _TYPES[feature.type]
        out = {"type": [kind, "null"] if feature.nullable else kind}
    out["description"] = f"{feature.type}{', nullable' if feature.nullable else ''}"
    return out


def prediction_schema(schema: ModelSchema) -> dict[str, Any]:
    """JSON Schema of one prediction."""
    if schema.task == "regression":
        return {"type": "object", "properties": {"value": {"type": "number"}}, "required": ["value"]}
    label = {"enum": list(schema.classes or ())}
    if schema.task == "binary":
        return {"type": "object", "properties": {"label": label, "probability": {"type": "number"}},
                "required": ["label", "probability"]}
    return {"type": "object", "properties": {"label": label, "probabilities": {
        "type": ["object", "null"], "additionalProperties": {"type": "number"}}}, "required": ["label"]}


def openapi(schema: ModelSchema, info: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document served at /openapi.json."""
    model = info.get("model", {})
    record = {
        "type": "object",
        "properties": {f.name: feature_schema(f) for f in schema.features},
        "required": schema.names,
        "additionalProperties": False,
    }
    split = {
        "type": "object",
        "properties": {
            "columns": {"type": "array", "items": {"enum": schema.names}},
            "data": {"type": "array", "items": {"type": "array"}},
            "index": {"type": "array"},
        },
        "required": ["columns", "data"],
    }
    errors = {str(code): {"description": text, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
              for code, text in ((400, "not valid JSON, or not the expected shape"), (401, "missing or wrong API key"),
                                 (413, "body or record count over the limit"), (422, "a value the model cannot take"),
                                 (504, "no answer from the model in time"))}
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{model.get('label') or model.get('name', 'model')} predictions",
                 "version": str(model.get("version") or "0")},
        "paths": {
            "/predict": {"post": {
                "summary": f"Predict ({schema.task}) for a list of records",
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"oneOf": [
                        {"type": "object", "properties": {"records": {"type": "array", "minItems": 1,
                                                                      "items": {"$ref": "#/components/schemas/Record"}}},
                         "required": ["records"], "additionalProperties": False},
                        {"type": "object", "properties": {"dataframe_split": split}, "required": ["dataframe_split"],
                         "additionalProperties": False},
                    ]}},
                    "text/csv": {"schema": {"type": "string", "description": "a header row of feature names, then rows"}},
                }},
                "responses": {"200": {"description": "one prediction per record", "content": {"application/json": {
                    "schema": {"type": "object", "properties": {
                        "predictions": {"type": "array", "items": prediction_schema(schema)},
                        "model": {"type": "string"}}, "required": ["predictions", "model"]}}}}, **errors},
            }},
            "/health": {"get": {"summary": "200 ok when every worker serves, else 503",
                                "responses": {"200": {"description": "ok"}, "503": {"description": "not ready"}}}},
            "/info": {"get": {"summary": "the model and its schema", "responses": {"200": {"description": "info"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "metrics"}}}},
        },
        "components": {"schemas": {"Record": record, "Error": _ERROR}},
    }


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}
code,pre{background:#f4f4f4;padding:.1em .3em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em}</style>
</head><body><h1 id="title">API</h1><p>This page is served by the model server itself; the machine-readable
description is <a href="openapi.json">/openapi.json</a>.</p><div id="routes"></div>
<h2>Record features</h2><table id="features"><tr><th>name</th><th>type</th><th>values</th></tr></table>
<script>
fetch("openapi.json").then(r => r.json()).then(doc => {
  document.getElementById("title").textContent = doc.info.title;
  const routes = document.getElementById("routes");
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const p = document.createElement("p");
      p.innerHTML = "<code></code> ";
      p.firstChild.textContent = method.toUpperCase() + " " + path;
      p.appendChild(document.createTextNode(op.summary || ""));
      routes.appendChild(p);
    }
  }
  const table = document.getElementById("features");
  for (const [name, s] of Object.entries(doc.components.schemas.Record.properties)) {
    const row = table.insertRow();
    row.insertCell().textContent = name;
    row.insertCell().textContent = s.description;
    row.insertCell().textContent = s.enum ? s.enum.map(v => JSON.stringify(v)).join(", ") : [].concat(s.type).join(" or ");
  }
});
</script></body></html>
"""


def docs_page() -> bytes:
    """The HTML of /docs (inline script only)."""
    return _PAGE.encode()
