/** The console's stylesheet: system fonts, high contrast, visible focus, no images. */
export const CONSOLE_CSS = String.raw`
:root { color-scheme: light; --fg: #1a1a1a; --muted: #4a4a4a; --line: #c8c8c8; --bg: #fff; --band: #f3f4f6;
  --ok: #0b6b2f; --warn: #8a4b00; --bad: #a11212; --info: #114a8f; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
.skip { position: absolute; left: -9999px; }
.skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem; z-index: 2; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.top { display: flex; align-items: center; gap: 1rem; padding: .6rem 1.2rem; background: #16324f; color: #fff; }
.top h1 { font-size: 1.2rem; margin: 0; flex: 1; }
.live-state { margin: 0; font-size: .9rem; }
.top button { background: #fff; color: #16324f; }
nav ul { display: flex; gap: 1.2rem; list-style: none; margin: 0; padding: .5rem 1.2rem; background: var(--band); border-bottom: 1px solid var(--line); }
nav a { color: var(--info); }
main { padding: 0 1.2rem 3rem; }
main:focus { outline: none; }
section { margin-top: 1.5rem; }
h2 { font-size: 1.15rem; border-bottom: 2px solid var(--line); padding-bottom: .2rem; }
h3 { font-size: 1rem; margin-bottom: .3rem; }
button { font: inherit; padding: .3rem .8rem; border: 1px solid #555; border-radius: 4px; background: #f7f7f7; color: var(--fg); cursor: pointer; }
button:disabled { opacity: .5; cursor: default; }
button.danger { border-color: var(--bad); color: var(--bad); }
button.link { border: 0; background: none; padding: 0; color: var(--info); text-decoration: underline; font-family: ui-monospace, monospace; font-size: .85rem; }
:focus-visible { outline: 3px solid #f5a623; outline-offset: 2px; }
input, select { font: inherit; padding: .25rem .4rem; border: 1px solid #666; border-radius: 4px; }
label { display: block; font-size: .85rem; color: var(--muted); }
.filters { display: flex; flex-wrap: wrap; gap: .8rem; align-items: flex-end; margin-bottom: .6rem; }
.filters .actions { display: flex; gap: .4rem; }
#sign-in-form { max-width: 34rem; display: grid; gap: .5rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--band); font-weight: 600; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .85rem; }
.status { display: inline-block; padding: 0 .45rem; border-radius: 3px; font-size: .8rem; font-weight: 600; border: 1px solid currentColor; }
.status-confirmed, .state-acked, .breaker-closed { color: var(--ok); }
.status-pending, .status-reserved, .state-delivered, .state-waiting, .breaker-half-open { color: var(--warn); }
.status-cancelled, .state-dead_lettered, .breaker-open { color: var(--bad); }
.priority-express { color: var(--info); }
.flash { animation: flash 1.2s ease-out; }
@keyframes flash { from { background: #fff3c4; } to { background: transparent; } }
.pager { display: flex; gap: .5rem; margin-top: .5rem; }
.hint { color: var(--muted); font-size: .85rem; margin: .2rem 0 .5rem; }
.notice { position: sticky; top: 0; z-index: 1; background: var(--bg); min-height: 1.4em; margin: .8rem 0 0; padding: .2rem 0; color: var(--info); font-weight: 600; }
.notice-error { color: var(--bad); }
.error { color: var(--bad); min-height: 1.2em; }
.summary { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
.summary dt { color: var(--muted); }
.summary dd { margin: 0; }
.steps { list-style: none; margin: 0; padding: 0; }
.compensation td:first-child { border-left: 4px solid var(--warn); }
tr.stale td { color: var(--muted); }
`
