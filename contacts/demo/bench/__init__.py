"""The end-to-end benchmark behind `manage.py benchmark`: real processes, real load, figures beside baselines.

    system.py      the web, worker and beat processes (ccpdash.processes) on the current database
    setup.py       the scenario's configuration, a supervisor's session, a preloaded backlog
    load.py        keep-alive asyncio HTTP clients that count and time answers
    dashboards.py  lightweight WebSocket dashboards (in a child process) that count and time frames
    browser.py     one real headless Chromium dashboard page
    sampler.py     samples every 0.2 s: PostgreSQL connections, /healthz, CPU and memory of each process
    pipeline.py    rates and latencies read back from the Transition rows
    baselines.py   what the figures are compared with: raw INSERT+COMMIT, a Redis round trip, a trivial view
    scenarios.py   the scenarios, each returning its figures
    report.py      figures with baselines, ratios and targets; the table, JSON and Markdown
    machine.py     what a run was measured on (machine, load, versions, commit)
    periodic.py    whether beat's tasks ran on time, from the worker's log
    stats.py       percentiles, rates, ratios
    history.py     a contact center's 30-day history, grown to a size (generated inside PostgreSQL)
    reads.py       the dashboard's reads at growing table sizes, timed and explained
"""
