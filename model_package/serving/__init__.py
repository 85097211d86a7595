"""Serving: the predictor, the AWS Lambda handler, its local HTTP adapter and the Gradio app."""
