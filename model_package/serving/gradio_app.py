"""A web page for the text recogniser: upload a picture of handwriting (a line or a page), read its
text and see the lines it found, outlined over the picture.

    python -m model_package.serving.gradio_app                       # the default staged model
    python -m model_package.serving.gradio_app --model my_model.pt
    python -m model_package.serving.gradio_app --backend http://127.0.0.1:8000/   # the HTTP/Lambda endpoint

Wrong answers can be flagged; flags go to a CSV under ``--flagging-dir`` (default ``flagged/``).
With ``--backend`` the page calls the endpoint (JSON with a base64 PNG, as the Lambda handler
takes it) instead of loading a model, as FSDL's app does.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

try:
    import gradio as gr  # noqa: E402
except ModuleNotFoundError as err:  # `make train` installs the runtime dependencies only
    raise SystemExit("error: the Gradio app needs Gradio: pip install -e '.[serve]' (make test installs it too)") from err
import requests  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
TITLE = "Handwritten text recognition"
DESCRIPTION = ("Upload a picture of handwriting: one line, or a page of lines (dark ink on light paper, "
               "or the other way round). The lines found are outlined on the right, numbered as in the text.")
COLOURS = [(220, 20, 60), (30, 144, 255), (34, 139, 34), (255, 140, 0)]  # line outlines, in turn


class Answer(NamedTuple):
    """What the page shows: the text, and each line's text and outline ((x, y) corners)."""

    text: str
    lines: list[tuple[str, list[tuple[float, float]]]]


def local_predictor(model: str | None) -> Callable[[Image.Image], Answer]:
    from model_package.serving.predictor import Predictor

    predictor = Predictor(model)

    def predict(image: Image.Image) -> Answer:
        reading = predictor.read(image)
        return Answer(reading.text, [(line.text, list(line.polygon)) for line in reading.lines])

    return predict


def backend_predictor(url: str, timeout_s: float = 30) -> Callable[[Image.Image], Answer]:
    """Predict by POSTing ``{"image": base64 PNG}`` to an HTTP endpoint of the Lambda handler."""

    def predict(image: Image.Image) -> Answer:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        payload = {"image": base64.b64encode(buffer.getvalue()).decode()}
        try:
            response = requests.post(url, json=payload, timeout=timeout_s)
        except requests.RequestException as err:
            raise gr.Error(f"the backend at {url} did not answer ({type(err).__name__})") from None
        try:
            body = response.json()
        except json.JSONDecodeError:
            raise gr.Error(f"the backend answered HTTP {response.status_code} without JSON") from None
        if response.status_code != 200:
            raise gr.Error(body.get("error", f"HTTP {response.status_code}"))
        lines = [(line["text"], [tuple(p) for p in line["polygon"]]) for line in body.get("lines", [])]
        return Answer(body["pred"], lines)

    return predict


def outline_lines(image: Image.Image, lines: list[tuple[str, list[tuple[float, float]]]]) -> Image.Image:
    """The picture with each found line outlined and numbered (1 = the text's first line)."""
    shown = image.convert("RGB")
    draw = ImageDraw.Draw(shown)
    width = max(2, round(max(shown.size) / 400))
    for k, (_, polygon) in enumerate(lines):
        colour = COLOURS[k % len(COLOURS)]
        draw.polygon(polygon, outline=colour, width=width)
        x, y = polygon[0]
        draw.text((x + width, y + width), str(k + 1), fill=colour)
    return shown


def make_app(predict: Callable[[Image.Image], Answer], flagging_dir: str | Path = "flagged") -> gr.Interface:
    def recognise(image: Image.Image | None) -> tuple[str, Image.Image]:
        if image is None:
            raise gr.Error("upload an image first")
        try:
            answer = predict(image)
        except ValueError as err:  # BadImage: too large, say
            raise gr.Error(str(err)) from None
        return answer.text, outline_lines(image, answer.lines)

    examples = sorted(str(p) for p in EXAMPLES_DIR.glob("*.png"))
    return gr.Interface(
        fn=recognise,
        inputs=gr.Image(type="pil", label="Handwriting", image_mode="RGB"),
        outputs=[gr.Textbox(label="Text", elem_id="prediction", lines=4),
                 # PNG: Gradio's default WebP (4:2:0 chroma) greyed the thin outlines where they cross ink
                 gr.Image(type="pil", label="Lines found", elem_id="lines", interactive=False, format="png")],
        title=TITLE,
        description=DESCRIPTION,
        examples=examples or None,
        flagging_mode="manual",
        flagging_options=["wrong answer"],
        flagging_dir=str(flagging_dir),
        api_name="predict",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="staged model (default: the shipped one)")
    parser.add_argument("--backend", default=None, help="URL of the HTTP/Lambda endpoint to call instead of a local model")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 to share on a network)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--flagging-dir", default="flagged", help="where flagged answers are written (CSV)")
    args = parser.parse_args(argv)
    if args.model and args.backend:
        parser.error("--model and --backend exclude each other")
    predict = backend_predictor(args.backend) if args.backend else local_predictor(args.model)
    make_app(predict, args.flagging_dir).launch(server_name=args.host, server_port=args.port)


if __name__ == "__main__":
    main()
