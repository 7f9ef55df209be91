from mpdoctor.cli.main import main

raise SystemExit(main())
