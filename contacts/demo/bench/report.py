"""The benchmark's figures: each beside its baseline as a ratio, judged against its target; table, JSON, Markdown.

A figure is a dict: scenario, name, value, unit, baseline ({name, value} or None), ratio (value over
the baseline's value), target ({op, value, when}: "now" for this issue's targets, "later" for those
later issues will hold the benchmark to) and verdict ("met", "missed by …", or None without a
target). Targets are reported, never asserted: a missed one says by how much.
"""

from __future__ import annotations

import json
from pathlib import Path

from .stats import ratio

READS_SCENARIO = "dashboard reads"


def figure(scenario: str, name: str, value, unit: str = "", *, baseline: tuple[str, float | None] | None = None,
           target: tuple[str, float, str] | None = None) -> dict:
    item = {"scenario": scenario, "name": name, "value": value, "unit": unit, "baseline": None, "ratio": None,
            "target": None, "verdict": None}
    if baseline is not None:
        item["baseline"] = {"name": baseline[0], "value": baseline[1]}
        item["ratio"] = ratio(value, baseline[1]) if isinstance(value, (int, float)) else None
    if target is not None:
        op, goal, when = target
        item["target"] = {"op": op, "value": goal, "when": when}
        item["verdict"] = verdict(value, op, goal)
    return item


def verdict(value, op: str, goal: float) -> str | None:
    if value is None:
        return None
    if op == ">=":
        if value >= goal:
            return "met"
        return f"missed by {goal - value:.4g}" + (f" ({100 * (goal - value) / goal:.0f}% short)" if goal else "")
    if value <= goal:
        return "met"
    return f"missed by {value - goal:.4g}" + (f" ({100 * (value - goal) / goal:.0f}% over)" if goal else "")


def _system_figures(scenario: str, system: dict, cap: int) -> list[dict]:
    return [
        figure(scenario, "PostgreSQL connections held by ccpdash, peak", system["connections_peak"], "",
               baseline=("connection cap", cap), target=("<=", cap, "now")),
        figure(scenario, "/healthz answers other than 200", system["healthz_not_200_share"], "%"),
        figure(scenario, "web CPU", system["cpu_percent_of_one_core"].get("web"), "% of a core"),
        figure(scenario, "worker CPU", system["cpu_percent_of_one_core"].get("worker"), "% of a core"),
        figure(scenario, "periodic worker CPU", system["cpu_percent_of_one_core"].get("periodic"), "% of a core"),
        figure(scenario, "benchmark's own CPU", system["cpu_percent_of_one_core"].get("benchmark"), "% of a core"),
        figure(scenario, "web RSS, peak", system["rss_peak_mb"].get("web"), "MB"),
        figure(scenario, "worker RSS, peak", system["rss_peak_mb"].get("worker"), "MB"),
        figure(scenario, "periodic worker RSS, peak", system["rss_peak_mb"].get("periodic"), "MB"),
    ]


def figures(results: dict) -> list[dict]:
    """Every figure of an end-to-end run (`scenarios.run_all`) and of the reads, in the order they are shown."""
    base, cap = results["baselines"], results["connection_cap"]["cap"]
    insert1 = ("INSERT+COMMIT/s, 1 connection", base["insert_commit_1_per_second"])
    redis_p99 = ("Redis round trip p99", base["redis_round_trip"]["p99_ms"])
    out = [
        figure("baselines", "INSERT+COMMIT, 1 connection", base["insert_commit_1_per_second"], "rows/s"),
        figure("baselines", "INSERT+COMMIT, 8 connections", base["insert_commit_8_per_second"], "rows/s"),
        figure("baselines", "Redis PUBLISH → subscriber p50", base["redis_round_trip"]["p50_ms"], "ms"),
        figure("baselines", "Redis PUBLISH → subscriber p99", base["redis_round_trip"]["p99_ms"], "ms"),
    ]
    for key, view in base.items():
        if key.startswith("trivial_view_"):
            clients = key.rsplit("_", 1)[1]
            out += [figure("baselines", f"trivial view at {clients} clients", view["ok_per_second"], "requests/s"),
                    figure("baselines", f"trivial view at {clients} clients p99", view["p99_ms"], "ms")]
    for burst in results["bursts"]:
        out += _burst_figures(burst, base, insert1, cap)
    if results["backlog"] is not None:  # None: a partial run (--only) left it out
        out += _backlog_figures(results["backlog"], insert1, cap)
    if results.get("feed") is not None:  # None: a partial run left it out
        out += _feed_figures(results["feed"], cap)
    for number, steady in enumerate(results["steady"]):
        out += _steady_figures(steady, base, redis_p99, cap, first=number == 0)
    for part, target in (("backlog", None), ("memory", ("<=", 200, "later"))):
        if results.get(part) is None:  # None: a partial run left it out
            continue
        drained = results[part]
        memory = drained["worker_memory"]
        scenario = f"preloaded backlog of {drained['count']:,} drained by a worker of {drained['worker_concurrency']}"
        if part == "memory":
            out += _backlog_figures(drained, insert1, cap, target=None)
        out.append(figure(scenario, "worker RSS once the backlog is handled, all its processes", memory["rss_mb"],
                          "MB"))
        out.append(figure(scenario, "worker RSS once the backlog is handled, its largest process",
                          memory.get("largest_process_rss_mb"), "MB", target=target))
    if results.get("reads", False) is not None:  # None: left out of a partial run
        out += read_figures(results.get("reads"))
    return out


def _burst_figures(burst: dict, base: dict, insert1: tuple, cap: int) -> list[dict]:
    scenario = f"burst of {burst['count']:,} creates at {burst['clients']} API clients"
    api, flow, clients = burst["api"], burst["pipeline"], burst["clients"]
    view = base.get(f"trivial_view_{clients}", {})
    target = (">=", 300, "now") if clients == 16 else None
    return [
        figure(scenario, "API creates/s", api["ok_per_second"], "",
               baseline=(f"trivial view/s at {clients} clients", view.get("ok_per_second")), target=target),
        figure(scenario, "API answers 5xx", api["share_5xx"], "%", target=("<=", 0, "now")),
        figure(scenario, "API answers other than 201", api["share_not_ok"], "%"),
        figure(scenario, "API create p50", api["p50_ms"], "ms", baseline=("trivial view p50", view.get("p50_ms"))),
        figure(scenario, "API create p99", api["p99_ms"], "ms", baseline=("trivial view p99", view.get("p99_ms"))),
        figure(scenario, "created → queued", flow["created_to_queued_per_second"], "contacts/s", baseline=insert1),
        figure(scenario, "queued → handled", flow["queued_to_handled_per_second"], "contacts/s", baseline=insert1),
        figure(scenario, "created → handled p99", flow["created_to_handled_p99_s"], "s"),
        figure(scenario, "contacts not handled when the wait ended", flow["not_handled"], f"of {flow['created']:,}"),
        *_system_figures(scenario, burst["system"], cap),
    ]


def _backlog_figures(backlog: dict, insert1: tuple, cap: int,
                     target: tuple | None = (">=", 200, "later")) -> list[dict]:
    """The drain's figures; the created → queued target is the 10,000-contact backlog's (none for the memory run)."""
    scenario = f"preloaded backlog of {backlog['count']:,} drained by a worker of {backlog['worker_concurrency']}"
    flow = backlog["pipeline"]
    return [
        figure(scenario, "created → queued", flow["created_to_queued_per_second"], "contacts/s", baseline=insert1,
               target=target),
        figure(scenario, "queued → handled", flow["queued_to_handled_per_second"], "contacts/s", baseline=insert1),
        figure(scenario, "contacts not handled when the wait ended", flow["not_handled"], f"of {flow['created']:,}"),
        *_system_figures(scenario, backlog["system"], cap),
    ]


def _feed_figures(feed: dict, cap: int) -> list[dict]:
    scenario = f"feed {feed['rate']:g} contacts/s for {feed['seconds']:g} s through the lifecycle (no API)"
    flow, offered = feed["pipeline"], ("offered", feed["rate"])
    return [
        figure(scenario, "contacts created/s", feed["created"]["per_second"], "", baseline=offered),
        figure(scenario, "handled, first to last", flow["handled_per_second"], "contacts/s", baseline=offered),
        figure(scenario, "handled while fed", feed.get("handled_while_fed"), "contacts/s", baseline=offered,
               target=(">=", feed["rate"], "later")),
        figure(scenario, "created → handled p99", flow["created_to_handled_p99_s"], "s"),
        figure(scenario, "contacts not handled when the wait ended", flow["not_handled"], f"of {flow['created']:,}"),
        figure(scenario, "periodic tasks: longest gap ÷ period", feed["periodic"]["worst_gap_over_period"], "",
               target=("<=", 2, "later")),
        *_system_figures(scenario, feed["system"], cap),
    ]


def _steady_figures(steady: dict, base: dict, redis_p99: tuple, cap: int, *, first: bool) -> list[dict]:
    dashboards = steady["dashboards"]
    scenario = f"steady {steady['rate']:g} creates/s for {steady['seconds']:g} s, {dashboards} dashboards + Chromium"
    api, flow, watched, shown = steady["api"], steady["pipeline"], steady["dashboard"], steady["browser"] or {}
    offered = ("offered", steady["rate"])
    push_target = {50: ("<=", 100, "now"), 200: ("<=", 1000, "now")}.get(dashboards)
    view = base.get("trivial_view_16", {})
    return [
        figure(scenario, "API creates/s", api["ok_per_second"], "", baseline=offered),
        figure(scenario, "API answers 5xx", api["share_5xx"], "%"),
        figure(scenario, "API create p99", api["p99_ms"], "ms",
               baseline=("trivial view p99 at 16", view.get("p99_ms"))),
        figure(scenario, "handled", flow["handled_per_second"], "contacts/s", baseline=offered,
               target=(">=", steady["rate"], "later") if first else None),
        figure(scenario, "created → handled p99", flow["created_to_handled_p99_s"], "s"),
        figure(scenario, "contacts not handled when the wait ended", flow["not_handled"], f"of {flow['created']:,}"),
        figure(scenario, "commit → dashboard p50", watched["p50_ms"], "ms", baseline=redis_p99),
        figure(scenario, "commit → dashboard p99", watched["p99_ms"], "ms", baseline=redis_p99, target=push_target),
        figure(scenario, "events the slowest dashboard never received", watched["slowest_missing_share"], "%"),
        figure(scenario, "events a dashboard still lacked after its resyncs",
               watched.get("missing_after_resync_max_share"), "%", target=("<=", 0, "now")),
        figure(scenario, "dashboards told to resync", watched.get("told_to_resync"), f"of {dashboards}"),
        figure(scenario, "Chromium: commit → page p99", shown.get("p99_ms"), "ms", baseline=redis_p99),
        figure(scenario, "Chromium: events missing after resyncs", shown.get("missing_share"), "%",
               target=("<=", 0, "now")),
        figure(scenario, "Chromium: page shows the database's newest events", shown.get("activity_matches_database")),
        figure(scenario, "web CPU per 1,000 events", steady["web_cpu_seconds_per_1000_events"], "CPU s"),
        figure(scenario, "periodic tasks: longest gap ÷ period", steady["periodic"]["worst_gap_over_period"], "",
               target=("<=", 2, "later")),
        *_system_figures(scenario, steady["system"], cap),
    ]


def read_figures(reads: dict | None) -> list[dict]:
    """The reads' figures: each read's time at every size beside its time at the smallest size, the export's memory.

    A read that did not answer 200 has no time. What `reads.run` returns in another shape is shown
    number by number, named by its path (text such as query plans stays in the JSON).
    """
    if not reads:
        return [figure(READS_SCENARIO, "dashboard reads", None)]
    if isinstance(reads.get("reads"), dict) and reads.get("sizes"):
        return _sized_read_figures(reads)
    out = []

    def walk(path: list[str], value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk([*path, str(key)], inner)
        elif value is None or isinstance(value, (int, float)):
            out.append(figure(READS_SCENARIO, " / ".join(path), value))

    walk([], reads)
    return out or [figure(READS_SCENARIO, "dashboard reads", None)]


def _sized_read_figures(reads: dict) -> list[dict]:
    sizes = [str(size) for size in reads["sizes"]]
    smallest = sizes[0]
    out = []
    for name, by_size in reads["reads"].items():
        for size in sizes:
            out.append(figure(READS_SCENARIO, f"{name} at {int(size):,} contacts", _read_ms(by_size, size), "ms",
                              baseline=None if size == smallest else (f"at {int(smallest):,}",
                                                                      _read_ms(by_size, smallest))))
        queries = (by_size.get(sizes[-1]) or {}).get("queries")
        out.append(figure(READS_SCENARIO, f"{name}: queries at {int(sizes[-1]):,} contacts", queries))
    for size in sizes:
        stored = ((reads.get("fill") or {}).get(size) or {}).get("bytes")
        if stored:  # PostgreSQL only
            out.append(figure(READS_SCENARIO, f"database size at {int(size):,} contacts", round(
                stored["database"] / 2**20, 1), "MB"))
    peaks = reads.get("export_peak_bytes") or {}

    def mb(size: str):
        return None if peaks.get(size) is None else round(peaks[size] / 2**20, 2)

    # The export is measured up to a size (reads.run's export_up_to): a size it skipped is no missing figure.
    exported = [size for size in sizes if size in (reads.get("export") or {})] or sizes
    for size in exported:
        out.append(figure(READS_SCENARIO, f"CSV export peak memory at {int(size):,} contacts", mb(size), "MB",
                          baseline=None if size == smallest else (f"at {int(smallest):,}", mb(smallest))))
    return out


def _read_ms(by_size: dict, size: str) -> float | None:
    found = by_size.get(size) or {}
    return found.get("ms") if found.get("status", 200) == 200 else None


def missing(items: list[dict]) -> list[str]:
    """The figures that were not produced."""
    return [f"{item['scenario']}: {item['name']}" for item in items if item["value"] is None]


def _format(value) -> str:
    if value is None:
        return "MISSING"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _target(item: dict) -> str:
    target = item["target"]
    if not target:
        return ""
    later = " (later)" if target["when"] == "later" else ""
    return f"{'≥' if target['op'] == '>=' else '≤'} {_format(target['value'])}{later}"


def rows(items: list[dict]) -> list[tuple[str, str, str, str, str, str]]:
    out = []
    for item in items:
        baseline = item["baseline"]
        out.append((
            f"{item['name']}" + (f" ({item['unit']})" if item["unit"] else ""),
            _format(item["value"]),
            f"{_format(baseline['value'])} {baseline['name']}" if baseline else "",
            _format(item["ratio"]) if item["ratio"] is not None else "",
            _target(item),
            item["verdict"] or "",
        ))
    return out


def table(items: list[dict]) -> str:
    """The plain-text table printed at the end of a run: one block per scenario."""
    lines = []
    for scenario in dict.fromkeys(item["scenario"] for item in items):
        lines.append(f"\n== {scenario}")
        for name, value, baseline, ratio_text, target, judged in rows([i for i in items if i["scenario"] == scenario]):
            cells = f"  {name:58.58s} {value:>10s}"
            if baseline:
                cells += f"  vs {baseline} = ×{ratio_text or '—'}"
            if target:
                cells += f"  [target {target}: {judged or '—'}]"
            lines.append(cells)
    return "\n".join(lines)


def markdown(report: dict) -> str:
    machine = report["machine"]
    lines = [
        f"# ccpdash benchmark — {report['kind']} run, {report['at']}",
        "",
        "How to read this file: `benchmarks/README.md`. Ratios are value ÷ baseline, both measured in this run.",
        "",
        "| machine | |",
        "|---|---|",
        *[f"| {key} | {value} |" for key, value in machine.items()],
        "",
    ]
    for scenario in dict.fromkeys(item["scenario"] for item in report["figures"]):
        lines += [f"## {scenario}", "", "| figure | value | baseline | ratio | target | verdict |",
                  "|---|---|---|---|---|---|"]
        for cells in rows([i for i in report["figures"] if i["scenario"] == scenario]):
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        lines.append("")
    if report["missing"]:
        lines += ["## Missing figures", "", *[f"- {name}" for name in report["missing"]], ""]
    return "\n".join(lines)


def save(report: dict, folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{report['at'].replace(':', '').replace('-', '')}-{report['kind']}"
    json_path, md_path = folder / f"{stem}.json", folder / f"{stem}.md"
    json_path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    md_path.write_text(markdown(report) + "\n")
    return json_path, md_path
