# pgrpo — build, test, run, bench, deps, install.  `make help` lists the targets.
CC       = mpicc
PKGS     = hdf5-openmpi scalapack-openmpi openblas jansson
ARCH    ?= -march=native
OPT     ?= -O3
CFLAGS  ?= $(OPT) $(ARCH) -g
# -fopenmp: the threads per rank of src/nn (model_set_threads); it links libgomp through the CFLAGS on the link lines.
# -fno-trapping-math: pgrpo never unmasks FP exceptions, and without it GCC will not if-convert the clamps in
# exp_fast on AVX2 (AVX-512 has masked ops): vexp, GELU and every softmax ran scalar on AVX2-only machines
# (c128 learner 0.90x PyTorch with -march=haswell vs 1.30x with AVX-512). -fno-math-errno: nothing reads errno
# after libm, and a sqrtf that may set it kept AdamW's loop scalar. Results are unchanged: neither flag allows
# reassociation, and vector sqrt/div round as the scalar ones do.
CFLAGS  += -fno-trapping-math -fno-math-errno
CFLAGS  += -std=c11 -fopenmp -Wall -Wextra -Iinclude -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS   = $(PKG_LIBS) -ldl -lm
SAN      = -fsanitize=address,undefined -fno-omit-frame-pointer
PREFIX  ?= /usr/local
PYTHON   = /usr/bin/python3

# src/<concern>/<module>.c; include/<module>.h is each module's whole API (README "Source layout").
SRC      = $(wildcard src/*/*.c)
LIBSRC   = $(filter-out src/cmd/main.c,$(SRC))
OBJ      = $(LIBSRC:src/%.c=build/obj/%.o)
ASANOBJ  = $(LIBSRC:src/%.c=build/asan/%.o)
UNIT     = $(wildcard tests/unit/test_*.c)
UNITBIN  = $(UNIT:tests/unit/%.c=build/tests/%)
ASANBIN  = $(UNIT:tests/unit/%.c=build/asan/tests/%)
TOOLS    = $(wildcard tests/tools/*.c)
TOOLBIN  = $(TOOLS:tests/tools/%.c=build/tests/%)
BENCH    = $(wildcard tests/bench/*.c)
BENCHBIN = $(BENCH:tests/bench/%.c=build/bench/%)
HDR      = $(wildcard include/*.h) $(wildcard src/*/*.h)

.PHONY: all check check-fast test-bin run bench deps install clean help report
all: bin/pgrpo

help:
	@echo "make            build bin/pgrpo"
	@echo "make deps       install the Debian packages (as root), else print the apt line"
	@echo "make check      build and run every test (unit, ASan/UBSan, MPI, HDF5, reference, restart, Slurm)"
	@echo "make check-fast the quick tier (< 2 min): unit tests, ASan unit tests, layering and CLI checks"
	@echo "make run        run the default demo deck end to end (SFT base, P-GRPO, report)"
	@echo "make bench      benchmarks: ratios against peers measured in the same run"
	@echo "make install PREFIX=/path   install binary, job scripts, decks and post-processing"

deps:
	@bash tests/deps.sh

build/obj/%.o: src/%.c $(HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@
build/asan/%.o: src/%.c $(HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) $(PKG_CFLAGS) -c $< -o $@
build/libpgrpo.a: $(OBJ)
	ar rcs $@ $^
build/asan/libpgrpo.a: $(ASANOBJ)
	ar rcs $@ $^
bin/pgrpo: build/obj/cmd/main.o build/libpgrpo.a | bin
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
# The binary itself under AddressSanitizer + UBSan: the script tests run it too (tests/asan).
build/asan/pgrpo: build/asan/cmd/main.o build/asan/libpgrpo.a
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)
build/tests/%: tests/unit/%.c tests/unit/test.h build/libpgrpo.a | build/tests
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Itests/unit -o $@ $< build/libpgrpo.a $(LDLIBS)
build/tests/%: tests/tools/%.c build/libpgrpo.a | build/tests
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Itests/unit -o $@ $< build/libpgrpo.a $(LDLIBS)
build/asan/tests/%: tests/unit/%.c tests/unit/test.h build/asan/libpgrpo.a | build/asan/tests
	$(CC) $(CFLAGS) $(SAN) $(PKG_CFLAGS) -Itests/unit -o $@ $< build/asan/libpgrpo.a $(LDLIBS)
build/bench/%: tests/bench/%.c build/libpgrpo.a | build/bench
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< build/libpgrpo.a $(LDLIBS)

build/tests build/asan/tests build/bench bin:
	mkdir -p $@

test-bin: bin/pgrpo build/asan/pgrpo $(UNITBIN) $(ASANBIN) $(TOOLBIN)

check:
	@bash tests/run.sh

check-fast:
	@bash tests/run.sh --fast

run:
	@bash jobs/demo.sh

bench: bin/pgrpo $(BENCHBIN)
	@bash tests/bench/run.sh

install: bin/pgrpo
	install -d $(PREFIX)/bin $(PREFIX)/share/pgrpo/jobs $(PREFIX)/share/pgrpo/inputs/study $(PREFIX)/share/pgrpo/postproc
	install -m 755 bin/pgrpo $(PREFIX)/bin/pgrpo
	install -m 755 jobs/*.sh jobs/*.sbatch jobs/*.py $(PREFIX)/share/pgrpo/jobs/
	install -m 644 inputs/*.deck $(PREFIX)/share/pgrpo/inputs/
	install -m 644 inputs/study/*.grid $(PREFIX)/share/pgrpo/inputs/study/
	install -m 755 postproc/*.py $(PREFIX)/share/pgrpo/postproc/
	install -d $(PREFIX)/include $(PREFIX)/share/pgrpo/inputs/plugins
	install -m 644 include/pgrpo_reward.h $(PREFIX)/include/   # what a reward plugin compiles against
	install -m 644 inputs/plugins/* $(PREFIX)/share/pgrpo/inputs/plugins/

clean:
	rm -rf build bin

# ---- reward plugins (README "Reward plugins and reward processes") ------------------------------------------------
# A plugin needs only include/pgrpo_reward.h: plain cc, no MPI. reward_example.so is the documented example;
# reward_bad.so is the tests' misbehaving plugin (tests/plugins). `make test-bin` builds both.
PLUGIN_CC     ?= cc
PLUGIN_CFLAGS ?= -O2 -g
PLUGINS = build/plugins/reward_example.so build/plugins/reward_bad.so
.PHONY: plugins
plugins: $(PLUGINS)
test-bin: $(PLUGINS)
build/plugins/reward_example.so: inputs/plugins/reward_example.c include/pgrpo_reward.h
	@mkdir -p $(@D)
	$(PLUGIN_CC) $(PLUGIN_CFLAGS) -std=c11 -Wall -Wextra -fPIC -shared -Iinclude -o $@ $< -lm
build/plugins/reward_bad.so: tests/plugins/reward_bad.c inputs/plugins/reward_example.c include/pgrpo_reward.h
	@mkdir -p $(@D)
	$(PLUGIN_CC) $(PLUGIN_CFLAGS) -std=c11 -Wall -Wextra -fPIC -shared -Iinclude -D_POSIX_C_SOURCE=200809L -o $@ $< -lm
