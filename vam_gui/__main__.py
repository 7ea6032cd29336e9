from vam_gui.cli import main

raise SystemExit(main())
