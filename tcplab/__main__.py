from tcplab.cli import main

raise SystemExit(main())
