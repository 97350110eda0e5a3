import sys

from stylejax.cli.app import main

sys.exit(main())
