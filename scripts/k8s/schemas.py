#!/usr/bin/env python3
"""Writes JSON schemas in kubeconform's layout from Kubernetes' own OpenAPI document.

kubeconform fetches its schemas from GitHub by default, which this project's machines cannot
reach, so they are made here from sources the Go module proxy serves: the OpenAPI (swagger)
document in the k8s.io/kubernetes module and the ServiceMonitor CRD in the
prometheus-operator module.

Layout: one `<kind>-<group>-<version>.json` per kind (kubeconform's
`{{ .ResourceKind }}{{ .KindSuffix }}.json`) that refers to `_definitions.json`, which holds
every definition. Like openapi2jsonschema's `--strict`, objects with declared properties
refuse unknown ones, so a misspelt field fails validation instead of being ignored; int-or-
string and quantity fields accept both forms, as the API server does.

Usage: schemas.py SWAGGER_JSON CRD_JSON... OUT_DIR
"""

import json
import os
import sys


def strict(schema):
    """Refuses unknown properties on every object schema that declares its properties."""
    if isinstance(schema, list):
        for item in schema:
            strict(item)
        return
    if not isinstance(schema, dict):
        return
    if schema.get("format") == "int-or-string":
        schema.pop("type", None)
        schema.pop("format", None)
        schema["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    if "properties" in schema and "additionalProperties" not in schema:
        schema["additionalProperties"] = False
    # Keys that hold a map of names to schemas, then keys that hold schemas.
    for key in ("properties", "definitions", "patternProperties"):
        for sub in schema.get(key, {}).values():
            strict(sub)
    for key in ("items", "additionalProperties", "allOf", "anyOf", "oneOf", "not"):
        if key in schema:
            strict(schema[key])


def kind_suffix(group, version):
    first = group.split(".")[0] if group else ""
    return f"-{first.lower()}-{version.lower()}" if first else f"-{version.lower()}"


def core(swagger_path, out):
    with open(swagger_path) as f:
        definitions = json.load(f)["definitions"]
    quantity = "io.k8s.apimachinery.pkg.api.resource.Quantity"
    if quantity in definitions:
        definitions[quantity] = {"oneOf": [{"type": "string"}, {"type": "number"}]}
    for definition in definitions.values():
        strict(definition)
    with open(os.path.join(out, "_definitions.json"), "w") as f:
        json.dump({"definitions": definitions}, f)
    written = 0
    for name, definition in definitions.items():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            file = f"{gvk['kind'].lower()}{kind_suffix(gvk['group'], gvk['version'])}.json"
            with open(os.path.join(out, file), "w") as f:
                json.dump({"$ref": f"_definitions.json#/definitions/{name}"}, f)
            written += 1
    return written


def crd(path, out):
    with open(path) as f:
        document = json.load(f)
    spec = document["spec"]
    written = 0
    for version in spec["versions"]:
        schema = version["schema"]["openAPIV3Schema"]
        strict(schema)
        # apiVersion, kind and metadata are the API server's, not the CRD's.
        schema.setdefault("properties", {}).update(
            {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
            }
        )
        file = f"{spec['names']['kind'].lower()}{kind_suffix(spec['group'], version['name'])}.json"
        with open(os.path.join(out, file), "w") as f:
            json.dump(schema, f)
        written += 1
    return written


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    swagger, crds, out = sys.argv[1], sys.argv[2:-1], sys.argv[-1]
    os.makedirs(out, exist_ok=True)
    count = core(swagger, out) + sum(crd(path, out) for path in crds)
    print(f"wrote {count} schemas to {out}")


if __name__ == "__main__":
    main()
