"""The dashboard in a real browser: headless Chromium (Debian's) driven by Selenium (PyPI).

Run by DashboardBrowserTests (Swift), one phase at a time, against a running `phoenix agent`:
    dashboard.py PHASE --url URL --read-token T --operate-token T --screenshots DIR --axe AXE_JS
                 [--secret S ...] [--run N]
It asserts on the DOM (the stable data-* markers), never on pixels; screenshots are artefacts.
Every page it visits is checked with axe-core (no serious or critical violation) and searched
for the secrets given. Exit 0 when every check holds; otherwise each failure on stderr, exit 1.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


class Browser:
    def __init__(self, args):
        self.args = args
        options = Options()
        self.profile = tempfile.mkdtemp(prefix="phoenix-chromium-")
        options.binary_location = "/usr/bin/chromium"
        for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000",
                     "--disable-gpu", "--no-first-run", "--user-data-dir=" + self.profile]:
            options.add_argument(flag)
        self.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        self.driver.set_page_load_timeout(30)
        with open(args.axe, encoding="utf-8") as handle:
            self.axe = handle.read()
        self.shots = 0

    def open(self, path):
        self.driver.get(self.args.url + path)
        self.inspect(path)

    def inspect(self, label):
        """The page now: a screenshot, no secret in its source, axe finds nothing serious."""
        self.shots += 1
        name = "%s-%02d-%s.png" % (self.args.phase, self.shots, label.strip("/").replace("/", "_") or "overview")
        self.driver.save_screenshot(os.path.join(self.args.screenshots, name))
        source = self.driver.page_source
        for secret in self.args.secret:
            check(secret not in source, "%s: a secret is on the page" % label)
        self.driver.execute_script(self.axe)
        result = self.driver.execute_async_script(
            "var done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(function (r) { done(JSON.stringify(r.violations)); })"
            ".catch(function (e) { done(JSON.stringify([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}])); });")
        for violation in json.loads(result):
            if violation.get("impact") in ("serious", "critical"):
                targets = [node.get("target") for node in violation.get("nodes", [])][:3]
                failures.append("%s: axe %s (%s): %s %s" % (label, violation["id"], violation["impact"], violation.get("help"), targets))

    def sign_in(self, token):
        self.driver.delete_all_cookies()
        self.open("/login")
        self.driver.find_element(By.ID, "token").send_keys(token)
        self.driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button[type=submit]").click()
        self.wait(lambda: self.path() == "/", "signed in, on the overview")

    def path(self):
        url = self.driver.current_url
        rest = url[len(self.args.url):] if url.startswith(self.args.url) else url
        return rest.split("?")[0].split("#")[0] or "/"

    def wait(self, condition, what, timeout=60, reload=False):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if condition():
                    return True
            except Exception:  # a page between loads
                pass
            time.sleep(0.25)
            if reload:
                self.driver.refresh()
        failures.append("waited %d s for %s; on %s" % (timeout, what, self.driver.current_url))
        return False

    def css(self, selector):
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def post(self, path, form):
        """A POST from the page's own origin (with its cookie), as a forged form would send it."""
        return self.driver.execute_async_script(
            "var done = arguments[arguments.length - 1];"
            "fetch(arguments[0], {method: 'POST', credentials: 'same-origin', redirect: 'manual',"
            " headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: arguments[1]})"
            ".then(function (r) { done(r.status); }).catch(function (e) { done(String(e)); });", path, form)

    def quit(self):
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)


PAGES = ["/", "/runs", "/runs?stage=files", "/drift", "/certificates", "/stacks", "/guests", "/graph", "/graph?stage=files"]


def overview(browser, args):
    """A stage drifted by hand shows drifted; a read-only session has no button, and its forged
    POSTs are refused; so is a form without the CSRF token."""
    browser.sign_in(args.read_token)
    browser.wait(lambda: browser.css("[data-stage='files'][data-state='drifted']"), "the files stage drifted", reload=True)
    check(browser.css("[data-stage]"), "the overview lists the stages")
    for path in PAGES:
        browser.open(path)
        check(not browser.css("form[action='/sync'], form[action$='/approve'], form[action$='/discard']"),
              "%s: a read-only session sees an action" % path)
    browser.open("/runs")
    rows = browser.css("tr[data-run]")
    if check(rows, "the runs page lists runs"):
        browser.open("/runs/" + rows[0].get_attribute("data-run"))
        check(browser.css("[data-resource][data-outcome]"), "a run page lists its resources with their outcome")
    browser.open("/drift")
    check(browser.css("tr[data-resource^='files:']"), "the drift page names the resource changed by hand")
    # The guests as fakepve reports them: created as declared, none started.
    browser.open("/guests")
    browser.wait(lambda: browser.css("tr[data-guest='101'][data-status='stopped']"), "guest 101 read from the Proxmox API", reload=True)
    browser.inspect("guests")
    browser.open("/")
    check(browser.css("[data-guest='101']"), "the overview lists guest 101 among the guests not running")
    browser.open("/runs?stage=files")
    check(browser.css("tr[data-run]"), "the runs that changed the files stage are listed by stage")
    # A fresh read-only session (the phase may outlast the short session age on a loaded machine).
    browser.sign_in(args.read_token)
    csrf = browser.css("input[name=csrf]")[0].get_attribute("value")
    check(browser.post("/sync", "csrf=" + csrf) == 403, "a read-only session's forged POST /sync is refused 403")
    browser.sign_in(args.operate_token)
    check(browser.post("/sync", "") == 403, "a POST without the CSRF token is refused 403")


def live(browser, args):
    """A sync started from the browser: its page follows the run live until every resource settled."""
    browser.sign_in(args.operate_token)
    browser.css("form[action='/sync'] button")[0].click()
    browser.wait(lambda: browser.path().startswith("/runs/"), "the run's page after Sync now")
    check(browser.css("[data-live-run]"), "the page of a run still going watches it live")
    browser.wait(lambda: browser.css("[data-live-run][data-ended]"), "the run's end, told live (no reload)")
    browser.inspect("run-live")
    settled = [row.get_attribute("data-outcome") for row in browser.css("[data-live-run] tr[data-resource]")]
    check(settled and all(outcome in ("converged", "unchanged") for outcome in settled),
          "the resources turned converged live: %s" % settled)
    check("converged" in settled, "at least one resource converged live: %s" % settled)
    check(browser.css("dd[data-outcome='succeeded']"), "the run's outcome at the top turned succeeded live")


def approve(browser, args):
    """A plan waiting for approval is approved from its page and applied."""
    browser.sign_in(args.operate_token)
    browser.open("/runs/%s" % args.run)
    check(browser.css("[data-outcome='waiting for approval']"), "run %s waits for approval" % args.run)
    buttons = browser.css("form[action='/runs/%s/approve'] button" % args.run)
    if check(buttons, "an Approve button for the operate role"):
        buttons[0].click()
        browser.wait(lambda: browser.path().startswith("/runs/") and browser.path() != "/runs/%s" % args.run, "the approving run's page")
        browser.wait(lambda: browser.css("dd[data-outcome='succeeded']") or browser.css("[data-live-run][data-ended='succeeded']"),
                     "the approved plan applied", reload=True)
        browser.inspect("approved")


def expired(browser, args):
    """A session past its max age returns to the login."""
    browser.sign_in(args.read_token)
    time.sleep(args.max_age + 1)
    browser.open("/")
    check(browser.path() == "/login", "an expired session lands on /login, not %s" % browser.path())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("phase", choices=["overview", "live", "approve", "expired"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--read-token", required=True)
    parser.add_argument("--operate-token", required=True)
    parser.add_argument("--screenshots", required=True)
    parser.add_argument("--axe", required=True)
    parser.add_argument("--secret", action="append", default=[])
    parser.add_argument("--run")
    parser.add_argument("--max-age", type=float, default=0)
    args = parser.parse_args()
    os.makedirs(args.screenshots, exist_ok=True)
    browser = Browser(args)
    try:
        globals()[args.phase](browser, args)
    finally:
        browser.quit()
    for failure in failures:
        print(failure, file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
