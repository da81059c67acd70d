"""Grafana: the provisioned Prometheus data source, the dashboard provider, and the Neo4j dashboard.

The dashboard is built with Grafana's own typed builders (grafana-foundation-sdk: every panel, query
and threshold a typed object of Grafana's schema) and serialised by its encoder. Its thresholds are the
alert rules' (AlertThresholds), and a panel exists only when its scrape job has a target.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from grafana_foundation_sdk.builders import common, dashboard, prometheus, timeseries
from grafana_foundation_sdk.builders import text as text_panel
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_model
from grafana_foundation_sdk.models import dashboard as dashboard_model
from grafana_foundation_sdk.models import text as text_model

from components.monitoring.files import GRAFANA_DASHBOARDS_DIR
from components.monitoring.queries import GC_WINDOW, RATE_WINDOW
from components.monitoring.scrape import JOB_HAPROXY, JOB_NEO4J, JOB_NODE
from components.monitoring.thresholds import AlertThresholds, threshold_text
from components.templating import render_template

DATASOURCE_UID = "neo4j-prometheus"
DATASOURCE = dashboard_model.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
PANEL_HEIGHT, PANEL_WIDTH, ROW_WIDTH = 8, 12, 24


@dataclass(frozen=True)
class PanelSpec:
    job: str  # the scrape job whose series it draws: no panel without a target in that job
    title: str
    targets: tuple[tuple[str, str], ...]  # (PromQL, legend)
    unit: str
    thresholds: tuple[tuple[str, float | None], ...] = ()  # (color, from value); () = none drawn
    description: str = ""


def _timeseries(pid: int, spec: PanelSpec, *, x: int, y: int) -> timeseries.Panel:
    panel = (timeseries.Panel().id(pid).title(spec.title).description(spec.description).datasource(DATASOURCE)
             .grid_pos(dashboard_model.GridPos(h=PANEL_HEIGHT, w=PANEL_WIDTH, x=x, y=y)).unit(spec.unit)
             .legend(common.VizLegendOptions().display_mode(common_model.LegendDisplayMode.LIST)
                     .placement(common_model.LegendPlacement.BOTTOM).show_legend(True))
             .tooltip(common.VizTooltipOptions().mode(common_model.TooltipDisplayMode.SINGLE)
                      .sort(common_model.SortOrder.NONE)))
    if spec.thresholds:
        panel = (panel.thresholds(dashboard.ThresholdsConfig().mode(dashboard_model.ThresholdsMode.ABSOLUTE).steps(
            [dashboard_model.Threshold(color=color, value=value) for color, value in spec.thresholds]))
            .thresholds_style(common.GraphThresholdsStyleConfig().mode(common_model.GraphThresholdsStyleMode.LINE)))
    for index, (expr, legend) in enumerate(spec.targets):
        panel = panel.with_target(prometheus.Dataquery().ref_id(chr(ord("A") + index)).datasource(DATASOURCE)
                                  .expr(expr).legend_format(legend))
    return panel


def _dashboard_uid(stack: str) -> str:
    uid = f"neo4j-{stack}"
    if len(uid) <= 40:
        return uid
    return f"neo4j-{hashlib.sha256(stack.encode()).hexdigest()[:16]}"


def build_dashboard(*, stack: str, version_line: str, q: dict[str, str], t: AlertThresholds,
                    jobs: set[str]) -> dashboard.Dashboard:
    """Panels of the scrape jobs in `jobs` only: a panel whose series nobody exports stays out."""
    specs = [
        PanelSpec(JOB_NEO4J, "Neo4j endpoints up", ((q["neo4j_up"], "{{server}}"),), "none",
                  (("red", None), ("green", 1)), "Scrape success of each server's Neo4j metrics endpoint."),
        PanelSpec(JOB_NODE, "Machines up", ((q["node_up"], "{{server}}"),), "none",
                  (("red", None), ("green", 1)), "Scrape success of node exporter on each Neo4j server."),
        PanelSpec(JOB_NEO4J, "Leaders per database", ((q["leaders"], "{{database}}"),), "none",
                  (("red", None), ("green", 1), ("red", 2)), "Exactly one leader per database is healthy."),
        PanelSpec(JOB_NEO4J, "Open transactions", ((q["open_transactions"], "{{server}} {{database}}"),), "none",
                  (("green", None), ("red", t.open_transactions))),
        PanelSpec(JOB_NEO4J, "Page cache hit ratio", ((q["page_cache_hit_ratio"], "{{server}}"),), "percentunit",
                  (("red", None), ("green", t.page_cache_hit_ratio)), f"Hits / lookups over {RATE_WINDOW}."),
        PanelSpec(JOB_NEO4J, f"Stop-the-world GC per {GC_WINDOW}", ((q["gc_seconds_per_window"], "{{server}} {{gc}}"),),
                  "s", (("green", None), ("red", t.gc_pause_seconds))),
        PanelSpec(JOB_NEO4J, "Transactions behind the cluster",
                  ((q["transactions_behind"], "{{server}} {{database}}"),), "none", (("green", None), ("red", 1)),
                  "Transactions each server lacks of what the most advanced member had committed "
                  f"{threshold_text(t.replication_lag_seconds)}s (plus one scrape interval) earlier."),
        PanelSpec(JOB_NODE, "Disk used", ((q["disk_used_ratio"], "{{server}} {{mountpoint}}"),), "percentunit",
                  (("green", None), ("red", t.disk_used_ratio))),
        PanelSpec(JOB_NODE, "CPU busy", ((q["cpu_busy"], "{{server}}"),), "percentunit",
                  description="From node exporter."),
        PanelSpec(JOB_HAPROXY, "HAProxy active servers per backend",
                  ((q["haproxy_backend_active_servers"], "{{proxy}}"),), "none"),
        PanelSpec(JOB_HAPROXY, "HAProxy current sessions per frontend",
                  ((q["haproxy_frontend_current_sessions"], "{{proxy}}"),), "none"),
    ]
    board = (dashboard.Dashboard(f"Neo4j cluster {stack}").uid(_dashboard_uid(stack))
             .description(f"Neo4j {version_line} cluster {stack}; thresholds match the Prometheus alert rules.")
             .tags(["neo4j", stack]).timezone("browser").readonly()
             .tooltip(dashboard_model.DashboardCursorSync.CROSSHAIR).refresh("30s").version(1).time("now-6h", "now")
             .variables([]).annotations([]))
    missing = []
    if JOB_NEO4J not in jobs:
        missing.append("No Neo4j server has a metrics endpoint (Neo4j metrics are an Enterprise Edition feature), "
                       "so there are no Neo4j panels or Neo4j alerts.")
    if JOB_NODE not in jobs:
        missing.append("No node exporter runs on the Neo4j servers (as in the Docker stack), so there are no "
                       "machine, disk or CPU panels.")
    top, pid = 0, 1
    if missing:
        board = board.with_panel(text_panel.Panel().id(pid).title("What this dashboard shows")
                                 .grid_pos(dashboard_model.GridPos(h=4, w=ROW_WIDTH, x=0, y=0))
                                 .mode(text_model.TextMode.MARKDOWN).content("\n\n".join(missing)))
        top, pid = 4, pid + 1
    for index, spec in enumerate(spec for spec in specs if spec.job in jobs):
        board = board.with_panel(_timeseries(pid + index, spec, x=(index % 2) * PANEL_WIDTH,
                                             y=top + (index // 2) * PANEL_HEIGHT))
    return board


def render_datasource(*, stack: str, prometheus_url: str, scrape_interval: str) -> str:
    return render_template(
        "grafana/datasource.yml.j2",
        datasource_name=f"Prometheus {stack}", uid=DATASOURCE_UID, url=prometheus_url,
        scrape_interval=scrape_interval)


def render_dashboard_provider(*, stack: str) -> str:
    return render_template(
        "grafana/dashboards.yml.j2", stack=stack, folder="Neo4j", path=GRAFANA_DASHBOARDS_DIR)


def render_dashboard(*, stack: str, version_line: str, queries: dict[str, str], thresholds: AlertThresholds,
                     jobs: set[str]) -> str:
    board = build_dashboard(stack=stack, version_line=version_line, q=queries, t=thresholds, jobs=jobs).build()
    return JSONEncoder(indent=2).encode(board) + "\n"
