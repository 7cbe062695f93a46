"""deploy/grafana/madoguchi-hub.json is a dashboard Grafana can import, and every query in it is PromQL that
Prometheus parses (promtool, through a recording-rule file made of the queries). Which metrics and labels the
queries may use is checked against a live /metrics in tests/service/test_metrics.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.deploy._files import DASHBOARD, dashboard_queries
from tests.deploy.test_prometheus_rules import _check


def _model() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text(encoding="utf-8")))


def test_dashboard_model_is_importable() -> None:
    """Unique panel ids, panels inside the 24-column grid without overlapping, every query on the chosen data source."""
    model = _model()
    assert model["uid"] == "madoguchi-hub"
    assert model["schemaVersion"] >= 36
    variables = {variable["name"]: variable for variable in model["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = model["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    taken: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {(grid["x"] + dx, grid["y"] + dy) for dx in range(grid["w"]) for dy in range(grid["h"])}
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        assert len({target["refId"] for target in panel["targets"]}) == len(panel["targets"])


def test_dashboard_queries_pass_promtool(tmp_path: Path) -> None:
    """Every panel query parses as PromQL (template variables are plain strings inside label matchers)."""
    queries = [expr for _, expr in dashboard_queries() if not expr.startswith("label_values(")]
    assert len(queries) >= 15
    rules = [
        {"record": f"madoguchi:dashboard_query_{number}", "expr": expr} for number, expr in enumerate(queries)
    ]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, allow_unicode=True))
    result = _check(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout
