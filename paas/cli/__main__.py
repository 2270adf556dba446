import sys

from paas.cli.main import main

sys.exit(main())
