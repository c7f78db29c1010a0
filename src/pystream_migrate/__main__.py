from pystream_migrate.cli import main

raise SystemExit(main())
