import os

import matplotlib
import torch

matplotlib.use("Agg")
# One thread per test worker: `make test` runs two workers on two cores (see course_lib.train.set_threads).
torch.set_num_threads(int(os.environ.get("COURSE_THREADS", "1")))
