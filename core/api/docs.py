"""The API's documentation page, ``/api/v1/docs``: one self-contained HTML file.

Swagger UI and ReDoc load their scripts from a CDN and no Python package ships them, so this
page loads nothing from any other host: an inline script reads ``openapi.json`` from this
server and lists every operation with its parameters, body and answers.
"""

DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vorm API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#222}
h1{margin-bottom:.2rem} code,pre{font:13px ui-monospace,monospace;background:#f4f4f6;border-radius:4px}
pre{padding:.6rem;overflow:auto} code{padding:1px 4px}
.op{border:1px solid #ddd;border-radius:6px;margin:.8rem 0;padding:.6rem .9rem}
.m{display:inline-block;min-width:4.5rem;font-weight:600;text-transform:uppercase}
.get{color:#0a6}.post{color:#06c}.patch{color:#a60}.delete{color:#c33} .muted{color:#666}
</style></head><body>
<h1>Vorm API</h1>
<p class="muted">The machine-readable document: <a href="openapi.json">openapi.json</a> (OpenAPI 3.1).</p>
<div id="intro"></div><div id="ops">Loading&hellip;</div>
<script>
const esc = s => String(s ?? '').replace(/[&<>"]/g,
  c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
const ref = (doc, s) => {
  while (s && s.$ref) { s = s.$ref.split('/').slice(1).reduce((o, k) => o[k], doc); }
  return s;
};
fetch('openapi.json').then(r => r.json()).then(doc => {
  document.getElementById('intro').innerHTML = '<p>' + esc(doc.info.description) + '</p>';
  const base = (doc.servers && doc.servers[0] && doc.servers[0].url) || '';
  let html = '';
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      html += '<div class="op"><span class="m ' + method + '">' + method + '</span><code>' + esc(base + path) +
              '</code> ' + esc(op.summary) + '<ul>';
      for (const p of op.parameters || []) {
        html += '<li><code>' + esc(p.name) + '</code> (' + esc(p.in) + (p.required ? ', required' : '') + ') ' +
                esc((p.schema && p.schema.description) || p.description || '') + '</li>';
      }
      const body = op.requestBody && op.requestBody.content;
      if (body) {
        for (const [type, media] of Object.entries(body)) {
          const schema = ref(doc, media.schema) || {};
          const fields = Object.keys(schema.properties || {}).map(f => '<code>' + esc(f) + '</code>').join(', ');
          html += '<li>body ' + esc(type) + ': ' + fields + '</li>';
        }
      }
      html += '<li>answers: ' + Object.keys(op.responses || {}).map(esc).join(', ') + '</li></ul></div>';
    }
  }
  document.getElementById('ops').innerHTML = html;
}).catch(e => { document.getElementById('ops').textContent = 'Could not load openapi.json: ' + e; });
</script></body></html>
"""
