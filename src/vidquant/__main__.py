import sys

from vidquant.cli.main import main

sys.exit(main())
