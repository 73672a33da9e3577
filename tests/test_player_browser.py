"""The HTML player in a real browser: headless Chromium driven by selenium.

Skipped only off CI when Chromium, its driver or selenium is missing; with ``CI`` set a missing browser
fails (``.ci/run`` installs Debian's ``chromium`` and ``chromium-driver``).
"""

import os
import shutil
import time

import numpy as np
import pytest

from emviz.writers import open_writer
from emviz.writers.player import PlayerEncoder, player_fragment

CHROMEDRIVER = "/usr/bin/chromedriver"
W, H = 64, 40
COLORS = [(255, 255, 255), (0, 0, 0), (31, 119, 180), (255, 127, 14), (44, 160, 44)]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def browser():
    problem = None
    try:
        from selenium import webdriver
    except ImportError:
        problem = "selenium is not installed (pip install -e '.[test]')"
    if problem is None and not (os.path.exists(CHROMEDRIVER) and (shutil.which("chromium") or shutil.which("chromium-browser"))):
        problem = f"no Chromium or no {CHROMEDRIVER} (apt-get install chromium chromium-driver)"
    if problem is not None:
        if _in_ci():
            pytest.fail(f"CI is set but the browser tests cannot run: {problem}")
        pytest.skip(problem)
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=900,700"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    driver.set_script_timeout(10)
    yield driver
    driver.quit()


def frames(n, seed=0):
    """``n`` distinct frames of flat colours: a square that moves, a bar that grows."""
    out = []
    for i in range(n):
        f = np.full((H, W, 3), COLORS[0], np.uint8)
        f[0, :] = COLORS[1]
        x = (3 * i + seed) % (W - 8)
        f[10:18, x:x + 8] = COLORS[2 + (i + seed) % 3]
        f[30:33, : 1 + (i % (W - 1))] = COLORS[1]
        out.append(f)
    return out


def write_page(path, n, *, seed=0, fps=20):
    iterations = [2 * i for i in range(n)]
    with open_writer(path, fps=fps, required_colors=COLORS, iterations=iterations,
                     log_likelihood=[-100.0 + i for i in range(n)]) as w:
        for f in frames(n, seed):
            w.grab_frame(f)
    return iterations


def fragment(n, seed, autoplay):
    encoder = PlayerEncoder(COLORS)
    for f in frames(n, seed):
        encoder.add(f, 50)
    return player_fragment(encoder.finish(iterations=list(range(0, 3 * n, 3))), f"player {seed}", autoplay=autoplay)


def wait_for(predicate, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("timed out waiting for the player")


def state(root):
    return {k: root.get_attribute(f"data-{k}") for k in ("frame", "frames", "iteration", "playing")}


def canvas_pixels(driver, root):
    data = driver.execute_script(
        "var c = arguments[0].querySelector('canvas');"
        "return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);", root)
    return np.array(data, np.uint8).reshape(H, W, 4)


def severe(driver):
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def open_page(driver, path):
    driver.get(path.as_uri())
    root = driver.find_element("css selector", ".emviz-player")
    wait_for(lambda: root.get_attribute("data-playing") == "true")
    return root


def pause(root):
    if root.get_attribute("data-playing") == "true":
        root.find_element("css selector", ".emviz-play").click()
    wait_for(lambda: root.get_attribute("data-playing") == "false")


def test_page_loads_cleanly_and_shows_the_frames_exactly(browser, tmp_path):
    n = 40
    iterations = write_page(tmp_path / "p.html", n)
    root = open_page(browser, tmp_path / "p.html")
    pause(root)
    assert severe(browser) == []
    assert root.get_attribute("data-frames") == str(n)
    assert len(root.find_elements("css selector", "input[type=range]")) == 1
    want = frames(n)
    # Forward past two snapshots, then back (from a snapshot), then to the end: every one exact.
    for k in (37, 5, 16, n - 1, 0):
        browser.execute_script(
            "var s = arguments[0].querySelector('input[type=range]'); s.value = arguments[1];"
            "s.dispatchEvent(new Event('input'));", root, k)
        wait_for(lambda: root.get_attribute("data-frame") == str(k))
        assert root.get_attribute("data-iteration") == str(iterations[k])
        pixels = canvas_pixels(browser, root)
        np.testing.assert_array_equal(pixels[..., :3], want[k])
        assert (pixels[..., 3] == 255).all()
    info = root.find_element("css selector", ".emviz-info").text
    assert "iteration 0" in info and "log-likelihood" in info and "frame 1/40" in info
    assert severe(browser) == []


def test_slider_keys_and_step_buttons_change_the_frame(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    iterations = write_page(tmp_path / "p.html", 12)
    root = open_page(browser, tmp_path / "p.html")
    pause(root)
    root.find_element("css selector", ".emviz-next").click()  # the slider and keys act from here
    wait_for(lambda: root.get_attribute("data-playing") == "false")
    slider = root.find_element("css selector", "input[type=range]")
    slider.send_keys(Keys.END)  # the slider's own keys: the player follows its "input" events
    wait_for(lambda: root.get_attribute("data-frame") == "11")
    assert root.get_attribute("data-iteration") == str(iterations[11])
    slider.send_keys(Keys.ARROW_LEFT)
    wait_for(lambda: root.get_attribute("data-frame") == "10")
    root.send_keys(Keys.ARROW_LEFT)  # the player's keys, on the focused root
    wait_for(lambda: root.get_attribute("data-frame") == "9")
    root.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)  # wraps round
    wait_for(lambda: root.get_attribute("data-frame") == "0")
    assert root.get_attribute("data-iteration") == "0"
    root.find_element("css selector", ".emviz-prev").click()
    wait_for(lambda: root.get_attribute("data-frame") == "11")
    assert severe(browser) == []


def test_play_advances_pause_stops_loop_off_stops_at_the_end(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    write_page(tmp_path / "p.html", 30, fps=50)
    root = open_page(browser, tmp_path / "p.html")
    first = int(root.get_attribute("data-frame"))
    wait_for(lambda: int(root.get_attribute("data-frame")) >= first + 3)  # playing advances
    root.send_keys(" ")  # space on the focused player pauses
    wait_for(lambda: root.get_attribute("data-playing") == "false")
    stopped = root.get_attribute("data-frame")
    time.sleep(0.3)  # 15 frame durations at 50 fps
    assert root.get_attribute("data-frame") == stopped
    root.find_element("css selector", ".emviz-loop").click()
    assert root.find_element("css selector", ".emviz-loop").get_attribute("aria-pressed") == "false"
    root.find_element("css selector", ".emviz-speed").send_keys("2")  # 2x
    root.find_element("css selector", ".emviz-play").click()
    wait_for(lambda: root.get_attribute("data-playing") == "false" and root.get_attribute("data-frame") == "29")
    root.send_keys(Keys.SPACE)  # play again from the end without loop: starts over
    wait_for(lambda: root.get_attribute("data-playing") == "true")
    assert severe(browser) == []


def test_two_players_on_one_page_are_independent(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    page = "<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
    page += fragment(10, 0, autoplay=False) + "<p>between</p>" + fragment(14, 1, autoplay=False) + "</body></html>"
    (tmp_path / "two.html").write_text(page)
    browser.get((tmp_path / "two.html").as_uri())
    a, b = browser.find_elements("css selector", ".emviz-player")
    wait_for(lambda: a.get_attribute("data-frame") == "0" and b.get_attribute("data-frame") == "0")
    assert (a.get_attribute("data-frames"), b.get_attribute("data-frames")) == ("10", "14")
    a.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)  # keys reach the focused player only
    wait_for(lambda: a.get_attribute("data-frame") == "2")
    assert b.get_attribute("data-frame") == "0"
    assert a.get_attribute("data-iteration") == "6"
    b.find_element("css selector", ".emviz-play").click()
    wait_for(lambda: int(b.get_attribute("data-frame")) >= 3)
    assert a.get_attribute("data-frame") == "2" and a.get_attribute("data-playing") == "false"
    b.find_element("css selector", "input[type=range]").send_keys(Keys.HOME)
    wait_for(lambda: b.get_attribute("data-frame") == "0")
    assert a.get_attribute("data-frame") == "2"
    np.testing.assert_array_equal(canvas_pixels(browser, a)[..., :3], frames(10, 0)[2])
    np.testing.assert_array_equal(canvas_pixels(browser, b)[..., :3], frames(14, 1)[0])
    assert severe(browser) == []


def test_a_200_frame_page_starts_playing_quickly(browser, tmp_path):
    # A docs-sized frame (1200 x 600) would make the test slow to write; 600 x 300 keeps the decoding real.
    from PIL import Image

    big = tmp_path / "big.html"
    base = np.asarray(Image.new("RGB", (600, 300), COLORS[0])).copy()
    with open_writer(big, fps=10, required_colors=COLORS, iterations=list(range(200))) as w:
        for i in range(200):
            f = base.copy()
            f[50:250, 20 + 2 * i:60 + 2 * i] = COLORS[2 + i % 3]
            f[280:290, : 3 * i + 1] = COLORS[1]
            w.grab_frame(f)
    browser.get(big.as_uri())
    root = browser.find_element("css selector", ".emviz-player")
    wait_for(lambda: root.get_attribute("data-playing") == "true")
    # performance.now() counts from the navigation's start; polled, so at most ~10 ms late.
    started_ms = browser.execute_script("return performance.now()")
    print(f"\n200-frame page ({big.stat().st_size / 1e6:.2f} MB): playing {started_ms:.0f} ms after navigation start")
    assert root.get_attribute("data-frames") == "200"
    wait_for(lambda: int(root.get_attribute("data-frame")) >= 2)
    assert severe(browser) == []
