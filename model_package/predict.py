"""``python -m model_package.predict IMAGE [IMAGE ...] [--model PATH]``: print the text of each image."""

from model_package.serving.predictor import main

if __name__ == "__main__":
    main()
