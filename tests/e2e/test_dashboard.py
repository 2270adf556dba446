"""The dashboard in a real browser (Debian's Chromium via Playwright) against the real stack.

A push deploys dockerfile-hello; then config, scaling and rollback are done by clicking, and
checked where it matters: the app's answer through the router and the containers in Docker.
"""

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.stack import commit_all, unique_app_name

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(os.environ.get("PAAS_SCREENSHOTS", "/tmp/paas-screenshots"))
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")


@pytest.fixture(scope="module")
def hello(stack, tmp_path_factory):
    app = unique_app_name("dash")
    repo = stack.checkout("dockerfile-hello", tmp_path_factory.mktemp("dash"))
    result = stack.push(repo, app)
    assert result.returncode == 0, result.stderr + stack.logs()
    return app, repo


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield launched
        launched.close()


def log_in(browser, stack, username: str, password: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the rollback/remove confirmations
    page.goto(f"http://127.0.0.1:{stack.control_port}/")
    assert "/login/" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"http://127.0.0.1:{stack.control_port}/")
    return page


@pytest.fixture(scope="module")
def admin_page(browser, stack, hello):
    page = log_in(browser, stack, stack.username, stack.password)
    yield page
    page.context.close()


def web_containers(app: str) -> list[str]:
    """Names of the app's running web containers, per dockerd (shared with other suites, so
    a moment of unavailability is retried a few times)."""
    for _ in range(10):
        result = subprocess.run(["docker", "ps", "--filter", f"label=paas.app={app}",
                                 "--filter", "label=paas.process=web", "--format",
                                 "{{.Names}}"], capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout.split()
        time.sleep(2)
    raise AssertionError(f"docker ps failed: {result.stderr}")


def test_the_apps_list_shows_the_pushed_app_running(admin_page, stack, hello):
    app, _ = hello
    page = admin_page
    page.goto(f"http://127.0.0.1:{stack.control_port}/")
    row = page.locator(f"tr[data-app='{app}']")
    assert row.locator("[data-status]").get_attribute("data-status") == "running"
    assert "web × 1" in row.inner_text()
    assert "v1" in row.inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "apps-list.png"), full_page=True)


def test_config_set_in_the_browser_reaches_the_running_app(admin_page, stack, hello):
    app, _ = hello
    page = admin_page
    page.goto(f"http://127.0.0.1:{stack.control_port}/apps/{app}/")
    page.fill("#config-form input[name=key]", "GREETING")
    page.fill("#config-form input[name=value]", "Howdy")
    page.click("#config-form button[type=submit]")
    # The deploy runs in a worker; the page follows its progress, then shows the outcome.
    page.wait_for_selector("text=Set GREETING and restarted", timeout=120_000)
    assert page.locator("#action").get_attribute("data-status") == "succeeded"
    assert "-----> v2 is live" in page.locator("#action pre.log").text_content()  # folded
    assert stack.wait_for_answer(app, "Howdy from dockerfile-hello").body == \
        "Howdy from dockerfile-hello\n"
    row = page.locator("tr[data-key='GREETING']")
    assert row.locator(".revealed").is_hidden()  # masked until revealed
    row.locator("[data-reveal]").click()
    assert row.locator(".revealed").inner_text() == "Howdy"
    assert page.locator("tr[data-version='v2'] .badge").inner_text() == "current"


def test_scaling_in_the_browser_runs_two_web_instances(admin_page, stack, hello):
    app, _ = hello
    page = admin_page
    page.goto(f"http://127.0.0.1:{stack.control_port}/apps/{app}/")
    page.fill("input[name=qty-web]", "2")
    page.click("form.scale button[type=submit]")
    page.wait_for_selector("text=Scaled to web=2", timeout=120_000)
    running = page.locator("#instances li[data-process='web'][data-state='running']")
    playwright_api.expect(running).to_have_count(2, timeout=30_000)
    assert len(web_containers(app)) == 2
    page.screenshot(path=str(SHOTS / "app-page.png"), full_page=True)


def test_rollback_in_the_browser_restores_the_old_answer(admin_page, stack, hello):
    app, _ = hello
    page = admin_page
    page.goto(f"http://127.0.0.1:{stack.control_port}/apps/{app}/")
    page.click("tr[data-version='v1'] button[type=submit]")
    page.wait_for_selector("text=Rolled back to v1", timeout=120_000)
    assert stack.wait_for_answer(app, "Hello from dockerfile-hello").body == \
        "Hello from dockerfile-hello\n"
    assert page.locator("tr[data-version='v3'] .badge").inner_text() == "current"
    assert "Rollback to v1" in page.locator("tr[data-version='v3']").inner_text()
    assert len(web_containers(app)) == 2  # the formation outlives releases


def container_limits(app: str) -> set[tuple[str, str]]:
    """(memory bytes, nano CPUs) of the app's running web containers, per docker inspect."""
    names = web_containers(app)
    result = subprocess.run(["docker", "inspect", "--format",
                             "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}", *names],
                            capture_output=True, text=True, check=True)
    return {tuple(line.split()) for line in result.stdout.splitlines()}


def test_limits_set_in_the_browser_reach_the_containers(admin_page, stack, hello):
    app, _ = hello
    page = admin_page
    page.goto(f"http://127.0.0.1:{stack.control_port}/apps/{app}/")
    page.click("#limits summary")
    form = page.locator("form.limit-form[data-process='web']")
    form.locator("input[name=memory]").fill("256m")
    form.locator("input[name=cpus]").fill("0.5")
    form.locator("button[type=submit]").click()
    page.wait_for_selector(f"text=Resized web of {app}", timeout=120_000)
    assert page.locator("#limits-summary").inner_text() == "web: 256m, 0.5 CPU"
    assert container_limits(app) == {(str(256 * 1024 * 1024), "500000000")}
    assert len(web_containers(app)) == 2


def test_a_volume_added_in_the_browser_is_mounted(admin_page, stack, hello):
    app, _ = hello
    page = admin_page
    page.goto(f"http://127.0.0.1:{stack.control_port}/apps/{app}/")
    page.fill("#volume-form input[name=name]", "uploads")
    page.fill("#volume-form input[name=mount_path]", "/srv/uploads")
    page.click("#volume-form button[type=submit]")
    page.wait_for_selector("text=Mounted uploads at /srv/uploads", timeout=120_000)
    assert page.locator("li[data-volume='uploads']").is_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "action-outcome.png"))
    containers = web_containers(app)
    mounts = subprocess.run(["docker", "inspect", "--format",
                             "{{range .Mounts}}{{.Name}}:{{.Destination}} {{end}}",
                             *containers], capture_output=True, text=True, check=True)
    # paas-<app>_<app uid>_<volume>, the same volume in every web container.
    found = mounts.stdout.split()
    assert len(found) == len(containers) and len(set(found)) == 1, found
    assert re.fullmatch(rf"paas-{app}_[0-9a-f]{{12}}_uploads:/srv/uploads", found[0]), found


def newest_build(stack, app: str) -> dict | None:
    answer = stack.api("GET", f"/apps/{app}/builds")
    assert answer.status == 200, answer.body
    builds = answer.json()
    return builds[0] if builds else None


def test_the_build_log_streams_live_in_the_browser(admin_page, stack, hello):
    app, repo = hello
    page = admin_page
    before = newest_build(stack, app)["id"]
    dockerfile = repo / "Dockerfile"
    # A slow step unique to this run, so the build is still running when the page opens.
    dockerfile.write_text(dockerfile.read_text()
                          + f"RUN echo building-{time.time_ns()} && sleep 6\n")
    commit_all(repo, "slow step")
    push = subprocess.Popen(["git", "push", stack.remote(app), "main"], cwd=repo,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        build = None
        for _ in range(60):
            build = newest_build(stack, app)
            if build["id"] != before:
                break
            time.sleep(0.5)
        assert build["id"] != before
        page.goto(f"http://127.0.0.1:{stack.control_port}/apps/{app}/builds/{build['id']}/")
        assert page.locator("#log-state").inner_text() == "live"
        log = page.locator("#build-log")
        playwright_api.expect(log).to_contain_text("-----> Building", timeout=60_000)
        playwright_api.expect(log).to_contain_text(re.compile(r"Released v\d+"),
                                                   timeout=300_000)
        playwright_api.expect(page.locator("#build-status")).to_have_text("succeeded")
        page.screenshot(path=str(SHOTS / "build-log.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(SHOTS / "build-log-phone.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})
    finally:
        _, stderr = push.communicate(timeout=600)
    assert push.returncode == 0, stderr


@pytest.mark.parametrize("width,height,suffix", [(1280, 900, "desktop"), (390, 844, "phone")])
def test_screenshots_of_the_apps_list_and_app_page(admin_page, stack, hello, width, height,
                                                   suffix):
    """Pictures to look at (PAAS_SCREENSHOTS), and a check that nothing overflows sideways."""
    app, _ = hello
    page = admin_page
    page.set_viewport_size({"width": width, "height": height})
    try:
        SHOTS.mkdir(parents=True, exist_ok=True)
        for name, path in (("apps-list", "/"), ("app-page", f"/apps/{app}/")):
            page.goto(f"http://127.0.0.1:{stack.control_port}{path}")
            page.screenshot(path=str(SHOTS / f"{name}-{suffix}.png"), full_page=True)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} is {overflow}px wider than a {width}px screen"
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})


def test_an_outsider_sees_nothing_of_the_app(browser, stack, hello):
    app, _ = hello
    outsider = stack.create_user("outsider")
    page = log_in(browser, stack, "outsider", outsider.password)
    try:
        assert app not in page.content()
        response = page.goto(f"http://127.0.0.1:{stack.control_port}/apps/{app}/")
        assert response.status == 404
        assert app not in page.content()
        response = page.request.post(
            f"http://127.0.0.1:{stack.control_port}/apps/{app}/scale", form={"qty-web": "0"})
        assert response.status in (403, 404)  # no CSRF token, and not theirs anyway
    finally:
        page.context.close()
    assert len(web_containers(app)) == 2
