"""AWS Lambda handler (behind API Gateway, or invoked directly) for the text recogniser.

Request: a JSON body (API Gateway's ``body``, base64-encoded when ``isBase64Encoded``) or the event
itself, with either ``"image"`` (base64, a ``data:`` URL allowed) or ``"image_url"`` (http or https
on a public host). Answer: ``{"statusCode": 200, "body": "{\\"pred\\": \\"...\\", \\"lines\\": [...]}"}``: the
text (``\\n`` between the lines of a page) and each line found, ``{"text", "polygon"}`` with the
polygon's (x, y) corners in the picture's pixels. Any bad
request gets a 4xx with ``{"error": message}``: never a stack trace, never a 5xx. The limits on
bytes, pixels, hosts and time are in :mod:`model_package.serving.images`.

The model is the staged default, or ``$MODEL_PACKAGE_MODEL`` (a path), loaded once per container.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from typing import Any

from model_package.serving.images import MAX_BYTES, BadImage, decode_base64_image, fetch_url, open_image

logger = logging.getLogger(__name__)
MAX_BODY_BYTES = MAX_BYTES * 4 // 3 + 64 * 1024  # a base64 image at the byte limit, plus JSON
_predictor = None


def predictor():
    """The container's Predictor, loaded on first use (a warm Lambda reuses it)."""
    global _predictor
    if _predictor is None:
        from model_package.serving.predictor import Predictor

        _predictor = Predictor(os.environ.get("MODEL_PACKAGE_MODEL") or None)
    return _predictor


def _response(status: int, payload: dict) -> dict:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(payload)}


def _request(event: Any) -> dict:
    """The request's JSON object, from an API Gateway event or a direct invocation."""
    if isinstance(event, (str, bytes)):
        event = {"body": event}
    if not isinstance(event, dict):
        raise BadImage("the event must be a JSON object")
    if "body" not in event:
        return event  # direct invocation: the event is the request
    body = event["body"]
    if body is None or body == "":
        raise BadImage("empty request body")
    if not isinstance(body, (str, bytes)):
        if isinstance(body, dict):
            return body
        raise BadImage("the body must be a JSON object")
    if len(body) > MAX_BODY_BYTES:
        raise BadImage(f"request body larger than {MAX_BODY_BYTES} bytes", status=413)
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadImage("isBase64Encoded is set but the body is not valid base64") from None
    try:
        request = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise BadImage("the body is not valid JSON") from None
    if not isinstance(request, dict):
        raise BadImage("the body must be a JSON object with 'image' or 'image_url'")
    return request


def handler(event: Any, context: Any = None) -> dict:
    """The Lambda entry point."""
    try:
        request = _request(event)
        has_image, has_url = request.get("image") is not None, request.get("image_url") is not None
        if has_image == has_url:
            raise BadImage("send exactly one of 'image' (base64) and 'image_url'")
        data = decode_base64_image(request["image"]) if has_image else fetch_url(request["image_url"])
        image = open_image(data)
    except BadImage as err:
        return _response(err.status, {"error": str(err)})
    except Exception:  # noqa: BLE001 - a request must never see a stack trace
        logger.exception("bad request")
        return _response(400, {"error": "the request could not be read"})
    try:
        model = predictor()
    except Exception:  # noqa: BLE001 - the server's fault, not the request's
        logger.exception("loading the model failed")
        return _response(500, {"error": "the model is not available"})
    try:
        reading = model.read(image)
    except Exception:  # noqa: BLE001
        logger.exception("prediction failed")
        return _response(422, {"error": "the image could not be processed"})
    lines = [{"text": line.text, "polygon": [[round(x, 1), round(y, 1)] for x, y in line.polygon]} for line in reading.lines]
    return _response(200, {"pred": reading.text, "lines": lines})
