from espmon.cli import main

raise SystemExit(main())
