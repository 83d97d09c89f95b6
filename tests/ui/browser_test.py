#!/usr/bin/python3
"""The web UI in a real browser, as Spark's UISeleniumSuite does it.

Starts ui_job (a streaming job with 500 ms batches on the system clock), opens its Streaming page
in headless Chromium through Selenium and chromedriver, checks the Completed Batches table's
columns, waits until the completed-batch count on the page grows without a reload, follows a
batch's link to its page and checks the output-operations table, then stops the job by its PID
(SIGTERM: a graceful stop) and requires a clean exit. Screenshots go to OUT_DIR/streaming.png and
OUT_DIR/batch.png.

Usage: browser_test.py UI_JOB OUT_DIR
Needs Debian's chromium, chromium-driver and python3-selenium (scripts/install-deps.sh); fails
when one is missing.
"""

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
DEADLINE_S = 60  # bound of every wait on the page

COMPLETED_HEADERS = ["Batch Time", "Records", "Scheduling Delay", "Processing Time",
                     "Total Delay", "Output Ops: Succeeded/Total"]
ACTIVE_HEADERS = ["Batch Time", "Records", "Scheduling Delay", "Processing Time",
                  "Output Ops: Succeeded/Total", "Status"]
OUTPUT_OP_HEADERS = ["Output Op Id", "Description", "Output Op Duration", "Status", "Job Id",
                     "Job Duration", "Stages: Succeeded/Total",
                     "Tasks (for all stages): Succeeded/Total", "Error"]


def fail(message):
    print(f"browser_test: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


try:
    from selenium import webdriver
    from selenium.common.exceptions import (SessionNotCreatedException,
                                            StaleElementReferenceException, TimeoutException)
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as error:
    fail(f"python3-selenium is missing ({error}); run scripts/install-deps.sh")


def read_ui_url(job):
    """The address from the job's "Spark UI: <url>" line, waiting at most DEADLINE_S."""
    deadline = time.monotonic() + DEADLINE_S
    line = ""
    while not line.endswith("\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            fail("ui_job printed no UI address in time")
        ready, _, _ = select.select([job.stdout], [], [], remaining)
        if ready:
            chunk = os.read(job.stdout.fileno(), 4096).decode()
            if not chunk:
                fail(f"ui_job exited before printing its UI address (status {job.wait()})")
            line += chunk
    first = line.splitlines()[0]
    prefix = "Spark UI: http://"
    if not first.startswith(prefix):
        fail(f"unexpected first line from ui_job: {first!r}")
    return first[len("Spark UI: "):]


def texts(driver, selector):
    """The text of each element matching `selector`, read at one instant (the pages replace their
    tables while they refresh, so elements found earlier may be gone)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), (e) => e.innerText.trim());",
        selector)


def text_of(driver, selector):
    """The text of the first element matching `selector`, or "" when there is none (yet)."""
    found = texts(driver, selector)
    return found[0] if found else ""


def click(wait, selector):
    """Clicks the first element matching `selector`, found again if a refresh replaced it;
    returns its text."""
    def attempt(driver):
        element = driver.find_element(By.CSS_SELECTOR, selector)
        text = element.text
        element.click()
        return text
    return wait.until(attempt)


def completed_count(driver):
    text = text_of(driver, "#completed-count").replace(",", "")
    return int(text) if text.isdigit() else 0


def chart_points(driver, canvas_id):
    return driver.execute_script(
        "const c = Chart.getChart(arguments[0]);"
        "return c ? c.data.datasets[0].data.length : 0;", canvas_id)


def check_pages(driver, url, out_dir):
    wait = WebDriverWait(driver, DEADLINE_S, ignored_exceptions=[StaleElementReferenceException])
    driver.get(url + "/")
    wait.until(lambda d: d.current_url.endswith("/streaming/"))
    wait.until(lambda d: texts(d, "#completed-batches-table thead th"))
    # Spark's tabs, Streaming among them once a StreamingContext started.
    wait.until(lambda d: texts(d, "#tabs a.tab") == ["Jobs", "Stages", "Environment", "Streaming"])
    headers = texts(driver, "#completed-batches-table thead th")
    if headers != COMPLETED_HEADERS:
        fail(f"Completed Batches columns {headers}, expected {COMPLETED_HEADERS}")
    headers = texts(driver, "#active-batches-table thead th")
    if headers != ACTIVE_HEADERS:
        fail(f"Active Batches columns {headers}, expected {ACTIVE_HEADERS}")

    # Live: the count grows while the page stays loaded (a reload would drop the marker).
    wait.until(lambda d: completed_count(d) >= 1)
    first = completed_count(driver)
    driver.execute_script("window.sluiceSamePage = true;")
    wait.until(lambda d: completed_count(d) >= first + 3)
    if not driver.execute_script("return window.sluiceSamePage === true;"):
        fail("the Streaming page reloaded instead of updating in place")
    print(f"browser_test: completed batches shown grew from {first} to {completed_count(driver)}")

    wait.until(lambda d: chart_points(d, "processing-time-timeline") >= 3)
    receivers = texts(driver, "#receivers-table tbody td")
    if not receivers or "WordReceiver" not in receivers[0] or receivers[1] != "ACTIVE":
        fail(f"receivers table shows {receivers}")
    title = text_of(driver, "#completed-batches-title")
    if not title.startswith("Completed Batches (last "):
        fail(f"completed batches title {title!r}")
    # Sluice's sections: the running total's state, and the checkpoints the job writes.
    wait.until(lambda d: texts(d, "#state-table tbody td")[:1] != [] and
               texts(d, "#state-table tbody td")[0].startswith("updateStateByKey@"))
    state = texts(driver, "#state-table tbody td")
    if not state[1].replace(",", "").isdigit() or int(state[1].replace(",", "")) == 0:
        fail(f"state table shows {state}")
    wait.until(lambda d: chart_points(d, "state-timeline") >= 2)
    wait.until(lambda d: text_of(d, "#checkpoint-count").isdigit() and
               int(text_of(d, "#checkpoint-count")) >= 2)
    driver.save_screenshot(os.path.join(out_dir, "streaming.png"))

    # A batch's page through its link in the Completed Batches table.
    batch_time = click(wait, "#completed-batches-table tbody tr td a")
    wait.until(lambda d: "/streaming/batch/?id=" in d.current_url)
    wait.until(lambda d: text_of(d, "#batch-title").startswith("Details of batch at"))
    heading = text_of(driver, "#batch-title")
    if batch_time not in heading:
        fail(f"batch page {heading!r} is not the batch of the link {batch_time!r}")
    headers = texts(driver, "#output-ops-table thead th")
    if headers != OUTPUT_OP_HEADERS:
        fail(f"output operation columns {headers}, expected {OUTPUT_OP_HEADERS}")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR,
                                             "#output-ops-table a[href^='/jobs/job/?id=']")) >= 2)
    # The Status cell of each operation's first row (the rows of its further jobs are shorter).
    statuses = driver.execute_script(
        "return Array.from(document.querySelectorAll('#output-ops-table tbody tr'))"
        ".filter((r) => r.cells.length === arguments[0])"
        ".map((r) => r.cells[3].innerText.trim());", len(OUTPUT_OP_HEADERS))
    if statuses != ["Succeeded", "Succeeded"]:
        fail(f"output operation statuses {statuses}, expected two Succeeded")
    driver.save_screenshot(os.path.join(out_dir, "batch.png"))

    # On to one of its jobs.
    click(wait, "#output-ops-table a[href^='/jobs/job/?id=']")
    wait.until(lambda d: text_of(d, "#page-title").startswith("Details for Job "))
    wait.until(lambda d: any(t.isdigit() for t in
                             texts(d, "#job-stages-table tbody tr td:first-child")))


def start_browser(options, out_dir):
    """Chromium through chromedriver. A loaded machine can make Chromium miss chromedriver's
    start-up deadline ("DevToolsActivePort file doesn't exist"): that is retried, twice, each
    attempt logging to its own file in out_dir."""
    for attempt in range(1, 4):
        log_path = os.path.join(out_dir, f"chromedriver-{attempt}.log")
        try:
            return webdriver.Chrome(service=Service(CHROMEDRIVER, log_path=log_path,
                                                    service_args=["--verbose"]),
                                    options=options)
        except SessionNotCreatedException as e:
            print(f"browser_test: Chromium did not start (attempt {attempt}, log {log_path}): "
                  f"{e.msg}", file=sys.stderr)
    fail("Chromium did not start in three attempts")


def main():
    if len(sys.argv) != 3:
        fail("usage: browser_test.py UI_JOB OUT_DIR")
    job_path, out_dir = sys.argv[1], sys.argv[2]
    for tool, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(tool, os.X_OK):
            fail(f"{tool} is missing: install {package} (scripts/install-deps.sh)")
    os.makedirs(out_dir, exist_ok=True)
    checkpoint_dir = tempfile.mkdtemp(prefix="sluice-ui-job-")
    job = subprocess.Popen([job_path, checkpoint_dir], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE)
    try:
        url = read_ui_url(job)
        print(f"browser_test: ui_job (pid {job.pid}) serves {url}")
        options = Options()
        options.binary_location = CHROMIUM
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1400,1500"):
            options.add_argument(argument)
        driver = start_browser(options, out_dir)
        try:
            check_pages(driver, url, out_dir)
        except TimeoutException:
            driver.save_screenshot(os.path.join(out_dir, "timeout.png"))
            fail(f"a wait on {driver.current_url} ran out after {DEADLINE_S} s "
                 f"(screenshot {out_dir}/timeout.png)")
        finally:
            driver.quit()
    finally:
        if job.poll() is None:
            os.kill(job.pid, signal.SIGTERM)
        try:
            status = job.wait(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            os.kill(job.pid, signal.SIGKILL)
            job.wait()
            fail("ui_job did not stop within its deadline after SIGTERM")
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    if status != 0:
        fail(f"ui_job exited with status {status}")
    print(f"browser_test: passed; screenshots in {out_dir}")


if __name__ == "__main__":
    main()
