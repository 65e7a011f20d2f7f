import sys

from saltsphere.artifacts.serve.daemon import main

sys.exit(main())
