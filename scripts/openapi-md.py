#!/usr/bin/env python3
"""Renders controlplane/web/openapi.json (the admin API's description) as docs/REST.md.

    scripts/openapi-md.py            writes docs/REST.md
    scripts/openapi-md.py --check    exits 1 when docs/REST.md is not what the document says
"""
import json
import os
import sys

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
doc = json.load(open(os.path.join(top, 'controlplane', 'web', 'openapi.json'), encoding='utf-8'))


def schema_name(s):
    if not s:
        return ''
    if '$ref' in s:
        return s['$ref'].split('/')[-1]
    if s.get('type') == 'array':
        return 'list of ' + schema_name(s.get('items'))
    return s.get('type', '')


def render():
    out = ['# Funkhaus admin REST API', '',
           '<!-- rendered from controlplane/web/openapi.json by scripts/openapi-md.py; '
           'edit that, not this -->', '',
           doc['info']['description'], '',
           'Base path: `%s`. The document itself: `GET /api/v1/openapi.json`.' %
           doc['servers'][0]['url'], '', '## Endpoints', '']
    for path, item in doc['paths'].items():
        for method in ('get', 'post', 'put', 'patch', 'delete'):
            op = item.get(method)
            if not op:
                continue
            out.append('### `%s /api/v1%s`' % (method.upper(), path))
            out.append('')
            out.append(op['summary'] + ('. ' + op['description'] if op.get('description') else ''))
            out.append('')
            body = op.get('requestBody')
            if body:
                s = body['content']['application/json']['schema']
                out.append('Body: `%s`, %s' % (schema_name(s), body.get('description', '')))
                out.append('')
            out.append('| status | meaning |')
            out.append('|---|---|')
            for code, r in op['responses'].items():
                s = r.get('content', {}).get('application/json', {}).get('schema')
                what = r['description'] + (' (`%s`)' % schema_name(s) if s else '')
                out.append('| %s | %s |' % (code, what))
            out.append('')
    out += ['## Objects', '']
    for name, s in doc['components']['schemas'].items():
        out.append('### %s' % name)
        out.append('')
        if s.get('description'):
            out.append(s['description'])
            out.append('')
        props = dict(s.get('properties', {}))
        for part in s.get('allOf', []):
            if '$ref' in part:
                out.append('Everything of `%s`, and:' % schema_name(part))
                out.append('')
            props.update(part.get('properties', {}))
        if props:
            out.append('| field | type | meaning |')
            out.append('|---|---|---|')
            for k, v in props.items():
                t = schema_name(v) if ('$ref' in v or v.get('type') == 'array') else v.get('type', 'object')
                if 'enum' in v:
                    t += ': ' + ' \\| '.join(v['enum'])
                out.append('| `%s` | %s | %s |' % (k, t, v.get('description', '')))
            out.append('')
    return '\n'.join(out)


text = render()
path = os.path.join(top, 'docs', 'REST.md')
if len(sys.argv) > 1 and sys.argv[1] == '--check':
    if not os.path.exists(path) or open(path, encoding='utf-8').read() != text:
        print('docs/REST.md is not what openapi.json says: run scripts/openapi-md.py')
        sys.exit(1)
    print('docs/REST.md matches openapi.json')
else:
    open(path, 'w', encoding='utf-8').write(text)
