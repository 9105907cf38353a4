"""The pages people look at, in a real browser: headless Chromium (the system's `chromium` and
`chromium-driver`, installed by scripts/ensure_browser.sh from `make test`) driven by Selenium
against a real `retrain api`.

Each page must draw what it promises (every Plotly chart of the model report, Swagger UI's
operations with the spec's Markdown rendered), fit a 1280 px window, log no console error,
and leave a screenshot: under $TEST_ARTIFACTS_DIR when set, else the test's temporary
directory (the path is printed).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from apitest import Server, sources, wait_for_job

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
TOKEN = "browser-test-token"
MODEL = {
    "model_name": "churn",
    "min_training_samples": 500,
    "auto_promote": True,
    "drift_threshold": 0.3,
    "pipeline": {
        "estimator_class": "sklearn.linear_model:LogisticRegression",
        "estimator_params": {"max_iter": 1000},
    },
}
CHARTS = ("metric-over-time", "champion-vs-challenger", "drift-over-time", "drift-heatmap")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).is_file()]
    if missing:
        message = (
            f"{', '.join(missing)} missing: run scripts/ensure_browser.sh (apt-get install "
            "chromium chromium-driver); `make test` does"
        )
        pytest.fail(message, pytrace=False)  # never skipped: a missing browser is a failure
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root, as on CI
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    directory = os.environ.get("TEST_ARTIFACTS_DIR")
    path = Path(directory) if directory else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory, mlflow_template, data_files) -> Iterator[Server]:
    """A real `retrain api` with a model retrained twice and checked twice over HTTP; reads
    are open, anything else needs the token."""
    home = tmp_path_factory.mktemp("browser") / "home"
    home.mkdir()
    shutil.copy(mlflow_template, home / "mlflow.db")
    env = {
        "RETRAINING_HOME": str(home),
        "RETRAINING_API_DISPATCH_SECONDS": "1",
        "RETRAINING_API_CHECK_WAIT_SECONDS": "30",
        "RETRAINING_API_TOKENS": TOKEN,
        "RETRAINING_API_OPEN_READS": "true",
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "MLFLOW_TRACKING_URI": "",
    }
    running = Server(env, home.parent / "api.log")
    try:
        running.wait_ready()
        _history(running.url, data_files)
        yield running
    finally:
        running.stop()


def _history(url: str, data_files: dict[str, Path]) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    configured = session.post(
        f"{url}/retraining/configure",
        json={**MODEL, "data_sources": sources(data_files)},
        timeout=30,
    )
    assert configured.status_code == 201, configured.text
    assert session.post(f"{url}/retraining/churn/initialize", timeout=120).status_code == 200
    for reason in ("first model", "second model"):
        job = session.post(
            f"{url}/retraining/churn/trigger",
            json={"trigger_type": "manual", "reason": reason},
            timeout=30,
        )
        done = wait_for_job(
            lambda path: session.get(url + path, timeout=30).json(), job.headers["Location"]
        )
        assert done["status"] == "completed", done["error"]
        check = session.get(f"{url}/retraining/churn/check?wait=30", timeout=60).json()
        assert check["status"] == "completed", check


def _console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def _screenshot(driver, artifacts: Path, name: str) -> Path:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(height, 900), 8000))  # the whole page
    driver.execute_script("window.scrollTo(0, 0)")
    path = artifacts / f"{name}.png"
    assert driver.save_screenshot(str(path)), path
    driver.set_window_size(1280, 900)
    print(f"screenshot: {path}")
    return path


# `server` before `browser`: fixtures end in reverse, so the browser closes its keep-alive
# connections before the server is stopped (else its graceful shutdown waits for them)
def test_the_model_report_draws_every_chart_in_a_browser(server, browser, artifacts):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get_log("browser")  # start from a clean console
    browser.get(f"{server.url}/retraining/churn/report")
    drawn = "return document.querySelectorAll('.chart.js-plotly-plot .main-svg').length"
    WebDriverWait(browser, 30).until(lambda d: d.execute_script(drawn) >= len(CHARTS))
    for chart in CHARTS:
        element = browser.find_element(By.ID, chart)
        assert element.find_elements(By.CSS_SELECTOR, ".main-svg"), chart
        assert element.size["height"] > 200 and element.size["width"] > 600, chart
    # the metric chart has a date axis and the promotion markers; the heat map its columns
    metric = browser.find_element(By.ID, "metric-over-time")
    ticks = [t.text for t in metric.find_elements(By.CSS_SELECTOR, ".xtick text")]
    assert any(t for t in ticks), ticks
    assert metric.find_elements(By.CSS_SELECTOR, ".scatterlayer .points path")
    legend = metric.find_element(By.CSS_SELECTOR, ".legend").text
    assert "promoted" in legend
    heat = browser.find_element(By.ID, "drift-heatmap")
    rows = {t.text for t in heat.find_elements(By.CSS_SELECTOR, ".ytick text")}
    assert {"tenure", "monthly_spend", "plan"} <= rows, rows
    assert heat.find_elements(By.CSS_SELECTOR, ".hm image")  # the cells, drawn
    links = browser.find_elements(By.CSS_SELECTOR, "#checks a")
    assert len(links) == 2 and all(a.get_attribute("href").endswith("/report") for a in links)
    # nothing runs off a 1280 px page
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow} px wider than the window"
    assert _console_errors(browser) == []
    assert _screenshot(browser, artifacts, "model-report").stat().st_size > 10_000


def test_the_api_docs_render_markdown_and_try_it_out_with_a_bearer_token(
    server, browser, artifacts
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get_log("browser")
    browser.get(f"{server.url}/docs")
    wait = WebDriverWait(browser, 30)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) > 10)
    info = browser.find_element(By.CSS_SELECTOR, ".information-container .renderedMarkdown")
    assert "Asynchronous work." in [s.text for s in info.find_elements(By.TAG_NAME, "strong")]
    assert "**" not in info.text  # Markdown rendered, not shown
    # Authorize with the bearer token, then call an endpoint that needs one
    browser.find_element(By.CSS_SELECTOR, ".auth-wrapper .authorize").click()
    field = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, ".auth-container input"))
    field.send_keys(TOKEN)
    browser.find_element(By.CSS_SELECTOR, ".auth-btn-wrapper .authorize").click()
    browser.find_element(By.CSS_SELECTOR, ".auth-btn-wrapper .btn-done").click()
    path = browser.find_element(
        By.CSS_SELECTOR, '.opblock-get [data-path="/retraining/{model_name}/check"]'
    )
    operation = path.find_element(By.XPATH, "./ancestor::div[contains(@class,'opblock ')]")
    operation.find_element(By.CSS_SELECTOR, ".opblock-summary-control").click()
    wait.until(lambda d: operation.find_elements(By.CSS_SELECTOR, ".try-out__btn"))
    operation.find_element(By.CSS_SELECTOR, ".try-out__btn").click()
    operation.find_element(By.CSS_SELECTOR, 'input[placeholder="model_name"]').send_keys("churn")
    operation.find_element(By.CSS_SELECTOR, ".execute").click()
    live = ".live-responses-table tr.response .response-col_status"
    status = wait.until(lambda d: operation.find_element(By.CSS_SELECTOR, live))
    assert status.text.strip()[:3] in ("200", "202"), status.text  # 401 without the token
    curl = operation.find_element(By.CSS_SELECTOR, ".curl-command").text
    assert f"Authorization: Bearer {TOKEN}" in curl
    assert _console_errors(browser) == []
    assert _screenshot(browser, artifacts, "api-docs").stat().st_size > 10_000
