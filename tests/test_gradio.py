"""The Gradio app on 127.0.0.1: through gradio_client, and end to end in headless Chromium."""

import csv
import os
import shutil
import socket
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from serving_helpers import rendered_line_png, rendered_page_png

gr = pytest.importorskip("gradio")
from gradio_client import Client, handle_file  # noqa: E402

from model_package.serving.gradio_app import backend_predictor, local_predictor, make_app  # noqa: E402
from model_package.serving.http import make_server  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TEXT = "converted to ordinals. Return"
PAGE = ["The letter came on a Monday,", "and she read it twice", "before she put it away."]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def line_png(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "line.png"
    rendered_line_png(TEXT, path)
    return path


@pytest.fixture(scope="module")
def expected(line_png):
    return local_predictor(None)(Image.open(line_png)).text


@pytest.fixture(scope="module")
def page_png(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "page.png"
    rendered_page_png(PAGE, path)
    return path


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    flagged = tmp_path_factory.mktemp("flagged")
    app = make_app(local_predictor(None), flagging_dir=flagged)
    app.launch(server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, quiet=True)
    yield app.local_url, flagged
    app.close()


def test_gradio_client_gets_the_prediction(app_url, line_png, expected):
    url, _ = app_url
    text, lines_image = Client(url, verbose=False).predict(handle_file(str(line_png)), api_name="/predict")
    assert text == expected
    assert Image.open(lines_image).size == Image.open(line_png).size  # the upload, with its line outlined


def test_gradio_reads_a_page_and_outlines_each_line(app_url, page_png):
    url, _ = app_url
    answer = local_predictor(None)(Image.open(page_png))
    text, lines_image = Client(url, verbose=False).predict(handle_file(str(page_png)), api_name="/predict")
    assert text == answer.text and len(answer.lines) == len(PAGE) and text.count("\n") == len(PAGE) - 1
    shown = np.asarray(Image.open(lines_image).convert("RGB")).astype(int)
    for _, polygon in answer.lines:  # each outline's top-left corner is drawn in colour
        x, y = (int(round(v)) for v in polygon[0])
        patch = shown[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3]
        assert (patch.max(-1) - patch.min(-1) > 80).any(), f"no outline at {(x, y)}"  # a colour, not ink or paper


def test_gradio_app_with_backend_calls_the_http_endpoint(line_png, expected, tmp_path):
    import threading

    server = make_server("127.0.0.1", 0, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    app = make_app(backend_predictor(f"http://127.0.0.1:{server.server_address[1]}/"), flagging_dir=tmp_path)
    app.launch(server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, quiet=True)
    try:
        text, _ = Client(app.local_url, verbose=False).predict(handle_file(str(line_png)), api_name="/predict")
        assert text == expected
    finally:
        app.close()
        server.shutdown()
        server.server_close()


def test_browser_upload_shows_the_text_and_flags_it(app_url, line_png, expected, page_png):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium chromium-driver)")
    from playwright.sync_api import expect, sync_playwright

    url, flagged = app_url
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            page.goto(url)
            expect(page.get_by_text("Handwritten text recognition")).to_be_visible(timeout=30_000)
            page.locator("input[type=file]").first.set_input_files(str(line_png))
            page.get_by_role("button", name="Submit").click()
            output = page.locator("#prediction textarea")
            expect(output).to_have_value(expected, timeout=60_000)
            page.get_by_role("button", name="wrong answer").click()
            deadline = time.monotonic() + 30
            rows = []
            while time.monotonic() < deadline and not rows:
                for path in Path(flagged).rglob("*.csv"):
                    rows = [r for r in csv.reader(path.open()) if expected in r and "wrong answer" in r]
                time.sleep(0.5)
            assert rows, "the flag was not written to the CSV"
            # a page: its lines' text, one per row, and the picture with the lines outlined
            page_text = local_predictor(None)(Image.open(page_png)).text
            page.get_by_role("button", name="Clear").click()
            page.locator("input[type=file]").first.set_input_files(str(page_png))
            page.get_by_role("button", name="Submit").click()
            expect(output).to_have_value(page_text, timeout=60_000)
            expect(page.locator("#lines img")).to_be_visible(timeout=30_000)
        finally:
            browser.close()
