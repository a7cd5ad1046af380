#!/usr/bin/env python3
"""Writes mpwatch's Grafana dashboards (``dashboards/*.json``) from Python with grafana-foundation-sdk.

Three dashboards, each with a ``datasource`` variable (any Prometheus) and, where it applies, ``server``:

* **Install progress** (``install-progress.json``): the walkthrough step each install reached (step n of
  N, as a bar gauge), servers by state over time, counts per state, install durations against the
  10-minute norm, active diagnoses with title and remedy, 1013/1014/1015 per hour, time since the last
  successful verification per MP;
* **Server detail** (``server-detail.json``): one server's state history, status messages, verification
  results, active diagnoses and install figures;
* **Pipeline health** (``pipeline-health.json``): shipper throughput and lag per host, consumer lag,
  worker records/s, rebalances, malformed and truncated records, table sizes, scrape targets up.

Queries only use names ``streams/metrics.py`` and ``shipper/metrics.py`` export and the recording rules
of ``deploy/prometheus/rules/recording.yml`` (the tests check it, and evaluate every query against a real
Prometheus). The remedy column comes from ``streams.core.catalogue`` as value mappings, so the table
shows the catalogue's words without putting long text into labels.

Run ``python dashboards/generate.py`` after a change; ``--check`` exits 1 when a committed file differs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import bargauge, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from streams.core.catalogue import CODES, lookup
from streams.metrics import N_STEPS, NORMAL_INSTALL_SECONDS, STATES, STEP_NAMES

HERE = Path(__file__).resolve().parent
DS = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
SEL = 'server=~"$server"'
# Worst first; the state timeline shows a number per server, mapped back to the state's name.
STATE_COLOURS = {
    "failed": "red",
    "stuck": "orange",
    "degraded": "yellow",
    "healthy": "green",
    "installed": "blue",
    "installing": "purple",
    "pending": "light-blue",
    "unknown": "text",
}
STATE_RANK = {state: len(STATES) - i for i, state in enumerate(STATES)}


def state_number(selector: str) -> str:
    """One number per server for its current state (STATE_RANK), from the 0/1 state gauges."""
    terms = [
        f'max by (server) (mpwatch_server_state{{{selector},state="{s}"}}) * {STATE_RANK[s]}' for s in STATES
    ]
    return "\n+ ".join(terms)


def state_mappings() -> list[model.ValueMap]:
    return [
        model.ValueMap(
            {str(STATE_RANK[s]): model.ValueMappingResult(text=s, color=STATE_COLOURS[s], index=i)}
        )
        for i, s in enumerate(STATES)
    ]


def query(
    expr: str, legend: str = "", *, instant: bool = False, table_format: bool = False
) -> prom.Dataquery:
    q = prom.Dataquery().expr(expr).datasource(DS)
    if legend:
        q = q.legend_format(legend)
    q = q.instant() if instant else q.range()
    if table_format:
        q = q.format(PromQueryFormat.TABLE)
    return q


def thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=v, color=c) for v, c in steps])
    )


def pos(h: int, w: int, x: int, y: int) -> model.GridPos:
    return model.GridPos(h=h, w=w, x=x, y=y)


def last_value() -> common_b.ReduceDataOptions:
    return common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(False)


def step_gauge(selector: str, grid: model.GridPos) -> bargauge.Panel:
    names = {
        str(i): model.ValueMappingResult(text=f"{i}/{N_STEPS} {name}", index=i)
        for i, name in enumerate(STEP_NAMES, start=1)
    }
    names["0"] = model.ValueMappingResult(text="no step seen", index=0)
    return (
        bargauge.Panel()
        .title("Install step (n of N)")
        .description(
            "How far each server's current install attempt got along the seed walkthrough: "
            + "; ".join(f"{i} {n}" for i, n in enumerate(STEP_NAMES, start=1))
        )
        .datasource(DS)
        .with_target(
            query(f"max by (server) (mpwatch_install_step{{{selector}}})", "{{server}}", instant=True)
        )
        .unit("none")
        .min(0)
        .max(N_STEPS)
        .decimals(0)
        .mappings([model.ValueMap(names)])
        .thresholds(thresholds((None, "orange"), (N_STEPS - 1, "blue"), (N_STEPS, "green")))
        .display_mode(common.BarGaugeDisplayMode.BASIC)
        .orientation(common.VizOrientation.HORIZONTAL)
        .reduce_options(last_value())
        .grid_pos(grid)
    )


def state_timeline(selector: str, grid: model.GridPos, title: str) -> statetimeline.Panel:
    return (
        statetimeline.Panel()
        .title(title)
        .description("Health state per server over time (the same states as mpwatch diagnose).")
        .datasource(DS)
        .with_target(query(state_number(selector), "{{server}}"))
        .unit("none")
        .mappings(state_mappings())
        .thresholds(thresholds((None, "text")))
        .color_scheme(dash.FieldColor().mode(model.FieldColorModeId.THRESHOLDS))
        .show_value(common.VisibilityMode.NEVER)
        .merge_values(True)
        .grid_pos(grid)
    )


def diagnoses_table(selector: str, grid: model.GridPos) -> table.Panel:
    base = f"max by (server, code) (mpwatch_diagnosis_active{{{selector}}}) == 1"
    expr = (
        f'label_replace(label_replace({base}, "title", "$1", "code", "(.+)"), "remedy", "$1", "code", "(.+)")'
    )
    titles = {c: model.ValueMappingResult(text=lookup(c).title, index=i) for i, c in enumerate(CODES)}
    remedies = {c: model.ValueMappingResult(text=lookup(c).remedy, index=i) for i, c in enumerate(CODES)}
    return (
        table.Panel()
        .title("Active diagnoses")
        .description("Every active diagnosis with the catalogue's title and remedy.")
        .datasource(DS)
        .with_target(query(expr, instant=True, table_format=True))
        .unit("string")
        .with_transformation(
            model.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {"Time": True, "Value": True},
                    "indexByName": {"server": 0, "code": 1, "title": 2, "remedy": 3},
                },
            )
        )
        .with_override(
            model.MatcherConfig(id_val="byName", options="title"),
            [model.DynamicConfigValue(id_val="mappings", value=[model.ValueMap(titles)])],
        )
        .with_override(
            model.MatcherConfig(id_val="byName", options="remedy"),
            [model.DynamicConfigValue(id_val="mappings", value=[model.ValueMap(remedies)])],
        )
        .grid_pos(grid)
    )


def server_variable(multi: bool) -> dash.QueryVariable:
    variable = (
        dash.QueryVariable("server")
        .label("Server")
        .datasource(DS)
        .query({"query": "label_values(mpwatch_server_state, server)", "refId": "servers"})
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .multi(multi)
        .include_all(multi)
    )
    if multi:
        variable = variable.all_value(".*").current(model.VariableOption(text="All", value="$__all"))
    return variable


def datasource_variable() -> dash.DatasourceVariable:
    return dash.DatasourceVariable("datasource").label("Data source").type("prometheus")


def base(title: str, uid: str, description: str) -> dash.Dashboard:
    return (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["mpwatch"])
        .editable()
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("utc")
        .with_variable(datasource_variable())
    )


def install_progress() -> dash.Dashboard:
    d = base(
        "mpwatch / Install progress",
        "mpwatch-install-progress",
        "Where each management point install is, which are stuck or failed and what to do about it.",
    ).with_variable(server_variable(multi=True))
    d = d.with_panel(step_gauge(SEL, pos(10, 12, 0, 0)))
    d = d.with_panel(
        stat.Panel()
        .title("Servers per state")
        .description("Servers in each health state (a server exported by two workers counts once).")
        .datasource(DS)
        .with_target(query("mpwatch:servers:count_by_state", "{{state}}", instant=True))
        .unit("short")
        .decimals(0)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .reduce_options(last_value())
        .with_override(
            model.MatcherConfig(id_val="byName", options="failed"),
            [model.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": "red"})],
        )
        .grid_pos(pos(5, 12, 12, 0))
    )
    d = d.with_panel(
        bargauge.Panel()
        .title(f"Latest install duration (norm: under {NORMAL_INSTALL_SECONDS // 60} minutes)")
        .description("Seconds from the first 1013 to the 1015 of each server's latest install.")
        .datasource(DS)
        .with_target(
            query(
                f"max by (server) (mpwatch_install_last_duration_seconds{{{SEL}}})",
                "{{server}}",
                instant=True,
            )
        )
        .unit("s")
        .min(0)
        .thresholds(thresholds((None, "green"), (NORMAL_INSTALL_SECONDS, "red")))
        .display_mode(common.BarGaugeDisplayMode.BASIC)
        .orientation(common.VizOrientation.HORIZONTAL)
        .reduce_options(last_value())
        .grid_pos(pos(5, 6, 12, 5))
    )
    d = d.with_panel(
        stat.Panel()
        .title(f"Installs under {NORMAL_INSTALL_SECONDS // 60} minutes")
        .description("Share of all known installs (1013 to 1015) that took under 10 minutes.")
        .datasource(DS)
        .with_target(
            query(
                f'sum(mpwatch_install_duration_seconds_bucket{{le="{NORMAL_INSTALL_SECONDS}.0"}}) '
                "/ sum(mpwatch_install_duration_seconds_count)",
                "under 10 min",
                instant=True,
            )
        )
        .unit("percentunit")
        .min(0)
        .max(1)
        .thresholds(thresholds((None, "red"), (0.8, "green")))
        .reduce_options(last_value())
        .grid_pos(pos(5, 6, 18, 5))
    )
    d = d.with_panel(state_timeline(SEL, pos(8, 24, 0, 10), "Servers by state"))
    d = d.with_panel(diagnoses_table(SEL, pos(8, 24, 0, 18)))
    d = d.with_panel(
        timeseries.Panel()
        .title("Status 1013 / 1014 / 1015 per hour")
        .description(
            "1013 install pending, 1014 installing, 1015 installed: a 1013 without 1015 repeats hourly."
        )
        .datasource(DS)
        .with_target(
            query(
                "sum by (message_id) "
                f'(mpwatch:status_messages:increase1h{{message_id=~"1013|1014|1015",{SEL}}})',
                "{{message_id}}",
            )
        )
        .unit("short")
        .min(0)
        .grid_pos(pos(8, 12, 0, 26))
    )
    d = d.with_panel(
        bargauge.Panel()
        .title("Time since the last successful verification")
        .description("MP Control Manager verifies every 10 minutes; over 30 minutes is MP_NOT_RESPONDING.")
        .datasource(DS)
        .with_target(query(f"mpwatch:verification_age_seconds{{{SEL}}}", "{{server}}", instant=True))
        .unit("s")
        .min(0)
        .thresholds(thresholds((None, "green"), (1200, "yellow"), (1800, "red")))
        .display_mode(common.BarGaugeDisplayMode.BASIC)
        .orientation(common.VizOrientation.HORIZONTAL)
        .reduce_options(last_value())
        .grid_pos(pos(8, 12, 12, 26))
    )
    return d


def server_detail() -> dash.Dashboard:
    one = 'server="$server"'
    d = base(
        "mpwatch / Server detail",
        "mpwatch-server-detail",
        "One management point: state history, status messages, verifications and active diagnoses.",
    ).with_variable(server_variable(multi=False))
    figures = [
        ("State", state_number(one), "none", state_mappings()),
        ("1013 since 1015", f"max by (server) (mpwatch_status_1013_since_1015{{{one}}})", "short", None),
        (
            "Attempts since success",
            f"max by (server) (mpwatch_install_attempts_since_success{{{one}}})",
            "short",
            None,
        ),
        ("Since last good verification", f"mpwatch:verification_age_seconds{{{one}}}", "s", None),
    ]
    for i, (title, expr, unit, mappings) in enumerate(figures):
        panel = (
            stat.Panel()
            .title(title)
            .datasource(DS)
            .with_target(query(expr, "{{server}}", instant=True))
            .unit(unit)
            .reduce_options(last_value())
            .graph_mode(common.BigValueGraphMode.NONE)
            .grid_pos(pos(4, 4, 4 * i, 0))
        )
        if mappings:
            panel = panel.mappings(mappings).color_mode(common.BigValueColorMode.BACKGROUND)
        d = d.with_panel(panel)
    d = d.with_panel(step_gauge(one, pos(4, 8, 16, 0)))
    d = d.with_panel(state_timeline(one, pos(6, 24, 0, 4), "State history"))
    d = d.with_panel(
        timeseries.Panel()
        .title("Status messages per hour")
        .datasource(DS)
        .with_target(
            query(
                f"max by (message_id, severity) (increase(mpwatch_status_messages_total{{{one}}}[1h]))",
                "{{message_id}} ({{severity}})",
            )
        )
        .unit("short")
        .min(0)
        .grid_pos(pos(8, 12, 0, 10))
    )
    d = d.with_panel(
        timeseries.Panel()
        .title("Verification results per 30 minutes")
        .description("MP Control Manager's HTTP verifications by result (HTTP status or WinInet error).")
        .datasource(DS)
        .with_target(
            query(f"max by (result) (increase(mpwatch_mp_verifications_total{{{one}}}[30m]))", "{{result}}")
        )
        .unit("short")
        .min(0)
        .grid_pos(pos(8, 12, 12, 10))
    )
    d = d.with_panel(diagnoses_table(one, pos(8, 24, 0, 18)))
    return d


def pipeline_health() -> dash.Dashboard:
    d = base(
        "mpwatch / Pipeline health",
        "mpwatch-pipeline-health",
        "Shippers, Kafka consumers and workers: throughput, lag, rebalances, malformed input.",
    )
    panels: list[tuple[str, str, str, str, str]] = [
        (
            "Shipper records/s",
            "mpwatch:shipper_records:rate5m",
            "{{instance}}",
            "cps",
            "Records confirmed by Kafka.",
        ),
        (
            "Shipper lag",
            "sum by (instance) (mpwatch_shipper_lag_bytes)",
            "{{instance}}",
            "bytes",
            "Bytes written to the logs and not yet confirmed by the output.",
        ),
        (
            "Consumer lag per partition",
            "max by (topic, partition) (mpwatch_consumer_lag_records)",
            "{{topic}} {{partition}}",
            "short",
            "Messages behind the end of each source topic partition (records: shipped batches; events: "
            "per-server event lists), as the worker holding it measures every tick.",
        ),
        ("Worker records/s", "mpwatch:records_in:rate5m", "{{instance}}", "cps", "Raw records taken in."),
        (
            "Worker events/s",
            "sum by (instance) (rate(mpwatch_events_in_total[5m]))",
            "{{instance}}",
            "cps",
            "Events applied to server states.",
        ),
        (
            "Rebalances per hour",
            "sum by (instance) (increase(mpwatch_rebalances_total[1h]))",
            "{{instance}}",
            "short",
            "Consumer group rebalances: repeated ones mean workers flapping.",
        ),
        (
            "Malformed input per hour",
            "sum by (reason) (increase(mpwatch_malformed_total[1h]))",
            "{{reason}}",
            "short",
            "Messages or records skipped because they could not be decoded.",
        ),
        (
            "Truncated lines per hour",
            "sum by (instance) (increase(mpwatch_shipper_truncated_lines_total[1h]))",
            "{{instance}}",
            "short",
            "Lines the shippers cut at tail.max_line_bytes.",
        ),
        (
            "Encoding switches per hour",
            "sum by (instance) (increase(mpwatch_shipper_encoding_switches_total[1h]))",
            "{{instance}}",
            "short",
            "Blocks of another encoding found inside a file (UTF-16 after UTF-8, or the reverse).",
        ),
        (
            "Wire versions rejected per hour",
            "sum by (instance) (increase(mpwatch_wire_version_rejected_total[1h]))",
            "{{instance}}",
            "short",
            "Messages from shippers newer than the workers.",
        ),
        ("Table sizes", "max by (table) (mpwatch_table_size)", "{{table}}", "short", "Keys per local table."),
    ]
    for i, (title, expr, legend, unit, description) in enumerate(panels):
        d = d.with_panel(
            timeseries.Panel()
            .title(title)
            .description(description)
            .datasource(DS)
            .with_target(query(expr, legend))
            .unit(unit)
            .min(0)
            .grid_pos(pos(7, 12, 12 * (i % 2), 7 * (i // 2)))
        )
    d = d.with_panel(
        stat.Panel()
        .title("Targets up")
        .description("Shippers, workers and mpwatch run that Prometheus can scrape (1) or not (0).")
        .datasource(DS)
        .with_target(query('up{job=~"mpwatch-.*"}', "{{job}} {{instance}}", instant=True))
        .unit("bool")
        .mappings(
            [
                model.ValueMap(
                    {
                        "0": model.ValueMappingResult(text="down", color="red", index=0),
                        "1": model.ValueMappingResult(text="up", color="green", index=1),
                    }
                )
            ]
        )
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .reduce_options(last_value())
        .grid_pos(pos(5, 24, 0, 35))
    )
    return d


DASHBOARDS: dict[str, Callable[[], dash.Dashboard]] = {
    "install-progress.json": install_progress,
    "server-detail.json": server_detail,
    "pipeline-health.json": pipeline_health,
}


def render(build: Callable[[], dash.Dashboard]) -> str:
    data: dict[str, Any] = json.loads(json.dumps(build().build(), cls=JSONEncoder))
    for i, panel in enumerate(data.get("panels", []), start=1):
        panel.setdefault("id", i)
    for variable in data.get("templating", {}).get("list", []):
        if variable.get("type") != "interval":  # the SDK writes interval fields on every variable type
            for key in ("auto", "auto_count", "auto_min"):
                variable.pop(key, None)
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed dashboard is not current")
    args = parser.parse_args(argv)
    stale = []
    for name, build in DASHBOARDS.items():
        path = HERE / name
        text = render(build)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        if args.check:
            stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote dashboards/{name}")
    if stale:
        print("not current (run python dashboards/generate.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
