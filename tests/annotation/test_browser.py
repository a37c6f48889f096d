"""A real annotation round in a real browser: Debian's Chromium (headless, via selenium and chromedriver)
drives the real Label Studio as an annotator, then ``pull`` and ``agreement`` read what it saved.

What it reproduces: an annotator logs in, answers the a/b/c questions of a differences task, marks a keypoint
on a timestamps task by typing a frame number into the player's frame box and clicking that frame's cell in
the timeline (the rule the label config gives), and submits. ``pull`` must give exactly those labels and the
frame index UI frame - 1, and the frame the player showed (read from its canvas) must be the stored clip's
frame at that index: both carry the same barcode (``curation.samples.synthetic``). A second annotator created
through the API annotates the same tasks (the project's overlap from ``push --overlap 2`` hands them out
twice) and ``agreement`` reports the doubly annotated items. Screenshots of both project pages are written to
``$VIDDIFF_SCREENSHOTS`` when that is set.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from annotation.agreement import agreement
from annotation.pull import pull
from annotation.push import push
from annotation.status import status
from curation.samples.synthetic import read_barcode
from schemas.dataset_dir import save_dataset
from schemas.io import read_jsonl
from tests.annotation.shapes import choice, mark
from tests.helpers.tiny_dataset import TinyAction, make_tiny_dataset
from viddiff_runtime import media

pytestmark = pytest.mark.labelstudio

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WAIT = 60
ANSWERS = {"0": "a", "1": "b", "2": "c"}  # what the annotator clicks, per difference
UI_FRAME = 9  # the frame number typed into video A's frame box


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through chromedriver (both from Debian: `make test` installs them)."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or CHROMIUM
    driver_bin = shutil.which("chromedriver") or CHROMEDRIVER
    if not (Path(binary).exists() and Path(driver_bin).exists()):
        pytest.fail(
            "chromium and chromedriver are needed: apt-get install chromium chromium-driver (make test "
            "does this)"
        )
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        "--mute-audio",
        "--disable-gpu",
    ):
        opts.add_argument(arg)
    d = webdriver.Chrome(service=Service(driver_bin), options=opts)
    d.set_page_load_timeout(WAIT)
    yield d
    d.quit()


def _wait(d, css: str):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(d, WAIT).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))


def _login(d, url: str, email: str, password: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    d.get(url + "/user/login/")
    _wait(d, "input[name=email]").send_keys(email)
    d.find_element(By.NAME, "password").send_keys(password)
    d.find_element(By.CSS_SELECTOR, "button[type=submit], input[type=submit]").click()
    WebDriverWait(d, WAIT).until(lambda d: "/user/login" not in d.current_url)


def _sign_up(ls, url: str, email: str, password: str):
    """An annotator account the way a person gets one: Label Studio's sign-up form (users made through the
    API have no password and cannot log in). Returns the user as the API lists it."""
    with httpx.Client(base_url=url) as c:
        c.get("/user/signup/")
        r = c.post(
            "/user/signup/",
            data={"csrfmiddlewaretoken": c.cookies["csrftoken"], "email": email, "password": password},
            headers={"Referer": url + "/user/signup/"},
        )
        assert r.status_code == 302, r.text[:300]
    return next(u for u in ls.users.list() if u.email == email)


def _open_task(d, url: str, project: int, task: int, ready: str) -> None:
    d.get(f"{url}/projects/{project}/data?tab=0&task={task}")
    _wait(d, ready)
    _wait(d, ".lsf-video-canvas canvas")
    time.sleep(1.5)  # the editor loads the clips and draws the first frame


def _submit(d, ls, task_id: int, user_id: int) -> None:
    from selenium.webdriver.common.by import By

    d.find_element(By.XPATH, "//button[normalize-space()='Submit']").click()
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if any(a.completed_by == user_id for a in ls.annotations.list(id=task_id)):
            return
        time.sleep(0.3)
    raise AssertionError(f"the annotation of task {task_id} never reached the server")


def _shot(d, name: str) -> None:
    folder = os.environ.get("VIDDIFF_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        d.save_screenshot(str(Path(folder) / name))


def _canvas_barcode(d, column, width: int, height: int) -> int:
    """The barcode of the frame the player of ``column`` draws now (its canvas, video drawn centred)."""
    canvas = column.find_element("css selector", ".lsf-video-canvas canvas")
    url = d.execute_script("return arguments[0].toDataURL('image/png')", canvas)
    img = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))
    y0, x0 = (img.shape[0] - height) // 2, (img.shape[1] - width) // 2
    return read_barcode(img[y0 : y0 + height, x0 : x0 + width])


def test_annotator_round_in_chromium_reaches_the_dataset(browser, ls, ls_env):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    d, url = browser, ls_env["url"]
    name = f"b{uuid.uuid4().hex[:8]}"
    root = Path(ls_env["media_root"]) / name
    size = (160, 120)
    ds = make_tiny_dataset(
        root, actions=(TinyAction("fitness_0", "fitness", "easy", 1, 30.0),), n_frames=(18, 21), size=size
    )
    ds.meta["name"] = name
    save_dataset(root, ds.meta, ds.samples)
    pid = {
        kind: push(root, kind, overlap=2, progress=False)[0].project_id
        for kind in ("differences", "timestamps")
    }
    tasks = {kind: next(iter(ls.tasks.list(project=p, page_size=10))) for kind, p in pid.items()}
    tag = uuid.uuid4().hex[:6]
    ann1 = _sign_up(ls, url, f"ann{tag}@example.com", "annotator-pass-" + tag)
    ann2 = ls.users.create(username=f"rev{tag}", email=f"rev{tag}@example.com")  # API user: no password
    pw = "annotator-pass-" + tag
    _login(d, url, ann1.email, pw)

    # differences: one radio per answer, inside the editor, in statement order a/b/c
    _open_task(
        d, url, pid["differences"], tasks["differences"].id, ".lsf-main-view__annotation input[type=radio]"
    )
    assert f"Pair {ds.samples[0]['sample_key']}" in d.page_source  # the sample key is shown
    _shot(d, "differences.png")
    radios = d.find_elements(By.CSS_SELECTOR, ".lsf-main-view__annotation input[type=radio]")
    assert len(radios) == 3 * len(ANSWERS)
    for i, (key, ans) in enumerate(ANSWERS.items()):
        r = radios[3 * i + "abc".index(ans)]
        d.execute_script("arguments[0].scrollIntoView({block: 'center'})", r)
        r.find_element(By.XPATH, "./ancestor::label[1]").click()
    _submit(d, ls, tasks["differences"].id, ann1.id)

    # timestamps: type the frame number, then click that frame's cell with the keypoint label selected
    _open_task(d, url, pid["timestamps"], tasks["timestamps"].id, ".lsf-timeline-frames")
    seg = d.find_elements(By.CSS_SELECTOR, ".lsf-video-segmentation")[0]  # video A's player and timeline
    col = seg.find_element(By.XPATH, "./ancestor::div[contains(@style, 'flex: 1')][1]")  # ... and its labels
    d.execute_script("arguments[0].scrollIntoView({block: 'start'})", col)
    col.find_element(By.CSS_SELECTOR, ".lsf-frames-control").click()
    box = _wait(col, ".lsf-frames-control input")
    box.send_keys(Keys.BACKSPACE * 4, str(UI_FRAME), Keys.ENTER)
    time.sleep(1.0)
    label = next(x for x in col.find_elements(By.CSS_SELECTOR, ".lsf-label") if x.text.startswith("key:peak"))
    label.click()
    frames = col.find_element(By.CSS_SELECTOR, ".lsf-timeline-frames")
    g = d.execute_script(
        """const f = arguments[0], r = f.getBoundingClientRect(), cs = getComputedStyle(f);
        return {w: r.width, h: r.height, scroll: f.querySelector('.lsf-timeline-frames__scroll').scrollLeft,
                size: parseFloat(cs.getPropertyValue('--frame-size')), off: parseFloat(cs.getPropertyValue('--offset'))}""",
        frames,
    )
    x = g["off"] + (UI_FRAME - 1) * g["size"] - g["scroll"] + g["size"] / 2  # centre of the frame's cell
    ActionChains(d).move_to_element_with_offset(
        frames, int(x - g["w"] / 2), int(40 - g["h"] / 2)
    ).click().perform()
    time.sleep(0.8)
    assert col.find_element(By.CSS_SELECTOR, ".lsf-frames-control").text.split()[0] == str(UI_FRAME)
    shown = _canvas_barcode(d, col, *size)  # what the annotator saw at UI frame 9
    _shot(d, "timestamps.png")
    _submit(d, ls, tasks["timestamps"].id, ann1.id)

    # the second annotator (created through the API) labels the same tasks: the project hands them out twice
    assert all(t.overlap == 2 for t in (ls.tasks.get(id=tasks[k].id) for k in tasks))
    ls.annotations.create(
        id=tasks["differences"].id,
        completed_by=ann2.id,
        result=[choice("0", "a"), choice("1", "a"), choice("2", "c")],
    )
    ls.annotations.create(
        id=tasks["timestamps"].id, completed_by=ann2.id, result=[mark("a", "key:peak", UI_FRAME + 1)]
    )

    pull(root)
    labels = read_jsonl(root / "annotation/differences/labels.jsonl", kind="label")
    mine = {r["diff_key"]: r["label"] for r in labels if r["annotator"] == f"user:{ann1.id}"}
    assert mine == ANSWERS
    kps = [
        r
        for r in read_jsonl(root / "annotation/timestamps/labels.jsonl", kind="label")
        if r["item"] == "keypoint" and r["annotator"] == f"user:{ann1.id}"
    ]
    assert [(r["video"], r["name"], r["start"], r["end"]) for r in kps] == [
        ("a", "peak", UI_FRAME - 1, UI_FRAME)
    ]
    clip = media.decode(ds.video_path(ds.samples[0], 0))
    assert read_barcode(clip.frames[kps[0]["start"]]) == shown == UI_FRAME - 1

    res = agreement(root, delta=2)["actions"]["fitness_0"]
    assert res["labels"]["items"] == len(ANSWERS) and res["labels"]["percent"] == pytest.approx(200 / 3)
    assert res["keypoints"]["items"] == 1 and res["keypoints"]["mean_abs_frames"] == 1.0
    st = {s.kind: s for s in status(root)}
    assert st["differences"].doubly_annotated == 1 and st["differences"].overlap_tasks == 1
