"""Exercise checks: `check.NAME(fn)` prints one line (✅ / ❌ / ⏳) and returns a Result.

One module per chapter (ch01 … ch08); the machinery is in `_core`. Set the environment variable
COURSE_STRICT=1 to make every failed or unfinished check raise (what an autograder wants).
"""
from ._core import STRICT_ENV, Checker, Fail, Result, choose, exercise
from .ch01 import *  # noqa: F401,F403
from .ch02 import *  # noqa: F401,F403
from .ch03 import *  # noqa: F401,F403
from .ch04 import *  # noqa: F401,F403
from .ch05 import *  # noqa: F401,F403
from .ch06 import *  # noqa: F401,F403
from .ch07 import *  # noqa: F401,F403
from .ch08 import *  # noqa: F401,F403
