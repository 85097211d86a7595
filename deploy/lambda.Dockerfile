# AWS Lambda container image of the text recogniser (serving only: no Lightning, no training code).
#   docker build -f deploy/lambda.Dockerfile -t text-recognizer .
#   docker run -p 9000:8080 text-recognizer
#   curl -s localhost:9000/2015-03-31/functions/function/invocations -d '{"body": "{\"image_url\": \"https://...\"}"}'
# Push to ECR and create the function from the image; put API Gateway (HTTP API) in front of it.
FROM public.ecr.aws/lambda/python:3.11

# CPU-only PyTorch keeps the image small; the artifact is TorchScript, so torch is all it needs.
RUN pip install --no-cache-dir torch --index-url https://download.pytorch.org/whl/cpu \
 && pip install --no-cache-dir "numpy>=1.26" "Pillow>=10.0"

# Only what serving imports: the predictor, the handler, the preprocessing and the staged model.
COPY model_package/__init__.py ${LAMBDA_TASK_ROOT}/model_package/__init__.py
COPY model_package/data/__init__.py model_package/data/preprocess.py ${LAMBDA_TASK_ROOT}/model_package/data/
COPY model_package/serving/ ${LAMBDA_TASK_ROOT}/model_package/serving/
COPY model_package/artifacts/ ${LAMBDA_TASK_ROOT}/model_package/artifacts/

CMD ["model_package.serving.lambda_handler.handler"]
