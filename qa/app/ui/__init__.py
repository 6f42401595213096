"""The browser app (Gradio): the page and its tabs, and how answers, links and evidence are drawn."""
