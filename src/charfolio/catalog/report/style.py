"""The report's stylesheet, inlined into the page (no web fonts, no external files)."""

CSS = """
:root {
  --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --bg: #f4f6f8; --card: #ffffff;
  --teal: #2a9d8f; --navy: #264653; --warn: #b54708; --warn-bg: #fff4e5;
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    "Noto Sans", "DejaVu Sans", sans-serif;
}
.wrap { max-width: 1200px; margin: 0 auto; padding: 0 28px; }
header { background: var(--navy); color: #fff; padding: 26px 0 22px; }
header .kicker { margin: 0; text-transform: uppercase; letter-spacing: .08em; font-size: 12px;
  opacity: .75; }
header h1 { margin: 2px 0 14px; font-size: 34px; font-weight: 650; letter-spacing: -.01em; }
header dl { display: grid; grid-template-columns: max-content 1fr; gap: 3px 18px; margin: 0;
  font-size: 14px; }
header dt { opacity: .7; }
header dd { margin: 0; }
nav { position: sticky; top: 0; z-index: 1; background: #fff; border-bottom: 1px solid var(--line); }
nav .wrap { display: flex; flex-wrap: wrap; gap: 4px 18px; padding-top: 9px; padding-bottom: 9px; }
nav a { color: var(--navy); text-decoration: none; font-size: 13.5px; font-weight: 550; }
nav a:hover { text-decoration: underline; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 20px 26px 24px; margin: 22px 0; scroll-margin-top: 52px; }
h2 { font-size: 21px; margin: 0 0 12px; font-weight: 650; }
h3 { font-size: 15.5px; margin: 22px 0 8px; font-weight: 600; }
h3 .dim, .dim { color: var(--muted); font-weight: 400; }
.lead { color: var(--muted); margin: 0 0 12px; max-width: 80ch; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.card .label { color: var(--muted); font-size: 13px; }
.card .value { font-size: 25px; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .sub { color: var(--muted); font-size: 13px; }
.card.warn { background: var(--warn-bg); border-color: #f5c98c; }
.card.warn .sub { color: var(--warn); }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px;
  background: #e3f5f1; color: #17665c; margin-left: 6px; }
.badge.collapse, .badge.too_few { background: var(--warn-bg); color: var(--warn); }
table { border-collapse: collapse; font-size: 13.5px; font-variant-numeric: tabular-nums;
  margin: 4px 0 8px; }
th, td { padding: 4px 12px 4px 0; border-bottom: 1px solid var(--line); text-align: left; }
th { color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; }
th.num { padding-left: 8px; }
.columns { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 12px 48px; }
.charts { display: flex; flex-wrap: wrap; gap: 8px 20px; }
svg.chart { max-width: 100%; height: auto; overflow: visible; }
svg text { font-family: inherit; font-size: 12px; fill: var(--ink); }
svg text.title { font-size: 13px; font-weight: 600; }
svg text.tick { font-size: 11px; fill: var(--muted); }
svg text.note { font-size: 11.5px; fill: var(--muted); }
svg text.value { font-size: 12.5px; font-weight: 600; }
svg text.label { font-size: 13px; }
svg text.marker { font-size: 11px; font-weight: 600; }
svg .track { fill: #f0f2f5; }
svg .grid { stroke: #eceff3; }
svg .axis { stroke: #9aa5b1; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 12.5px; color: var(--muted);
  margin-bottom: 6px; }
.legend i { display: inline-block; width: 11px; height: 11px; border-radius: 2px;
  margin-right: 5px; vertical-align: -1px; }
.sheet { display: grid; grid-template-columns: repeat(auto-fill, 116px); gap: 10px 8px; }
.thumb { margin: 0; width: 116px; }
.thumb img, .thumb .missing { display: block; width: 112px; height: 112px; object-fit: contain;
  background: #eef0f3; border-radius: 4px; border: 2px solid transparent; }
.thumb.val img { border-color: #e9a23b; }
.thumb.dimmed img { opacity: .45; filter: grayscale(.6); }
.thumb .missing { display: flex; align-items: center; justify-content: center;
  color: var(--muted); font-size: 12px; }
.thumb figcaption { font-size: 11.5px; color: var(--muted); white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; padding-left: 2px; }
.more { color: var(--muted); font-size: 13px; margin: 6px 0 0; }
footer { text-align: center; color: var(--muted); font-size: 12.5px; padding: 8px 0 28px; }
"""
