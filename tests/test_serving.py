"""Staging, the predictor, the handler's happy path and the local HTTP server."""

import base64
import json
import subprocess
import sys
import threading
import urllib.request

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image
from torchmetrics.functional.text import char_error_rate

from model_package.data import HandwritingFontLines
from model_package.data.render import Augmentation, render_line
from model_package.lit_models import LitTransformer
from model_package.serving import lambda_handler
from model_package.serving.http import make_server
from model_package.serving.images import BadImage
from model_package.serving.predictor import DEFAULT_MODEL, Predictor
from serving_helpers import rendered_line_png

from tests.conftest import REPO, SMALL_LINES

# Never import Lightning or the training code: the deployed artifact must not need them.
NO_LIGHTNING = "import sys; [sys.modules.__setitem__(m, None) for m in ('lightning', 'lightning.pytorch', 'pytorch_lightning', 'model_package.lit_models', 'wandb')];"
# Snippets of held-out sentences of the offline text (the default model never trained on them).
# The default model reads text like its training text well; see its model card for other text.
LINES = ["converted to ordinals. Return", "the built-in name", "are blocks: a module,"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, data_dir):
    """A small LitTransformer checkpoint after a few training steps."""
    L.seed_everything(0)
    dm = HandwritingFontLines(**SMALL_LINES)
    model = LitTransformer(dm.idx_to_char, dm.input_dims, dm.max_seq_length, tf_dim=64, tf_fc_dim=64, tf_num_layers=2, with_enc_pos=True)
    trainer = L.Trainer(max_steps=3, limit_val_batches=0, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    trainer.fit(model, dm)
    path = tmp_path_factory.mktemp("ckpt") / "model.ckpt"
    trainer.save_checkpoint(path)
    return path


def test_staged_artifact_predicts_what_the_checkpoint_does(checkpoint, tmp_path):
    sys.path.insert(0, str(REPO / "training"))
    from stage_model import load_checkpoint, stage

    out = stage(checkpoint, tmp_path / "model.pt")
    lit = load_checkpoint(checkpoint)
    module = torch.jit.load(str(out))
    dm = HandwritingFontLines(**SMALL_LINES)
    dm.setup()
    images = torch.stack([dm.data_val[i][0] for i in range(8)])
    assert torch.equal(module(images), lit.model.predict(images))
    assert module.decode(module(images)) == lit.texts(lit.model.predict(images))
    assert Predictor(out).input_kind == "line"  # recorded in the artifact: a line model reads line crops
    assert list(module.idx_to_char) == dm.idx_to_char
    assert (module.input_height, module.input_width) == (32, 512)
    # loads and predicts with torch alone
    code = NO_LIGHTNING + f"import torch; m = torch.jit.load({str(out)!r}); print(m.predict_text(torch.zeros(1, 1, 32, 512)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_staging_writes_beside_the_run_unless_asked_to_replace_the_shipped_model(checkpoint, tmp_path):
    run = tmp_path / "runs" / "quickstart" / "abc123"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_bytes(checkpoint.read_bytes())
    shipped = DEFAULT_MODEL.stat().st_mtime_ns, DEFAULT_MODEL.read_bytes()
    result = subprocess.run([sys.executable, str(REPO / "training" / "stage_model.py"), str(run / "checkpoints" / "last.ckpt")],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (run / "text_recognizer.pt").is_file()
    assert (DEFAULT_MODEL.stat().st_mtime_ns, DEFAULT_MODEL.read_bytes()) == shipped  # the git-tracked model untouched
    both = subprocess.run([sys.executable, str(REPO / "training" / "stage_model.py"), str(checkpoint), "--out", "x.pt", "--as-default"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert both.returncode != 0 and "not allowed with argument" in both.stderr


def test_stage_refuses_a_missing_checkpoint(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "training" / "stage_model.py"), str(tmp_path / "nope.ckpt")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "no such checkpoint" in result.stderr


def test_default_model_is_small_and_documented():
    assert DEFAULT_MODEL.is_file() and DEFAULT_MODEL.stat().st_size < 10 * 1024 * 1024
    card = (DEFAULT_MODEL.parent / "MODEL_CARD.md").read_text()
    assert "run_experiment.py fit --config" in card and "CER" in card


def test_predictor_reads_a_rendered_line_with_the_default_model(tmp_path):
    paths = []
    for i, text in enumerate(LINES):
        rendered_line_png(text, tmp_path / f"line{i}.png")
        paths.append(str(tmp_path / f"line{i}.png"))
    code = NO_LIGHTNING + "from model_package.serving.predictor import main; main()"
    result = subprocess.run([sys.executable, "-c", code, *paths], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    preds = [line.split("\t", 1)[1] for line in result.stdout.splitlines()]
    assert len(preds) == len(LINES)
    assert float(char_error_rate(preds, LINES)) < 0.15, preds


def test_preprocessing_accepts_either_polarity_and_any_size():
    predictor = Predictor()
    ink = render_line("polarity", "caveat", 32, 512, np.random.default_rng(0), Augmentation.none(), degraded=False)
    light_on_dark, dark_on_light = Image.fromarray(ink).convert("RGB"), Image.fromarray(255 - ink)
    torch.testing.assert_close(predictor.preprocess(light_on_dark), predictor.preprocess(dark_on_light), atol=1e-5, rtol=0)
    bigger = predictor.preprocess(dark_on_light.resize((1024, 64), Image.Resampling.BICUBIC))
    assert bigger.shape == (1, predictor.height, predictor.width)
    assert float((bigger - predictor.preprocess(dark_on_light)).abs().mean()) < 0.02


def _png_b64(path) -> str:
    return base64.b64encode(open(path, "rb").read()).decode()


def test_handler_answers_a_good_request(tmp_path):
    rendered_line_png(LINES[0], tmp_path / "a.png")
    image = _png_b64(tmp_path / "a.png")
    expected = Predictor().predict(str(tmp_path / "a.png"))
    body = json.dumps({"image": image})
    for event in [
        {"body": body, "isBase64Encoded": False},
        {"body": base64.b64encode(body.encode()).decode(), "isBase64Encoded": True},
        {"image": "data:image/png;base64," + image},  # direct invocation
    ]:
        response = lambda_handler.handler(event, None)
        assert response["statusCode"] == 200, response
        answer = json.loads(response["body"])
        assert answer["pred"] == expected
        assert [line["text"] for line in answer["lines"]] == [expected]  # one line, with its outline
        assert len(answer["lines"][0]["polygon"]) == 4


def test_local_http_server_serves_the_handler(tmp_path):
    rendered_line_png(LINES[1], tmp_path / "b.png")
    server = make_server("127.0.0.1", 0, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        def post(data: bytes):
            request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as err:
                return err.code, json.loads(err.read())

        status, body = post(json.dumps({"image": _png_b64(tmp_path / "b.png")}).encode())
        assert status == 200 and body["pred"] == Predictor().predict(str(tmp_path / "b.png"))
        status, body = post(b"{broken")
        assert status == 400 and "JSON" in body["error"]
        with urllib.request.urlopen(url + "health", timeout=10) as response:
            assert json.loads(response.read()) == {"status": "ok"}
    finally:
        server.shutdown()
        server.server_close()


def test_preprocessing_crops_to_the_ink_like_the_training_lines():
    """A line on a big sheet of paper becomes the same model input as the line alone, and the text
    sits between the same margins as in the rendered training lines."""
    predictor = Predictor()
    ink = render_line("margins", "caveat", 32, 512, np.random.default_rng(0), Augmentation.none(), degraded=False)
    tight = Image.fromarray(255 - ink)
    sheet = Image.new("L", (1400, 500), 255)
    sheet.paste(tight, (300, 200))
    a, b = predictor.preprocess(tight)[0].numpy(), predictor.preprocess(sheet)[0].numpy()
    assert float(np.abs(a - b).mean()) < 0.01
    # Against the training rendering itself: a line with ascenders and descenders, rendered as the
    # training data is, saved black on white on a large sheet, served: the ink spans the same rows.
    trained = render_line("Typography kept", "caveat", predictor.height, predictor.width, np.random.default_rng(1),
                          Augmentation.none(), degraded=False)
    sheet = Image.new("L", (1400, 500), 255)
    sheet.paste(Image.fromarray(255 - trained), (250, 120))
    served = predictor.preprocess(sheet)[0].numpy()

    def ink_rows(image):
        rows = np.flatnonzero(image.max(axis=1) > 0.2 * image.max())
        return rows[0], rows[-1]

    (top_t, bottom_t), (top_s, bottom_s) = ink_rows(trained.astype(np.float32) / 255), ink_rows(served)
    assert abs(top_t - top_s) <= 2 and abs(bottom_t - bottom_s) <= 2, ((top_t, bottom_t), (top_s, bottom_s))


def test_predictor_cli_reads_an_http_url(tmp_path):
    """IMAGE may be an http(s) URL (the command-line predictor may fetch from the user's own hosts)."""
    from servers import FileServer, Route

    rendered_line_png(LINES[1], tmp_path / "c.png")
    with FileServer() as server:
        server.routes["/c.png"] = Route((tmp_path / "c.png").read_bytes(), content_type="image/png")
        result = subprocess.run([sys.executable, "-m", "model_package.predict", server.url("/c.png")],
                                capture_output=True, text=True, timeout=120, cwd=REPO)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == Predictor().predict(str(tmp_path / "c.png"))
        assert server.requests == ["/c.png"]
        # The library's default is the safe one: a URL handed on from a request cannot reach loopback.
        with pytest.raises(BadImage, match="not allowed") as err:
            Predictor().predict(server.url("/c.png"))
        assert err.value.status == 403 and server.requests == ["/c.png"]
        assert Predictor().predict(server.url("/c.png"), allow_private=True) == result.stdout.strip()
