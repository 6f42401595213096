from qa.app.cli import main

raise SystemExit(main())
