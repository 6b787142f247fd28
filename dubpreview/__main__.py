import sys

from dubpreview.cli import main

sys.exit(main())
