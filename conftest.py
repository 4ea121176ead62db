"""Settings for every test and doctest: CPU, one torch thread (the test models are tiny, and
thread start-up costs more than it saves)."""

import torch

torch.set_num_threads(1)
