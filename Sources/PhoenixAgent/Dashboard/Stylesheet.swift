/// The dashboard's one stylesheet, embedded (no CDN: many estates have no internet). Light and
/// dark follow the system; narrow screens get one column; focus is always visible.
enum Stylesheet {
    static let css = """
        :root { color-scheme: light dark; --bg: #fbfbfa; --fg: #1d1f21; --muted: #595f66; --line: #d5d8dc; --card: #ffffff;
          --link: #0b57b7; --ok: #17662f; --warn: #8a5300; --bad: #b3261e; --info: #3c4a5c; }
        @media (prefers-color-scheme: dark) {
          :root { --bg: #16181b; --fg: #e8eaed; --muted: #a8b0b9; --line: #3a3f45; --card: #1e2125;
            --link: #8ab4f8; --ok: #81c995; --warn: #fdd663; --bad: #f28b82; --info: #aecbfa; } }
        * { box-sizing: border-box; }
        body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--fg); }
        a { color: var(--link); }
        a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible { outline: 3px solid var(--link); outline-offset: 2px; }
        .skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: 1rem; background: var(--card); padding: .5rem; }
        header { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; padding: .75rem 1.25rem; border-bottom: 1px solid var(--line); background: var(--card); }
        .brand { margin: 0; font-weight: 700; }
        nav ul { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; margin: 0; padding: 0; }
        nav a[aria-current="page"] { font-weight: 700; text-decoration: none; color: var(--fg); }
        .account { margin: 0 0 0 auto; display: flex; gap: .5rem; align-items: center; color: var(--muted); }
        main { max-width: 72rem; margin: 0 auto; padding: 1rem 1.25rem 3rem; }
        h1 { font-size: 1.6rem; margin: .5rem 0 1rem; } h2 { font-size: 1.2rem; margin: 1.75rem 0 .5rem; }
        .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: .75rem; padding: 0; list-style: none; }
        .card { background: var(--card); border: 1px solid var(--line); border-radius: .5rem; padding: .75rem 1rem; }
        .card h3 { margin: 0 0 .25rem; font-size: 1rem; }
        .card p { margin: .25rem 0; color: var(--muted); }
        table { width: 100%; border-collapse: collapse; background: var(--card); }
        th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { font-weight: 600; }
        .table { overflow-x: auto; }
        code { font: .9em ui-monospace, "SFMono-Regular", Menlo, monospace; }
        .badge { display: inline-block; padding: 0 .5rem; border-radius: 1rem; border: 1px solid currentColor; font-size: .85rem; white-space: nowrap; }
        .in-sync, .succeeded, .converged, .no-changes, .unchanged, .healthy, .running, .valid { color: var(--ok); }
        .drifted, .waiting-for-approval, .superseded, .interrupted, .discarded, .queued, .blocked, .skipped, .not-converged, .not-deployed,
        .renew-due, .stopped, .paused { color: var(--warn); }
        .failed, .rolled-back, .unhealthy, .absent, .expired, .missing, .mismatch, .invalid { color: var(--bad); }
        ul.plain { list-style: none; margin: 0; padding: 0; }
        .not-applied { color: var(--info); }
        .muted { color: var(--muted); }
        form.inline { display: inline; }
        button { font: inherit; padding: .3rem .9rem; border-radius: .4rem; border: 1px solid var(--line); background: var(--card); color: var(--fg); cursor: pointer; }
        button.primary { background: var(--link); border-color: var(--link); color: var(--bg); }
        label { display: block; font-weight: 600; margin-bottom: .25rem; }
        input[type=password], select { font: inherit; padding: .35rem .5rem; border: 1px solid var(--line); border-radius: .4rem; background: var(--card); color: var(--fg); }
        .filters { display: flex; flex-wrap: wrap; gap: .75rem; align-items: end; margin-bottom: 1rem; }
        .error { color: var(--bad); font-weight: 600; }
        .pager { display: flex; gap: 1rem; margin-top: 1rem; }
        svg text { font: 12px system-ui, sans-serif; fill: currentColor; } rect.soon { fill: #c77700; } rect.later { fill: #2f7d46; }
        ol.log { list-style: none; padding: .5rem .75rem; background: var(--card); border: 1px solid var(--line); border-radius: .4rem; overflow-x: auto; }
        ol.log li { white-space: pre; }
        figure.graph { overflow-x: auto; margin: 0 0 1rem; }
        .graph .node rect { fill: var(--card); stroke: var(--muted); stroke-width: 1.5; }
        .graph .node text { font: 12px ui-monospace, monospace; fill: var(--fg); }
        .graph .node.in-sync rect { stroke: var(--ok); } .graph .node.drifted rect { stroke: var(--warn); stroke-width: 3; }
        .graph .node.failed rect { stroke: var(--bad); stroke-width: 3; } .graph .node.not-applied rect { stroke: var(--info); stroke-dasharray: 4 3; }
        .graph .node.outside { opacity: .55; } .graph .edge { stroke: var(--muted); stroke-width: 1; } .graph .arrow { fill: var(--muted); }
        @media (max-width: 40rem) { header { padding: .5rem .75rem; } main { padding: .5rem .75rem 2rem; } .account { margin: 0; } }

        """
}
