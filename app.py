"""report-qa chat app: `python app.py [--host H] [--port P] …`, the same as `report-qa serve`. It runs
`qa.app.serve.launch.main`, which builds the page of `qa/app/ui/webapp.py`."""

from qa.app.serve.launch import main

if __name__ == "__main__":
    raise SystemExit(main())
