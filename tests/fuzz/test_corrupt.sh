#!/usr/bin/env bash
# Corruption harness (issue 8 A2/A3/A5): real pgrpo files -- two SFT bases (policies; the larger one's weights are
# a range its frame skips), a checkpoint, an output
# snapshot, a user's plain groups file and metrics.h5 -- damaged by bit flips, zeroed 512-byte blocks (one at
# offset 3267, the reproduction of the HDF5 hang), truncations, appended bytes and h5py type/shape rewrites; each
# variant opened by `pgrpo inspect` and by the matching reader (build/tests/open_file) under `timeout 20`.
# Required: no crash, no hang, no silent acceptance of changed content, every refusal one line (tests/fuzz/
# corrupt.py says exactly how each is judged). Bounded here (PGRPO_FUZZ_N=60 variants, ~1 min);
# PGRPO_FUZZ_N=600 for the large run. PGRPO_FUZZ_SEED picks another random sequence.
source "$(dirname "$0")/../lib.sh"
N=${PGRPO_FUZZ_N:-60}; SEED=${PGRPO_FUZZ_SEED:-8}
OPEN=build/tests/open_file
[ -x $OPEN ] || { nok corrupt_tools_built "make test-bin first"; exit 1; }
D=$SCRATCH
"$PGRPO" sft $TINY --set run.out_dir=$D/base --quiet || { nok corrupt_setup_sft; exit 1; }
# A policy whose parameters (3.3 MB) are a range its frame's CRC skips (version-2 frame): damage there must be
# caught by the dataset's own checksum, as the readers read it.
"$PGRPO" sft $TINY --set run.out_dir=$D/big --set model.d_model=256 --set sft.steps=1 --quiet ||
    { nok corrupt_setup_big_sft; exit 1; }
mpi 1 $PGRPO train $TINY --set train.base=$D/base/sft_base.h5 --set run.out_dir=$D/run --quiet ||
    { nok corrupt_setup_train; exit 1; }
ckpt=$(ls $D/run/checkpoints/ckpt_*.h5 | tail -1)
# A snapshot of metrics.h5 through the C API's writer, via the restore tool's counterpart: frame it in Python
# (an independent writer of the documented layout), then check the C reader accepts it intact.
/usr/bin/python3 - "$D" <<'PY' || { nok corrupt_setup_files; exit 1; }
import sys, h5py, numpy as np
sys.path.insert(0, "tests/fuzz")
from corrupt import frame
d = sys.argv[1]
open(d + "/metrics.snap", "wb").write(frame(open(d + "/run/metrics.h5", "rb").read()))
with h5py.File(d + "/plain_groups.h5", "w") as f:   # the minimal plain format: any integer type, no checksum
    f["user_group"] = (np.arange(200) * 7 % 4).astype(np.int64)
    f.attrs["n_groups"] = 4
open(d + "/groups.txt", "w").write("\n".join(str(u * 3 % 5) for u in range(200)))
PY
# and what postproc/groups_file.py writes (int32 with a checksum attribute)
/usr/bin/python3 postproc/groups_file.py $D/groups.txt $D/groups.h5 >/dev/null || { nok corrupt_setup_groups; exit 1; }
$OPEN snapshot $D/metrics.snap $D/metrics.restored >/dev/null && cmp -s $D/metrics.restored $D/run/metrics.h5 &&
    ok corrupt_intact_snapshot_round_trips || nok corrupt_intact_snapshot_round_trips
# inspect runs as the ASan/UBSan binary when it is built (make test-bin), so memory errors count as crashes.
INSPECT=$PGRPO; [ -x build/asan/pgrpo ] && INSPECT=$PWD/build/asan/pgrpo
echo "# inspect binary: $INSPECT"
/usr/bin/python3 tests/fuzz/corrupt.py $N $SEED $D/variants $INSPECT $OPEN policy:$D/base/sft_base.h5 policy:$D/big/sft_base.h5 \
    checkpoint:$ckpt snapshot:$D/metrics.snap groups:$D/groups.h5:200 \
    groups:$D/plain_groups.h5:200 plain:$D/run/metrics.h5
rc=$?
[ $rc -eq 0 ] || { mkdir -p build/test-logs; rm -rf build/test-logs/corrupt-variants;
    cp -r $D/variants build/test-logs/corrupt-variants; echo "# failing variants kept in build/test-logs/corrupt-variants"; }
exit 0
