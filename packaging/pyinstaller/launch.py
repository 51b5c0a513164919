"""What the one-folder build's ``ola-assistant`` program runs: the same entry as the console script."""

import multiprocessing
import sys

from app.entry import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen child process must not start a second app
    sys.exit(main())
