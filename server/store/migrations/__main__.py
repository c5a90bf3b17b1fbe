import sys

from server.store.migrations import main

sys.exit(main())
