/** The console's style sheet: a light, plain layout; colours match the chart series. */
export const CONSOLE_CSS = String.raw`
:root {
  --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #f6f7f9; --card: #fff;
  --accent: #2563eb; --green: #16a34a; --amber: #d97706; --red: #dc2626; --violet: #7c3aed;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; }
h1, h2 { margin: 0; font-weight: 600; }
h1 { font-size: 18px; }
h1 span { color: var(--muted); font-weight: 400; }
h2 { font-size: 13px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
[hidden] { display: none !important; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }

.bar { display: flex; align-items: center; gap: 16px; padding: 12px 24px; background: var(--card);
  border-bottom: 1px solid var(--line); }
.status { margin: 0 0 0 auto; color: var(--muted); }
.status::before { content: ""; display: inline-block; width: 8px; height: 8px; border-radius: 50%;
  margin-right: 6px; background: var(--muted); vertical-align: 1px; }
.status.live::before { background: var(--green); }
.status.failing::before { background: var(--red); }

main, .login { max-width: 1240px; margin: 20px auto; padding: 0 24px; }
.login { max-width: 460px; padding: 24px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 16px;
  margin: 0 0 16px; }
.card > h2, .head { margin-bottom: 12px; }
.head { display: flex; align-items: center; justify-content: space-between; }

button { font: inherit; border: 1px solid var(--accent); background: var(--accent); color: #fff;
  border-radius: 6px; padding: 6px 14px; cursor: pointer; }
button:hover { filter: brightness(1.08); }
button:disabled { opacity: .45; cursor: default; filter: none; }
button.quiet { background: transparent; color: var(--accent); }
button.small { padding: 2px 10px; font-size: 13px; }
button.link { background: none; border: 0; padding: 0; color: var(--accent);
  font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
button.link:hover { text-decoration: underline; filter: none; }
button:focus-visible, input:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
label { font-weight: 600; }
input { font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; padding: 6px 8px;
  border: 1px solid #cbd5e1; border-radius: 6px; min-width: 0; }
form { display: grid; gap: 8px; }
form.inline { display: flex; align-items: center; gap: 10px; }
form.inline input { flex: 1; max-width: 420px; }
.error { color: var(--red); min-height: 1.2em; margin: 8px 0 0; }
.error:empty { display: none; }

.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(128px, 1fr)); gap: 12px;
  margin-bottom: 16px; }
.tile { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.tile p { margin: 0; }
.big { font-size: 26px; font-weight: 600; font-variant-numeric: tabular-nums; margin-top: 4px !important; }
.big small { font-size: 12px; color: var(--muted); font-weight: 400; }
.sub { color: var(--muted); font-size: 12px; }
.circuit.closed { color: var(--green); }
.circuit.half_open { color: var(--amber); }
.circuit.open { color: var(--red); }
.circuit.none { color: var(--muted); font-size: 18px; }

.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
figure { margin: 0 0 16px; }
figcaption { display: flex; justify-content: space-between; align-items: baseline; margin-bottom: 8px; }
canvas { display: block; width: 100%; height: 170px; }
.legend { color: var(--muted); font-size: 12px; }
.legend i { display: inline-block; width: 12px; height: 3px; margin: 0 4px 3px 10px; }
.k-accepted { background: var(--accent); } .k-decided { background: var(--green); }
.k-p50 { background: var(--violet); } .k-p99 { background: var(--amber); }
.k-dead { background: var(--red); }
.range-bar { margin: 0 0 12px; gap: 16px; }
.ranges { display: flex; gap: 4px; }
.ranges button { padding: 4px 12px; }
.ranges button.on { background: var(--accent); color: #fff; }

.split { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
.mix { list-style: none; margin: 0; padding: 0; display: grid; gap: 8px; }
.mix li { display: grid; grid-template-columns: 96px 1fr 110px; align-items: center; gap: 10px; }
.mix .track { display: block; height: 10px; background: #f1f5f9; border-radius: 5px; overflow: hidden; }
.mix .fill { display: block; height: 100%; width: 0; border-radius: 5px; transition: width .3s; }
.mix .count { text-align: right; font-variant-numeric: tabular-nums; }
.d-allowed { background: #86efac; } .d-not_allowed { background: #fca5a5; }
.d-invalid { background: #fcd34d; } .d-unknown { background: #c026d3; }
.legend strong { color: #c026d3; }

table.grid { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
.grid th { text-align: left; font-weight: 600; color: var(--muted); font-size: 12px;
  border-bottom: 1px solid var(--line); padding: 6px 8px; }
.grid td { border-bottom: 1px solid var(--line); padding: 6px 8px; }
.grid .n { text-align: right; }
.grid tbody tr:last-child td { border-bottom: 0; }
.grid code { color: var(--ink); }
.empty { color: var(--muted); margin: 8px 0 0; }
.station-out_of_order { color: var(--red); font-weight: 600; }
.station-occupied { color: var(--amber); }
.pager { display: flex; align-items: center; gap: 8px; }
.pager .empty { margin-right: auto; }
.grid .actions { white-space: nowrap; }
.grid .actions button + button { margin-left: 6px; }
.letters { margin-top: 16px; border-top: 1px solid var(--line); padding-top: 12px; }
.letters h3 { font-size: 14px; margin: 0 0 8px; }
dialog.confirm { border: 1px solid var(--line); border-radius: 8px; padding: 20px; max-width: 480px;
  box-shadow: 0 8px 32px rgba(0,0,0,.2); }
dialog.confirm::backdrop { background: rgba(15,23,42,.35); }
.confirm h2 { margin-bottom: 8px; }
.confirm .hosts { margin: 8px 0 16px; padding-left: 18px; font-variant-numeric: tabular-nums; }
.confirm .actions { display: flex; justify-content: flex-end; gap: 8px; }

.summary { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 16px 0 0; }
.summary dt { color: var(--muted); }
.summary dd { margin: 0; overflow-wrap: anywhere; }
.timeline { list-style: none; margin: 16px 0 0; padding: 0 0 0 18px; border-left: 2px solid var(--line); }
.timeline li { position: relative; margin: 0 0 12px; padding-left: 8px; }
.timeline li::before { content: ""; position: absolute; left: -26px; top: 4px; width: 12px; height: 12px;
  border-radius: 50%; background: var(--card); border: 2px solid var(--muted); }
.timeline li.ok::before { border-color: var(--green); background: var(--green); }
.timeline li.bad::before { border-color: var(--red); background: var(--red); }
.timeline li.wait::before { border-color: var(--amber); }
.timeline .when { color: var(--muted); font-size: 12px; margin-left: 8px; font-variant-numeric: tabular-nums; }
.timeline .detail { color: var(--muted); margin-top: 2px; overflow-wrap: anywhere; }

.toast { position: fixed; right: 24px; bottom: 24px; background: var(--ink); color: #fff;
  padding: 10px 14px; border-radius: 8px; box-shadow: 0 4px 16px rgba(0,0,0,.15); max-width: 420px; }
`;
