"""The OpenAPI 3.1 description of the server, built from the model's feature schema, and /docs.

/docs is a small page of its own (no CDN, no external script): it fetches /openapi.json from the
same server and lists the routes and the features of a record. Runtime module: carried by bundles.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def record_schema(schema: ModelSchema) -> dict[str, Any]:
    """JSON Schema of one record of a model."""
    return {
        "type": "object",
        "properties": {f.name: feature_schema(f) for f in schema.features},
        "required": schema.names,
        "additionalProperties": False,
    }


def predict_operation(schema: ModelSchema, title: str, record_ref: str) -> dict[str, Any]:
    """The OpenAPI operation of a model's POST predict route."""
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
                                 (404, "no such model"),
                                 (413, "body or record count over the limit"), (422, "a value the model cannot take"),
                                 (504, "no answer from the model in time"))}
    return {"post": {
        "summary": f"{title}: predict ({schema.task}) for a list of records",
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"oneOf": [
                {"type": "object", "properties": {"records": {"type": "array", "minItems": 1,
                                                              "items": {"$ref": record_ref}}},
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
    }}


def component_name(name: str) -> str:
    """The schema component of a model's record (``/`` is not allowed in component names; ``.`` is
    in no model name, so the mapping is one to one)."""
    return f"Record.{name.replace('/', '.')}"


def openapi(models: Sequence[tuple[str, ModelSchema, dict[str, Any]]], info: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document served at /openapi.json: ``models`` are (URL name, schema, /info entry).

    Every model has ``/models/NAME/predict`` (record schema ``Record.NAME``); a lone model also
    ``/predict``, and its record schema is ``Record``.
    """
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Error": _ERROR}
    single = len(models) == 1
    for name, schema, entry in models:
        title = str(entry.get("label") or name)
        component = "Record" if single else component_name(name)
        schemas[component] = record_schema(schema)
        operation = predict_operation(schema, title, f"#/components/schemas/{component}")
        if single:
            paths["/predict"] = operation
        paths[f"/models/{name}/predict"] = operation
        paths[f"/models/{name}/info"] = {"get": {"summary": f"{title}: the model and its schema",
                                                 "responses": {"200": {"description": "info"}}}}
    if single:
        entry = models[0][2]
        title = f"{entry.get('label') or entry.get('name', 'model')} predictions"
        version = str(entry.get("version") or "0")
    else:
        title = f"{len(models)} models: " + ", ".join(name for name, _, _ in models)
        version = "0"
    paths.update({
        "/health": {"get": {"summary": "200 ok when every worker serves, else 503",
                            "responses": {"200": {"description": "ok"}, "503": {"description": "not ready"}}}},
        "/info": {"get": {"summary": "the models and their schemas", "responses": {"200": {"description": "info"}}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "metrics"}}}},
    })
    return {"openapi": "3.1.0", "info": {"title": title, "version": version}, "paths": paths,
            "components": {"schemas": schemas}}


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}
code,pre{background:#f4f4f4;padding:.1em .3em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em}</style>
</head><body><h1 id="title">API</h1><p>This page is served by the model server itself; the machine-readable
description is <a href="openapi.json">/openapi.json</a>.</p><div id="routes"></div>
<div id="records"></div>
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
  const records = document.getElementById("records");
  for (const [key, record] of Object.entries(doc.components.schemas)) {
    if (key !== "Record" && !key.startsWith("Record.")) continue;
    const h = document.createElement("h2");
    h.textContent = key === "Record" ? "Record features" : "Record features of " + key.slice(7);
    records.appendChild(h);
    const table = document.createElement("table");
    table.insertRow().innerHTML = "<th>name</th><th>type</th><th>values</th>";
    for (const [name, s] of Object.entries(record.properties)) {
      const row = table.insertRow();
      row.insertCell().textContent = name;
      row.insertCell().textContent = s.description;
      row.insertCell().textContent = s.enum ? s.enum.map(v => JSON.stringify(v)).join(", ") : [].concat(s.type).join(" or ");
    }
    records.appendChild(table);
  }
});
</script></body></html>
"""


def docs_page() -> bytes:
    """The HTML of /docs (inline script only)."""
    return _PAGE.encode()
