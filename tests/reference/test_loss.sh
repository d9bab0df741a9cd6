#!/usr/bin/env bash
# The GRPO loss and its gradient against PyTorch autograd on a recorded batch (tests/tools/loss_dump.c).
source "$(dirname "$0")/../lib.sh"
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then echo "ok - loss_torch # SKIP python3-torch not installed"; exit 0; fi
build/tests/loss_dump $SCRATCH/loss.txt >/dev/null && /usr/bin/python3 tests/reference/test_loss_torch.py $SCRATCH/loss.txt
