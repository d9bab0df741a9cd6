#!/usr/bin/env bash
# test_feedback_file.sh — feedback.h5 (src/io/feedback_file.c) and the built-in tasks' feedback (src/task/
# task_feedback.c) through build/tests/feedback_tool: 1 and 2 ranks write identical datasets (h5py compare), with
# schema/deck attributes and an optional dataset left out; row hyperslabs read back as float32 and float64 equal
# h5py's slices; a user file written by h5py with other types (float64 big-endian values, int8 mask, uint16 truth,
# int32 user_id) is read; bad files are refused with ONE line naming the file and dataset (wrong rank, wrong mask
# shape, float mask, negative truth, mask value 2, missing dataset, not HDF5, missing file); failed writes (no
# folder, rows that do not tile, a full disk) leave no file and every rank reports the same line.
# Independent cases (tests/lib.sh): `bash tests/mpi/test_feedback_file.sh --list`.
source "$(dirname "$0")/../lib.sh"
TOOL=${TOOL:-build/tests/feedback_tool}
PY=/usr/bin/python3

have_tool() { [ -x "$TOOL" ] || { nok "$CASE_NAME: $TOOL missing (make build/tests/feedback_tool)"; exit 1; }; }

# fixture_written DIR NP TASK: feedback of 101 users x 17 probes (observed 0.3, noise 0.1) written by NP ranks.
fixture_written() {
    [ -x "$TOOL" ] || return 1
    mpi "$2" --timeout 60 "$TOOL" write "$3" 101 17 0.3 0.1 5 "$1/f.h5"
}

# A file made by h5py: fixture_user DIR, a valid file with non-pgrpo types (user data).
fixture_user() {
    $PY - "$1/u.h5" <<'PYEOF'
import sys, h5py, numpy as np
rng = np.random.default_rng(3)
with h5py.File(sys.argv[1], "w") as f:
    f["feedback/value"] = rng.normal(size=(23, 5)).astype(">f8")
    f["feedback/mask"] = (rng.random((23, 5)) < 0.5).astype(np.int8)
    f["feedback/truth"] = (np.arange(23) % 3).astype(np.uint16)
    f["feedback/user_id"] = np.arange(23)[::-1].astype(">i4")
PYEOF
}

case_one_vs_two_ranks_identical() {
    local a b
    need written 1 personas; a=$FIX/f.h5
    need written 2 personas; b=$FIX/f.h5
    check same_datasets_1_vs_2_ranks same_dataset "$a" "$b" feedback/value feedback/mask feedback/truth feedback/user_id
    need written 2 recsys; a=$FIX/f.h5
    need written 1 recsys; b=$FIX/f.h5
    check same_datasets_1_vs_2_ranks_recsys same_dataset "$a" "$b" feedback/value feedback/mask feedback/truth feedback/user_id
}

case_layout_and_attrs() {
    need written 2 reviews
    $PY - "$FIX/f.h5" <<'PYEOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    g = f["feedback"]
    assert f.attrs["schema"] == "pgrpo/feedback", f.attrs["schema"]
    assert f.attrs["deck"] == "tool deck"
    assert g["value"].shape == (101, 17) and g["value"].dtype == np.float32
    assert g["mask"].dtype == np.uint8 and set(np.unique(g["mask"][...])) <= {0, 1}
    assert g["mask"][...].sum(1).min() >= 1, "a row without an observed entry"
    frac = g["mask"][...].mean()
    assert 0.2 < frac < 0.4, frac
    assert (g["user_id"][...] == np.arange(101)).all() and g["user_id"].dtype == np.int64
    assert g["truth"].dtype == np.int32 and g["truth"][...].min() >= 0 and g["truth"][...].max() < 5
    assert np.isfinite(g["value"][...]).all()
PYEOF
}

case_optional_datasets_left_out() {
    have_tool
    mpi 2 --timeout 60 "$TOOL" write personas 30 4 0.5 0 1 "$CASE_DIR/f.h5" nomask notruth noid >/dev/null || return 1
    check info_without_optional_datasets test "$("$TOOL" info "$CASE_DIR/f.h5")" = "30 4 0 0 0 0"
    check h5py_sees_only_value $PY -c "import h5py,sys; f=h5py.File(sys.argv[1]); sys.exit(list(f['feedback']) != ['value'])" "$CASE_DIR/f.h5"
}

# read PATH ROW0 N [f64] against h5py's slice, every field printed the same way.
read_matches() {
    local path=$1 r0=$2 n=$3 f64=${4:-}
    "$TOOL" read "$path" "$r0" "$n" $f64 >"$CASE_DIR/c.txt" || return 1
    $PY - "$path" "$r0" "$n" "$f64" >"$CASE_DIR/py.txt" <<'PYEOF' || return 1
import sys, h5py, numpy as np
path, r0, n, f64 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "f64"
with h5py.File(path, "r") as f:
    g = f["feedback"]
    v = g["value"][r0:r0 + n].astype(np.float64 if f64 else np.float32).astype(np.float64)
    for i in range(n):
        m = " ".join(str(int(x)) for x in g["mask"][r0 + i]) if "mask" in g else " ".join("-" * v.shape[1])
        uid = str(int(g["user_id"][r0 + i])) if "user_id" in g else "-"
        tr = str(int(g["truth"][r0 + i])) if "truth" in g else "-"
        print("%d: %s | %s | %s | %s" % (r0 + i, " ".join("%.17g" % x for x in v[i]), m, uid, tr))
PYEOF
    cmp -s "$CASE_DIR/c.txt" "$CASE_DIR/py.txt" || { echo "# $(diff "$CASE_DIR/c.txt" "$CASE_DIR/py.txt" | head -3)"; return 1; }
}

case_read_hyperslabs() {
    have_tool
    need written 2 personas
    check read_rows_0_5_f32 read_matches "$FIX/f.h5" 0 5
    check read_rows_50_51_f64 read_matches "$FIX/f.h5" 50 51 f64
    check read_last_row read_matches "$FIX/f.h5" 100 1
    need user
    check read_h5py_user_file_f64 read_matches "$FIX/u.h5" 3 20 f64
    check read_h5py_user_file_f32 read_matches "$FIX/u.h5" 0 23
    check info_h5py_user_file test "$("$TOOL" info "$FIX/u.h5")" = "23 5 1 1 1 1"
    "$TOOL" read "$FIX/u.h5" 20 4 >/dev/null 2>"$CASE_DIR/e.txt"
    check rows_past_the_end_refused grep -q "rows 20..23 asked of 23" "$CASE_DIR/e.txt"
}

# bad_file NAME PYTHON-SNIPPET WORDS...: the snippet edits f (h5py.File of a valid copy, mode r+: the h5py-written
# user file, or for a NAME ending in _u8 a file pgrpo wrote, whose uint8 mask takes the direct path) or, with the
# marker RAW, writes the file itself; `info` then `read` of every row must fail with exit 3 and one line on stderr
# that names the file and contains every WORD.
bad_file() {
    local name=$1 code=$2 path=$CASE_DIR/$1.h5 rc line w
    shift 2
    if [ "${name%_u8}" != "$name" ]; then need written 1 personas; cp "$FIX/f.h5" "$path"   # pgrpo's uint8 mask
    else need user; cp "$FIX/u.h5" "$path"; fi
    chmod u+w "$path"
    $PY -c "import sys, h5py, numpy as np
path, RAW = sys.argv[1], None
if 'RAW' in sys.argv[2]: exec(sys.argv[2])
else:
    with h5py.File(path, 'r+') as f: exec(sys.argv[2])" "$path" "$code" || { nok "$name: fixture edit failed"; return; }
    "$TOOL" info "$path" >/dev/null 2>"$CASE_DIR/$name.err"; rc=$?
    [ $rc -eq 0 ] && { "$TOOL" read "$path" 0 "$("$TOOL" info "$path" | cut -d' ' -f1)" >/dev/null 2>"$CASE_DIR/$name.err"; rc=$?; }
    line=$(cat "$CASE_DIR/$name.err")
    if [ $rc -ne 3 ] || [ "$(wc -l <"$CASE_DIR/$name.err")" -ne 1 ] || [[ "$line" != *"$path"* ]]; then
        nok "$name" "exit $rc, stderr: $(head -c 300 "$CASE_DIR/$name.err")"; return
    fi
    for w in "$@"; do [[ "$line" == *"$w"* ]] || { nok "$name" "no '$w' in: $line"; return; }; done
    ok "$name # $line"
}

case_bad_files() {
    have_tool
    bad_file value_wrong_rank "v = f['feedback/value'][...]; del f['feedback/value']; f['feedback/value'] = v.ravel()" \
        /feedback/value "shape (115,)" 2-D
    bad_file mask_wrong_shape "del f['feedback/mask']; f['feedback/mask'] = np.ones((23, 4), np.uint8)" \
        /feedback/mask "(23, 4)" "(23, 5)"
    bad_file mask_float "m = f['feedback/mask'][...]; del f['feedback/mask']; f['feedback/mask'] = m.astype(np.float32)" \
        /feedback/mask float32 integer
    bad_file truth_negative "f['feedback/truth'][...] = np.arange(23) % 3; t = f['feedback/truth'][...].astype(np.int16); t[7] = -2; del f['feedback/truth']; f['feedback/truth'] = t" \
        "/feedback/truth[7] = -2" ">= 0"
    bad_file mask_value_2 "f['feedback/mask'][4, 3] = 2" "/feedback/mask[4, 3] = 2" "1 (observed) or 0"
    bad_file mask_value_3_u8 "f['feedback/mask'][100, 16] = 3" "/feedback/mask[100, 16] = 3" "1 (observed) or 0"
    bad_file mask_value_minus_1 "f['feedback/mask'][22, 0] = -1" "/feedback/mask[22, 0] = -1"
    bad_file truth_wrong_length "del f['feedback/truth']; f['feedback/truth'] = np.zeros(22, np.int32)" \
        /feedback/truth "(22,)" "(23,)"
    bad_file value_integer "v = f['feedback/value'][...]; del f['feedback/value']; f['feedback/value'] = v.astype(np.int32)" \
        /feedback/value "an integer type" float32
    bad_file value_missing "del f['feedback/value']" "no dataset /feedback/value"
    bad_file value_empty "del f['feedback/value']; f['feedback/value'] = np.zeros((0, 5), np.float32)" \
        /feedback/value "at least one user"
    bad_file not_hdf5 "RAW; open(path, 'w').write('user,probe,value\n1,2,3\n')" "not an HDF5 file"
    bad_file truncated "RAW; b = open(path, 'rb').read(); open(path, 'wb').write(b[:len(b) // 2])" "truncated or damaged"
    "$TOOL" info "$CASE_DIR/absent.h5" >/dev/null 2>"$CASE_DIR/absent.err"; local rc=$?
    if [ $rc -eq 3 ] && [ "$(wc -l <"$CASE_DIR/absent.err")" -eq 1 ] && grep -q "$CASE_DIR/absent.h5: No such file" "$CASE_DIR/absent.err"
    then ok "missing_file # $(cat "$CASE_DIR/absent.err")"; else nok missing_file "exit $rc: $(cat "$CASE_DIR/absent.err")"; fi
}

# A failed collective write: every rank exits 3 with the same single line naming the file (lines from Open MPI
# itself, e.g. its own "No space left on device", are not ours and are ignored), and nothing is left in the folder.
failed_write() {
    local name=$1 dir=$2 rc ours
    shift 2
    mpi 2 --timeout 60 "$TOOL" write personas "$@" >"$CASE_DIR/$name.out" 2>"$CASE_DIR/$name.err"; rc=$?
    grep -F "$dir" "$CASE_DIR/$name.err" >"$CASE_DIR/$name.ours"
    if [ $rc -eq 0 ] || [ "$(wc -l <"$CASE_DIR/$name.ours")" -ne 2 ] || [ "$(sort -u "$CASE_DIR/$name.ours" | wc -l)" -ne 1 ]; then
        nok "$name" "exit $rc, stderr: $(head -c 400 "$CASE_DIR/$name.err")"; return
    fi
    if grep -q "Segmentation\|signal" "$CASE_DIR/$name.err"; then nok "$name" "a rank crashed: $(head -c 400 "$CASE_DIR/$name.err")"; return; fi
    if [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then nok "$name" "left behind: $(ls -A "$dir")"; return; fi
    ok "$name # $(head -1 "$CASE_DIR/$name.ours")"
}

case_failed_writes_leave_nothing() {
    have_tool
    mkdir -p "$CASE_DIR/out"
    failed_write no_such_folder "$CASE_DIR/out" 40 8 0.5 0 1 "$CASE_DIR/out/missing/f.h5"
    failed_write rows_do_not_tile "$CASE_DIR/out" 40 8 0.5 0 1 "$CASE_DIR/out/f.h5" badtile
    grep -q "do not tile" "$CASE_DIR/rows_do_not_tile.ours" || nok "rows_do_not_tile: message" "$(cat "$CASE_DIR/rows_do_not_tile.err")"
    local tfs=$CASE_DIR/tmpfs
    mkdir -p "$tfs"
    if ! mount -t tmpfs -o size=1m tmpfs "$tfs" 2>/dev/null; then echo "ok - disk_full # SKIP cannot mount a tmpfs here"; return; fi
    failed_write disk_full "$tfs" 3000 256 0.5 0 1 "$tfs/f.h5"   # 3.8 MB of datasets on a 1 MB disk
    umount "$tfs"
}

run_cases "$@"
