"""The dashboard in a real browser: charts drawn from the demo's figures by the Chart.js the app
serves itself, the lead agency seeing the province and a commune leader only their commune."""

from __future__ import annotations

import pytest

from tests.browser.test_cycle_journey import _login

pytestmark = pytest.mark.browser


def _charts(page) -> list[dict]:
    page.goto("/dashboard/")
    page.wait_for_function("window.dashboardCharts !== undefined")
    return page.evaluate(
        "window.dashboardCharts.map(c => ({type: c.config.type, labels: c.data.labels,"
        " points: c.data.datasets.map(d => d.data.filter(v => v !== null).length)}))")


def test_the_dashboard_draws_the_viewers_own_subtree(page, tmp_path):
    _login(page, "stc.tonghop1")
    charts = _charts(page)
    kinds = [chart["type"] for chart in charts]
    assert "line" in kinds and kinds.count("bar") >= 2, charts
    by_unit = next(chart for chart in charts[1:] if chart["type"] == "bar")
    assert len(by_unit["labels"]) > 5 and sum(by_unit["points"]) > 5  # the province's units
    cards = page.locator(".dashboard-card .dashboard-label").all_inner_texts()
    assert all("Đồng Tháp" in text for text in cards), cards
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

    _login(page, "xa28321.lanhdao")
    cards = page.goto("/dashboard/") and page.locator(
        ".dashboard-card .dashboard-label").all_inner_texts()
    assert cards and all("Tân Phước 1" in text for text in cards), cards
    for chart in _charts(page):
        assert all("Tân Phước 1" in label or "Tháng" in label for label in chart["labels"]), \
            chart
