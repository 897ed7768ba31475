import sys

from groupvit.cli import main

sys.exit(main())
