from fewmul.cli import main

raise SystemExit(main())
