"""report-qa chat app: `python app.py [--host H] [--port P]`. The app itself lives in `qa/webapp.py`."""

from qa.app.ui.webapp import main

if __name__ == "__main__":
    raise SystemExit(main())
