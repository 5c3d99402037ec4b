#!/usr/bin/env python3
"""Validates rendered Kubernetes manifests offline.

  validate.py --crds DIR --kubernetes-version V [--kubernetes-version V ...] FILE...

Built-in kinds are checked against the Kubernetes API schemas that the
kubernetes-validate package bundles, strictly (an unknown field is an error,
as `kubectl apply` makes it). Kinds a CustomResourceDefinition in DIR defines
(the Prometheus Operator's) are checked against that CRD's openAPIV3Schema,
with unknown fields refused as the API server's strict field validation
refuses them. Any other kind is an error: nothing passes unchecked. Prints
one line per problem and exits 1 when there is any."""
import argparse
import copy
import sys

import jsonschema
import kubernetes_validate
import yaml


def strict(schema):
    """The schema with unknown properties refused wherever it lists the known
    ones and does not say to keep the unknown (x-kubernetes-preserve-unknown-fields)."""
    s = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if ('properties' in node and 'additionalProperties' not in node
                    and not node.get('x-kubernetes-preserve-unknown-fields')):
                node['additionalProperties'] = False
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(s)
    return s


def crd_schemas(directory):
    import os
    out = {}
    for f in sorted(os.listdir(directory)):
        if not f.endswith(('.yaml', '.yml')):
            continue
        with open(os.path.join(directory, f)) as fh:
            for doc in yaml.safe_load_all(fh):
                if not doc or doc.get('kind') != 'CustomResourceDefinition':
                    continue
                group = doc['spec']['group']
                kind = doc['spec']['names']['kind']
                for v in doc['spec']['versions']:
                    schema = v['schema']['openAPIV3Schema']
                    out[(f'{group}/{v["name"]}', kind)] = strict(schema)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--crds', required=True)
    ap.add_argument('--kubernetes-version', action='append', required=True)
    ap.add_argument('files', nargs='+')
    args = ap.parse_args()
    crds = crd_schemas(args.crds)
    problems = []
    count = 0
    for path in args.files:
        with open(path) as fh:
            docs = [d for d in yaml.safe_load_all(fh) if d]
        for doc in docs:
            count += 1
            where = f'{path}: {doc.get("kind")}/{doc.get("metadata", {}).get("name")}'
            key = (doc.get('apiVersion'), doc.get('kind'))
            if key in crds:
                validator = jsonschema.Draft7Validator(crds[key])
                for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
                    at = '.'.join(str(p) for p in e.absolute_path)
                    problems.append(f'{where}: {at}: {e.message}')
                continue
            if '.coreos.com/' in str(key[0]):
                problems.append(f'{where}: no CRD for {key[0]} {key[1]} in {args.crds}')
                continue
            for version in args.kubernetes_version:
                try:
                    kubernetes_validate.validate(doc, version, strict=True)
                except kubernetes_validate.ValidationError as e:
                    at = '.'.join(str(p) for p in e.path)
                    problems.append(f'{where}: Kubernetes {version}: {at}: {e.message}')
                except kubernetes_validate.SchemaNotFoundError:
                    problems.append(f'{where}: Kubernetes {version} has no {key[0]} {key[1]}')
    for p in problems:
        print(p)
    if not count:
        print('no objects')
        sys.exit(1)
    sys.exit(1 if problems else 0)


if __name__ == '__main__':
    main()
