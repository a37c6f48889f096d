"""Jinja2 templates of ``viddiff report``: a self-contained HTML page and its Markdown twin."""

from __future__ import annotations

HTML_TEMPLATE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title>
<style>
 body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1180px;color:#222;padding:0 16px}
 h1{font-size:1.5em;margin-bottom:.2em} h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
 .meta{color:#666;font-size:.9em}
 table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
 th,td{border:1px solid #ddd;padding:4px 8px;text-align:right} th{background:#f4f4f4}
 td.name,th.name{text-align:left} tr.human td{font-style:italic;background:#f8f8ff} tr.same td{color:#555}
 .note{color:#666;font-size:.85em;max-width:900px}
 .fig{margin:1em 0} .fig img{max-width:100%;border:1px solid #eee}
 .pair{border:1px solid #ddd;border-radius:6px;padding:10px 14px;margin:1.2em 0}
 .kp{display:grid;grid-template-columns:80px 1fr 1fr;gap:14px;align-items:start;margin:.5em 0}
 .kp .lbl{font-weight:600;padding-top:4px;overflow-wrap:anywhere}
 .vid{border-left:3px solid #4C72B0;padding-left:8px;min-width:0} .vid.B{border-color:#DD8452}
 .marks{display:flex;gap:6px;flex-wrap:wrap} figure{margin:0;text-align:center;font-size:.74em;color:#444;width:132px}
 figure img{display:block;border:1px solid #ccc;width:128px;margin:0 auto}
 .noimg{width:128px;height:72px;border:1px dashed #ccc;display:flex;align-items:center;justify-content:center;color:#999;margin:0 auto}
 .ok{color:#1a7f37;font-weight:600} .bad{color:#c62828;font-weight:600} .c{color:#888}
 td.stmt{text-align:left;max-width:480px}
</style></head><body>
<h1>{{ title }}</h1>
<p class="meta">Dataset: <code>{{ dataset or "(none given)" }}</code>{% if dataset_name %} ({{ dataset_name }}){% endif %}
 · viddiff-toolkit {{ toolkit_version }} · runs: {% for r in runs %}<code>{{ r.name }}</code>{% if not loop.last %}, {% endif %}{% endfor %}</p>

<h2>Leaderboard: closed accuracy</h2>
{% if tables.closed.rows %}
<table><tr><th class="name">run</th>{% for c in tables.closed.columns %}<th>{{ c }}</th>{% endfor %}<th>unknown keys</th></tr>
{% for row in tables.closed.rows %}<tr><td class="name" title="{{ row.origin }}">{{ row.name }}</td>
{% for cell in row.cells %}<td title="{{ cell.title }}">{{ cell.text }}</td>{% endfor %}<td>{{ row.unknown }}</td></tr>
{% endfor %}</table>
<p class="note">Only differences labelled a or b are scored; a missing or c answer is wrong. * = exact two-sided
binomial test against 50% gives p &lt; 0.05 (hover a cell for n, the 95% Wilson interval and p). Avg = mean of the
split accuracies (the public leaderboard's average); All = pooled over items.</p>
{% else %}<p class="note">No closed results.</p>{% endif %}

<h2>Leaderboard: open recall@N<sub>diff</sub></h2>
{% if tables.open.rows %}
<table><tr><th class="name">run</th>{% for c in tables.open.columns %}<th>{{ c }}</th>{% endfor %}<th class="name">judge</th></tr>
{% for row in tables.open.rows %}<tr><td class="name">{{ row.name }}</td>{% for c in row.cells %}<td>{{ c }}</td>{% endfor %}
<td class="name">{{ row.judge }}{% if not row.comparable %} <b>(not comparable to the published leaderboard: {{ row.why }})</b>{% endif %}</td></tr>
{% endfor %}</table>
{% else %}<p class="note">No open results (run <code>viddiff eval open</code> first).</p>{% endif %}

<h2>Localization against annotated keypoints</h2>
{% if tables.localization.rows %}
<table><tr><th class="name">run</th>{% for c in tables.localization.columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for row in tables.localization.rows %}<tr class="{{ row.kind }}"><td class="name">{{ row.name }}</td>{% for c in row.cells %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</table>
<p class="note">Error = |first predicted frame − first annotated frame|, in frames, seconds (clip fps) and as a share
of the clip length; hits are inclusive; missing keypoints are not in the errors. Human vs human compares two
annotators of the same pair, the ceiling for a model.</p>
{% else %}<p class="note">No localization results.</p>{% endif %}
{% for name, t in tables.items() if name not in ("closed", "open", "localization") and t.rows %}
<h2>{{ t.title or name }}</h2>
<table><tr><th class="name">run</th>{% for c in t.columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for row in t.rows %}<tr><td class="name">{{ row.name }}</td>{% for c in row.cells %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% endfor %}

{% for f in figures %}<div class="fig" id="{{ f.id }}"><h2>{{ f.title }}</h2>
<img alt="{{ f.title }}" src="data:image/png;base64,{{ f.png | b64 }}"></div>{% endfor %}

{% if strips %}<h2>Pairs: localized frames of A against B</h2>{% endif %}
{% for s in strips %}<div class="pair">
<h3>{{ s.sample_key }} <span class="meta">{{ s.action }} · {{ s.split }} · {{ s.description }}</span></h3>
{% for kp in s.keypoints %}<div class="kp"><div class="lbl">{{ kp.loc_id }}</div>
{% for v in kp.videos %}<div class="vid {{ v.name }}"><div><b>video {{ v.name }}</b> <span class="meta">{{ '%g' % v.fps }} fps</span></div><div class="marks">
{% for m in v.marks %}<figure>{% if m.img %}<img src="{{ m.img }}" alt="{{ v.name }} {{ m.label }} frame {{ m.frame }}">{% else %}<div class="noimg">{{ "no frame" if m.frame is none else "frame " ~ m.frame }}</div>{% endif %}
<figcaption>{{ m.label }}: {{ "–" if m.frame is none else "frame " ~ m.frame ~ " · " ~ m.time }}{% if m.err %}<br>{{ m.err }}{% endif %}</figcaption></figure>
{% endfor %}</div></div>{% endfor %}</div>{% endfor %}
<table><tr><th>key</th><th class="name">statement</th><th class="name">keypoints</th><th>truth</th>{% for a in (s.statements[0].answers if s.statements else []) %}<th>{{ a.run }}</th>{% endfor %}</tr>
{% for st in s.statements %}<tr><td>{{ st.key }}</td><td class="stmt">{{ st.text }}</td><td class="name">{{ st.keypoints }}</td><td>{{ st.gt }}</td>
{% for a in st.answers %}<td class="{{ 'ok' if a.ok else ('c' if a.ok is none else 'bad') }}">{{ a.answer }}{% if a.ok %} ✓{% elif a.ok is not none %} ✗{% endif %}{% if a.frames %}<br><span class="meta" title="frames this run looked at">{{ a.frames }}</span>{% endif %}</td>{% endfor %}</tr>
{% endfor %}</table></div>
{% endfor %}

<h2>Runs</h2>
<table><tr><th class="name">run</th><th class="name">folder</th><th class="name">metrics from</th></tr>
{% for r in runs %}<tr><td class="name">{{ r.name }}</td><td class="name"><code>{{ r.path }}</code></td>
<td class="name">{% for t, o in r.origin.items() %}{{ t }}: <code>{{ o }}</code><br>{% endfor %}</td></tr>{% endfor %}</table>
</body></html>
"""

MD_TEMPLATE = r"""# {{ title }}

Dataset: `{{ dataset or "(none given)" }}`{% if dataset_name %} ({{ dataset_name }}){% endif %} · viddiff-toolkit {{ toolkit_version }}

## Leaderboard: closed accuracy
{% if tables.closed.rows %}
| run | {% for c in tables.closed.columns %}{{ c }} | {% endfor %}unknown keys |
|---|{% for c in tables.closed.columns %}---:|{% endfor %}---:|
{% for row in tables.closed.rows %}| {{ row.name | md }} | {% for cell in row.cells %}{{ cell.text }} | {% endfor %}{{ row.unknown }} |
{% endfor %}
Only a/b ground truth is scored; missing or c answers are wrong. `*` = exact two-sided binomial test vs 50%, p < 0.05.
Avg = mean of split accuracies; All = pooled.
{% else %}
No closed results.
{% endif %}
## Leaderboard: open recall@N_diff
{% if tables.open.rows %}
| run | {% for c in tables.open.columns %}{{ c }} | {% endfor %}judge |
|---|{% for c in tables.open.columns %}---:|{% endfor %}---|
{% for row in tables.open.rows %}| {{ row.name | md }} | {% for c in row.cells %}{{ c }} | {% endfor %}{{ row.judge | md }}{% if not row.comparable %} (not comparable to the published leaderboard: {{ row.why | md }}){% endif %} |
{% endfor %}
{% else %}
No open results.
{% endif %}
## Localization against annotated keypoints
{% if tables.localization.rows %}
| run | {% for c in tables.localization.columns %}{{ c }} | {% endfor %}
|---|{% for c in tables.localization.columns %}---:|{% endfor %}
{% for row in tables.localization.rows %}| {{ row.name | md }} | {% for c in row.cells %}{{ c }} | {% endfor %}
{% endfor %}
{% else %}
No localization results.
{% endif %}
{% for name, t in tables.items() if name not in ("closed", "open", "localization") and t.rows %}
## {{ t.title or name }}
| run | {% for c in t.columns %}{{ c }} | {% endfor %}
|---|{% for c in t.columns %}---:|{% endfor %}
{% for row in t.rows %}| {{ row.name | md }} | {% for c in row.cells %}{{ c }} | {% endfor %}
{% endfor %}
{% endfor %}
{% for f in figures %}
## {{ f.title }}

![{{ f.title }}]({{ fig_dir }}/{{ f.id }}.png)
{% endfor %}
{% if strips %}
## Pairs: keypoints and answers
{% endif %}
{% for s in strips %}
### {{ s.sample_key }} ({{ s.action }}, {{ s.split }})

| keypoint | video | {% for m in s.keypoints[0].videos[0].marks %}{{ m.label | md }} | {% endfor %}
|---|---|{% for m in s.keypoints[0].videos[0].marks %}---:|{% endfor %}
{% for kp in s.keypoints %}{% for v in kp.videos %}| {{ kp.loc_id }} | {{ v.name }} | {% for m in v.marks %}{{ "–" if m.frame is none else m.frame ~ " (" ~ m.time ~ ")" }} | {% endfor %}
{% endfor %}{% endfor %}
| key | statement | truth | {% for a in (s.statements[0].answers if s.statements else []) %}{{ a.run | md }} | {% endfor %}
|---|---|---|{% for a in (s.statements[0].answers if s.statements else []) %}---|{% endfor %}
{% for st in s.statements %}| {{ st.key }} | {{ st.text | md }} | {{ st.gt }} | {% for a in st.answers %}{{ a.answer }}{% if a.ok %} ✓{% elif a.ok is not none %} ✗{% endif %} | {% endfor %}
{% endfor %}
{% endfor %}
"""
