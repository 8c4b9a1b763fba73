# rrsis: referring remote sensing image segmentation, as small Unix programs.
#
#   make            the library and every program (CUDA too when nvcc is found)
#   make CUDA=0     without CUDA
#   make check      every test that needs no GPU; ends with "N passed, N failed, N skipped"
#   make deps       installs the missing Debian packages (a prerequisite of the rest)
#   make demo       the main job: synthetic scenes segmented by the demo model
#   make paper-demo the paper's Tables II and III at nano scale on synthetic scenes (CPU)
#   make fuzz       the libFuzzer targets (clang), for a while each

CC       ?= gcc
PYTHON   ?= /usr/bin/python3
NVCC     ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA     ?= $(if $(NVCC),1,0)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CUDA_ARCH ?= -gencode arch=compute_90,code=[sm_90,compute_90]
VERSION  := 0.1.0

# A build flag found when the Makefile is read (gdal-config's, Open MPI's)
# would be missing on a fresh machine, where `make deps` installs them only
# later: so the first `make` (check, demo, ...) that finds gdal-config or mpicc
# missing runs make deps before reading on (mpicc not when MPI or DEB_MPI is
# given, as the GPU check gives DEB_MPI=).
RR_DEPS_PROBES ?= gdal-config $(if $(and $(filter undefined,$(origin MPI)),$(filter undefined,$(origin DEB_MPI))),mpicc)
ifeq ($(RR_DEPS_FIRST),)
ifneq ($(filter-out deps clean,$(or $(MAKECMDGOALS),all)),)
RR_DEPS_MISSING := $(strip $(foreach p,$(RR_DEPS_PROBES),$(if $(shell command -v $(p) 2>/dev/null),,$(p))))
ifneq ($(RR_DEPS_MISSING),)
$(info make: $(RR_DEPS_MISSING) not found: make deps first)
$(shell RR_DEPS_FIRST=1 $(MAKE) --no-print-directory deps >&2)
endif
endif
endif

# OpenBLAS's OpenMP build, named explicitly: it shares our OpenMP threads,
# where Debian's default pthread build keeps a second pool that fights ours
# for the cores (a nano training step ran 5 to 8 times slower with it).
MULTIARCH   := $(shell $(CC) -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
OPENBLAS_INC ?= /usr/include/$(MULTIARCH)/openblas-openmp
OPENBLAS_LIB ?= /usr/lib/$(MULTIARCH)/openblas-openmp

# GDAL reads the rasters that are not PNG or JPEG (GeoTIFF, COG, JPEG 2000,
# VRT, ...) with their georeferencing (libcore/io/raster.h), and writes
# GeoTIFF masks and their polygons (io/mask_writer.h, io/polygons.h).
GDAL_CFLAGS := $(shell gdal-config --cflags 2>/dev/null)
GDAL_LIBS   := $(shell gdal-config --libs 2>/dev/null)

CPPFLAGS += -Ilibcore -I$(OPENBLAS_INC) $(GDAL_CFLAGS) -D_GNU_SOURCE -DRR_VERSION='"$(VERSION)"'
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -fopenmp -Wall -Wextra -Wno-unused-parameter -MMD -MP
LDLIBS   += -L$(OPENBLAS_LIB) -Wl,-rpath,$(OPENBLAS_LIB) -lopenblas -lfftw3f -lfftw3 -lpng -ljpeg -ltiff -lcjson \
            -lutf8proc $(GDAL_LIBS) -lm
LDFLAGS  += -fopenmp

# MPI (Open MPI) for training across processes (libcore/dist): on when its
# headers are found (mpicc's flags, else Debian's place); `make MPI=0` builds
# without it, and rrsis-train then refuses to be started by mpirun or srun.
MPI_DIR  := /usr/lib/$(MULTIARCH)/openmpi
MPI_CFLAGS ?= $(or $(shell mpicc --showme:compile 2>/dev/null),$(if $(wildcard $(MPI_DIR)/include/mpi.h),-I$(MPI_DIR)/include))
MPI_LIBS   ?= $(or $(shell mpicc --showme:link 2>/dev/null),-L$(MPI_DIR)/lib -lmpi)
MPI      ?= $(if $(MPI_CFLAGS),1,0)
ifeq ($(MPI),1)
CPPFLAGS += -DRR_WITH_MPI $(MPI_CFLAGS)
LDLIBS   += $(MPI_LIBS)
endif

LIB_SRC  := $(sort $(wildcard libcore/*.c libcore/*/*.c))
CUDA_SRC := $(sort $(wildcard libcore/*.cu libcore/*/*.cu))
CMD_SRC  := $(sort $(wildcard cmd/*.c))
PROGS    := $(patsubst cmd/%.c,bin/%,$(CMD_SRC))
UNIT_SRC := $(sort $(wildcard tests/unit/*.c))

# Separate trees, so that switching CUDA on or off rebuilds everything.
BUILD    := build/$(if $(filter 1,$(CUDA)),cuda,cpu)

ifeq ($(CUDA),1)
CPPFLAGS += -DRR_WITH_CUDA -I$(CUDA_HOME)/include
NVFLAGS  ?= -O2 -std=c++17 $(CUDA_ARCH) -Xcompiler -fopenmp,-Wall
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(CUDA_SRC:%.cu=$(BUILD)/%.cu.o)
LDLIBS   += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcufft -lcudart -lstdc++
# NCCL, for training across processes on GPUs: with MPI, when its header is
# found (the CUDA toolkit's, or Debian's libnccl-dev)
NCCL     ?= $(if $(filter 1,$(MPI)),$(if $(wildcard $(CUDA_HOME)/include/nccl.h /usr/include/nccl.h),1,0),0)
ifeq ($(NCCL),1)
CPPFLAGS += -DRR_WITH_NCCL
LDLIBS   += -lnccl
endif
else
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
endif

.PHONY: all deps check fuzz demo demo-model paper-demo clean goldens bench
all: $(PROGS) $(BUILD)/tests/unit/run-unit

# --- dependencies --------------------------------------------------------------
DEB_BUILD := gcc make libpng-dev libjpeg62-turbo-dev libtiff-dev libcjson-dev \
             libopenblas-openmp-dev libfftw3-dev libutf8proc-dev libgdal-dev
# What the tests run besides the programs: jq, and Python with numpy, Pillow
# (the 480 protocol of rrsis-score) and torch (the PyTorch reference that
# test_convert, test_nano_variants and test_mrsnet_b compare with), and
# gdal-bin (gdal_create, gdal_translate: the geospatial fixtures of
# test_geo_input; gdalinfo, gdal_rasterize, ogr2ogr: test_geo_output's
# checks).
DEB_TEST  := jq python3-numpy python3-pil python3-torch gdal-bin
# Training across processes (libcore/dist): Open MPI's headers and library,
# and mpirun (test_mpi_train).  Apart from DEB_BUILD, whose packages
# tests/gpu/fetch-deps.sh carries to GPU machines: a build finds MPI only
# where it is installed, and leaves it out elsewhere.
DEB_MPI   := libopenmpi-dev openmpi-bin
deps:
	@missing=""; for p in $(DEB_BUILD) $(DEB_TEST) $(DEB_MPI) $(DEB_EXTRA); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing" >&2; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >&2; \
	fi

# The fuzz targets need clang's libFuzzer.
fuzz: DEB_EXTRA := clang libclang-rt-14-dev

# --- build ---------------------------------------------------------------------
$(BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/%.cu.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) -Ilibcore -DRR_WITH_CUDA -MMD -MP -MF $(@:.o=.d) -c $< -o $@

bin/%: $(BUILD)/cmd/%.o $(LIB_OBJ)
	@mkdir -p bin
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/unit/run-unit: $(UNIT_SRC:%.c=$(BUILD)/%.o) $(LIB_OBJ)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# The sanitizer build of the unit tests: the library and tests again, CPU only.
ASAN_DIR := build/asan
# float-cast-overflow: gcc's "undefined" leaves it out (clang's has it), and
# a double too large for an int is what a hostile input sends.
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined,float-cast-overflow
ASAN_OBJ := $(patsubst %.c,$(ASAN_DIR)/%.o,$(LIB_SRC) $(UNIT_SRC))
$(ASAN_DIR)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) -Ilibcore -I$(OPENBLAS_INC) $(GDAL_CFLAGS) $(if $(filter 1,$(MPI)),-DRR_WITH_MPI $(MPI_CFLAGS)) -D_GNU_SOURCE -DRR_VERSION='"$(VERSION)"' -std=c11 -fopenmp -MMD -MP $(ASAN_FLAGS) -c $< -o $@
$(ASAN_DIR)/run-unit: $(ASAN_OBJ)
	$(CC) -fopenmp $(ASAN_FLAGS) $^ $(filter-out -lstdc++ -lcublas -lcufft -lcudart -lnccl,$(LDLIBS)) -o $@

# The fuzz targets with a main that replays files (tests/fuzz/replay.c), on
# the sanitizer build of the library: make check replays their seeds and
# regressions without clang.
FUZZ_REPLAY := $(patsubst tests/fuzz/fuzz_%.c,$(ASAN_DIR)/tests/fuzz/replay-%,$(wildcard tests/fuzz/fuzz_*.c))
$(ASAN_DIR)/tests/fuzz/fuzz_tokenizer.o: ASAN_FLAGS += -DRR_FUZZ_VOCAB='"$(CURDIR)/share/vocab/bert-base-uncased.txt"'
.SECONDARY: $(FUZZ_REPLAY:$(ASAN_DIR)/tests/fuzz/replay-%=$(ASAN_DIR)/tests/fuzz/fuzz_%.o) $(ASAN_DIR)/tests/fuzz/replay.o
$(ASAN_DIR)/tests/fuzz/replay-%: $(ASAN_DIR)/tests/fuzz/fuzz_%.o $(ASAN_DIR)/tests/fuzz/replay.o \
                                 $(patsubst %.c,$(ASAN_DIR)/%.o,$(LIB_SRC))
	$(CC) -fopenmp $(ASAN_FLAGS) $^ $(filter-out -lstdc++ -lcublas -lcufft -lcudart -lnccl,$(LDLIBS)) -o $@

# --- tests ---------------------------------------------------------------------
# tests/tools/: programs that CLI tests run (mrsnet_forward: the mrsnet-b
# forward against PyTorch, tests/cli/test_mrsnet_b.sh).
$(BUILD)/tests/tools/mrsnet_forward: $(BUILD)/tests/tools/mrsnet_forward.o $(BUILD)/tests/unit/golden.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

check: all $(ASAN_DIR)/run-unit $(BUILD)/tests/tools/mrsnet_forward gpu-check $(FUZZ_REPLAY)
	@PYTHON=$(PYTHON) BIN=bin UNIT=$(BUILD)/tests/unit/run-unit ASAN_UNIT=$(ASAN_DIR)/run-unit \
	  FUZZ_REPLAY=$(ASAN_DIR)/tests/fuzz \
	  MRSNET_FORWARD=$(BUILD)/tests/tools/mrsnet_forward sh tests/run.sh

# Benchmarks print timings (and ratios against PyTorch where they have one);
# they are never part of make check.
BENCH_SRC := $(sort $(wildcard bench/*.c))
$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@
$(BUILD)/bench/gpu_bench: $(BUILD)/tests/gpu/synth_batch.o
bench: $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%) | deps
	$(BUILD)/bench/tokenize share/vocab/bert-base-uncased.txt 1000000
	PYTHON=$(PYTHON) CPU_FORWARD=$(BUILD)/bench/cpu_forward sh bench/cpu-forward.sh

# The reference values made with Debian's packages: the network's (PyTorch)
# and the resizing ones (Pillow).  The tokenizer's and COCO's come from PyPI
# packages in a throwaway venv: see tools/make_tokenizer_goldens.py and
# tools/make_coco_goldens.py.
goldens: | deps
	$(PYTHON) tools/reference/make_goldens.py --out tests/golden/mrsnet-nano
	$(PYTHON) tools/reference/make_goldens.py --config share/configs/lavt-nano.json --out tests/golden/lavt-nano
	$(PYTHON) tools/reference/make_goldens.py --config share/configs/rmsin-nano.json --out tests/golden/rmsin-nano
	$(PYTHON) tools/make_pil_goldens.py

fuzz: | deps
	$(MAKE) -C tests/fuzz run

demo: all
	@sh tools/demo.sh

# share/experiments/paper.mk at nano scale on synthetic scenes: both tables of
# the paper, every method trained from scratch on the CPU (share/experiments/README).
paper-demo: all | deps
	sh tools/paper-demo.sh

# Trains the demo model (an hour at most on 2 cores); share/models/README.
demo-model: all | deps
	sh tools/demo-model.sh

clean:
	rm -rf build bin


# --- the GPU checks (tests/gpu/README) -------------------------------------------
# ops_check and golden_gpu, built against the library's objects (the CUDA ones
# when CUDA=1); tests/gpu/check.sh runs them on a machine with a GPU.
GPU_TOOLS := $(BUILD)/tests/gpu/ops_check $(BUILD)/tests/gpu/golden_gpu
$(BUILD)/tests/gpu/ops_check: $(BUILD)/tests/gpu/ops_check.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@
$(BUILD)/tests/gpu/golden_gpu: $(BUILD)/tests/gpu/golden_gpu.o $(BUILD)/tests/gpu/synth_batch.o \
                               $(BUILD)/tests/unit/golden.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@
.PHONY: gpu-check
gpu-check: $(GPU_TOOLS)

-include $(shell find build -name '*.d' 2>/dev/null)
