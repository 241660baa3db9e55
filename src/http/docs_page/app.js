'use strict';
/*
 * The API reference page (GET /api/docs): renders /api/docs/openapi.json grouped by tag and lets the reader try a route
 * with fetch(). Vanilla JS, no third-party code, nothing loaded from outside this origin (CSP default-src 'self').
 * DOM built with createElement/textContent only: nothing from the document or a response is parsed as HTML.
 */
(function () {
    const TOKEN_KEY = 'hl-docs-token';
    let spec = null;

    function el(tag, attrs, ...children) {
        const e = document.createElement(tag);
        for (const [k, v] of Object.entries(attrs || {})) {
            if (k === 'class') e.className = v;
            else if (k === 'text') e.textContent = v;
            else e.setAttribute(k, v);
        }
        for (const c of children) if (c != null) e.append(c);
        return e;
    }

    function resolve(schema) {
        if (schema && schema.$ref) return spec.components.schemas[schema.$ref.split('/').pop()] || {};
        return schema || {};
    }

    /* A short, readable rendering of a JSON schema (refs shown by name, expanded one level at the top). */
    function render(schema, depth) {
        if (!schema) return 'empty';
        if (schema.$ref) {
            const name = schema.$ref.split('/').pop();
            return depth === 0 ? `${name} ${render(resolve(schema), 1)}` : name;
        }
        if (schema.allOf) return render(schema.allOf[0], depth) + ' | null';
        const nul = schema.nullable ? ' | null' : '';
        if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(' | ') + nul;
        if (schema.type === 'array') return `[${render(schema.items, depth + 1)}]${nul}`;
        if (schema.type === 'object' && schema.properties) {
            if (depth > 3) return 'object' + nul;
            const pad = '  '.repeat(depth + 1);
            const lines = Object.entries(schema.properties).map(([k, v]) => `${pad}${k}: ${render(v, depth + 1)}`);
            return `{\n${lines.join(',\n')}\n${'  '.repeat(depth)}}${nul}`;
        }
        if (schema.type) return schema.type + (schema.format ? ` (${schema.format})` : '') + nul;
        return 'any';
    }

    function token() {
        return sessionStorage.getItem(TOKEN_KEY) || '';
    }

    function paramTable(params) {
        if (!params.length) return null;
        const t = el('table', {}, el('tr', {}, el('th', { text: 'name' }), el('th', { text: 'in' }), el('th', { text: 'type' })));
        for (const p of params)
            t.append(el('tr', {}, el('td', {}, el('code', { text: p.name })), el('td', { text: p.in }),
                el('td', { text: render(p.schema, 1) })));
        return t;
    }

    function responsesTable(responses) {
        const t = el('table', {}, el('tr', {}, el('th', { text: 'status' }), el('th', { text: 'codes / body' })));
        for (const [status, r] of Object.entries(responses)) {
            const codes = r['x-error-codes'];
            const content = r.content ? Object.entries(r.content)[0] : null;
            let cell;
            if (codes) cell = el('td', {}, ...codes.map((c, i) => el('code', { text: (i ? ', ' : '') + c })));
            else if (content) cell = el('td', {}, el('div', { text: content[0] }), el('pre', { text: render(content[1].schema, 0) }));
            else cell = el('td', { text: r.description || '' });
            t.append(el('tr', {}, el('td', { class: 'status', text: status }), cell));
        }
        return t;
    }

    function tryIt(path, method, op) {
        const box = el('div', { class: 'try' }, el('strong', { text: 'Try it' }));
        const inputs = [];
        for (const p of op.parameters || []) {
            const input = el('input', { type: 'text', 'data-name': p.name, 'data-in': p.in, placeholder: p.in });
            inputs.push(input);
            box.append(el('label', {}, `${p.name} (${p.in})`, input));
        }
        let body = null;
        const json = op.requestBody && op.requestBody.content && op.requestBody.content['application/json'];
        if (json) {
            body = el('textarea', { spellcheck: 'false', 'aria-label': 'JSON body' });
            body.value = '{}';
            box.append(el('label', {}, 'JSON body', body));
        }
        const send = el('button', { type: 'button', class: 'send', text: 'Send' });
        const statusOut = el('div', { class: 'result-status' });
        const out = el('pre', { class: 'result-body hidden' });
        box.append(send, statusOut, out);
        send.addEventListener('click', async () => {
            let url = path;
            const query = new URLSearchParams();
            for (const i of inputs) {
                const v = i.value;
                if (i.dataset.in === 'path') url = url.replace(`{${i.dataset.name}}`, encodeURIComponent(v));
                else if (v !== '') query.append(i.dataset.name, v);
            }
            if ([...query].length) url += '?' + query.toString();
            const headers = {};
            if (op['x-auth'] !== 'none' && token()) headers.Authorization = `Bearer ${token()}`;
            const init = { method: method.toUpperCase(), headers };
            if (body) {
                headers['Content-Type'] = 'application/json';
                init.body = body.value;
            }
            statusOut.textContent = 'Sending…';
            out.classList.add('hidden');
            try {
                const r = await fetch(url, init);
                const ct = r.headers.get('content-type') || '';
                let text;
                if (ct.includes('text/event-stream')) {
                    text = '(event stream: open it with EventSource or curl -N)';
                    r.body && r.body.cancel();
                } else {
                    text = await r.text();
                    if (ct.includes('application/json')) {
                        try {
                            text = JSON.stringify(JSON.parse(text), null, 2);
                        } catch (e) {
                            /* shown as received */
                        }
                    }
                }
                statusOut.textContent = `${r.status} ${r.statusText}`;
                statusOut.dataset.status = String(r.status);
                out.textContent = text;
                out.classList.remove('hidden');
            } catch (e) {
                statusOut.textContent = `request failed: ${e.message}`;
                statusOut.dataset.status = 'error';
            }
        });
        return box;
    }

    function operation(path, method, op) {
        const auth = op['x-auth'] === 'device' ? 'bearer' : op['x-auth'] === 'connect-token' ? 'connect token' : 'public';
        const summary = el('summary', {}, el('span', { class: `method m-${method}`, text: method }),
            el('span', { class: 'path', text: path }), el('span', { class: 'auth', text: auth }),
            op['x-undocumented'] ? el('span', { class: 'undoc', text: 'undocumented' }) : null,
            el('span', { class: 'summary', text: op.summary || '' }));
        const d = el('details', { class: 'op', 'data-op': `${method.toUpperCase()} ${path}` }, summary);
        const body = el('div', { class: 'body' });
        d.append(body);
        /* the details are built on first open: ~100 routes render fast */
        d.addEventListener('toggle', () => {
            if (!d.open || body.childElementCount) return;
            body.append(el('p', {}, `Auth: ${auth}`));
            const params = paramTable(op.parameters || []);
            if (params) body.append(el('h4', { text: 'Parameters' }), params);
            if (op.requestBody) {
                const [type, media] = Object.entries(op.requestBody.content)[0];
                body.append(el('h4', { text: `Request body (${type})` }), el('pre', { text: render(media.schema, 0) }));
            }
            body.append(el('h4', { text: 'Responses' }), responsesTable(op.responses || {}));
            body.append(tryIt(path, method, op));
        });
        return d;
    }

    function build() {
        document.getElementById('version').textContent = `v${spec.info.version}`;
        const main = document.getElementById('routes');
        const toc = document.getElementById('toc');
        main.textContent = '';
        const groups = new Map((spec.tags || []).map((t) => [t.name, []]));
        for (const [path, item] of Object.entries(spec.paths))
            for (const [method, op] of Object.entries(item)) {
                const tag = (op.tags && op.tags[0]) || 'Other';
                if (!groups.has(tag)) groups.set(tag, []);
                groups.get(tag).push(operation(path, method, op));
            }
        for (const [tag, ops] of groups) {
            const id = `tag-${tag.replace(/[^A-Za-z0-9]/g, '-')}`;
            toc.append(el('a', { href: `#${id}`, text: `${tag} (${ops.length})` }));
            main.append(el('section', { id, class: 'tag' }, el('h2', { text: tag }), ...ops));
        }
    }

    function filter(q) {
        q = q.trim().toLowerCase();
        for (const d of document.querySelectorAll('details.op')) {
            const hay = d.dataset.op.toLowerCase() + ' ' + d.querySelector('.summary').textContent.toLowerCase();
            d.classList.toggle('hidden', q !== '' && !hay.includes(q));
        }
    }

    document.addEventListener('DOMContentLoaded', async () => {
        const input = document.getElementById('token');
        input.value = token();
        input.addEventListener('input', () => sessionStorage.setItem(TOKEN_KEY, input.value.trim()));
        document.getElementById('token-clear').addEventListener('click', () => {
            sessionStorage.removeItem(TOKEN_KEY);
            input.value = '';
        });
        document.getElementById('filter').addEventListener('input', (e) => filter(e.target.value));
        try {
            const r = await fetch('/api/docs/openapi.json');
            spec = await r.json();
            build();
            document.body.dataset.ready = '1';
        } catch (e) {
            document.getElementById('routes').textContent = `Cannot load openapi.json: ${e.message}`;
        }
    });
})();
