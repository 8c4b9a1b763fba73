# The experiments of the MRSNet paper on NWPU-Refer, as make targets.
#
#   make -f share/experiments/paper.mk DATA=data/nwpu INIT=init-b.safetensors OUT=runs/paper table2
#
#   table2   Table II: LAVT, RMSIN and MRSNet, P@0.7, P@0.8, P@0.9, oIoU and mIoU on val and
#            test: OUT/table2.md (the best of each column bold), OUT/table2.csv, OUT/table2.json
#   table3   Table III: the IFIM ablation (PSR only, CSR only, both) on test: OUT/table3.*
#   all      both tables
#
# Each method is trained (rrsis-train), its best validation weights segment the val and
# test manifests (rrsis-tokenize | rrsis-encode | rrsis-fuse | rrsis-decode) and the masks
# are scored (rrsis-score); rrsis-score --table merges the scores into the tables.  MRSNet's
# run is Table III's "both" row as well.  Everything of one method lives in its run
# folder, OUT/METHOD/ (share/experiments/README lists the files).
#
# Make's timestamps decide what is done: a finished training (OUT/METHOD/model.safetensors)
# is not redone; an interrupted one (Ctrl-C, a killed job, a machine that went away)
# resumes from its checkpoint at the next make; `make -j3` trains independent methods
# at once.  Changing the configuration or a training setting retrains nothing silently:
# rrsis-train --resume refuses a run folder of other settings, naming them.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.SUFFIXES:
MAKEFLAGS += --no-builtin-rules
# Prerequisites written $$(...) name the target's own files (its method: $$*).
.SECONDEXPANSION:
# Nothing made here is a temporary file to delete at the end (make's "intermediate" files).
.SECONDARY:

# ---- what to run, and where ------------------------------------------------------------
HERE := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
ROOT := $(abspath $(HERE)/../..)
# The dataset: DATA/train.jsonl, DATA/val.jsonl and DATA/test.jsonl, manifests as
# tools/import_refer.py writes them (NWPU-Refer with --lang-filter en: the paper trains on
# English only) or rrsis-synth does.
DATA   ?= data/nwpu
# Pretrained Swin and BERT weights for every method (tools/convert.py --found-only: the
# tensors the methods share, by the same names); empty: every weight from its seeded init.
INIT   ?=
# Where the run folders and the tables go.
OUT    ?= runs/paper
# b: the paper's models (Swin-B, BERT-base, 480x480); nano: the small CPU models.
SCALE  ?= b
# auto (the GPU when there is one), cpu or cuda: every program that runs the network.
DEVICE ?= auto
# The programs and the shipped configurations.
BIN     ?= $(ROOT)/bin
CONFIGS ?= $(ROOT)/share/configs

# The configuration of each method (the ablation's come from MRSNet's, below).
LAVT_CONFIG   ?= $(CONFIGS)/lavt-$(SCALE).json
RMSIN_CONFIG  ?= $(CONFIGS)/rmsin-$(SCALE).json
MRSNET_CONFIG ?= $(CONFIGS)/mrsnet-$(SCALE).json

# ---- training: the paper's settings, else RMSIN's --------------------------------------
# rrsis-train's AdamW has RMSIN's betas (0.9, 0.999), eps 1e-8 and parameter groups.
# The paper: AdamW with an initial learning rate of 6e-4.
LR               ?= 6e-4
# The paper: cosine annealing (stepped every update, to 0).
SCHEDULE         ?= cosine
# Not in the paper: RMSIN's 40 epochs.
EPOCHS           ?= 40
# Not in the paper: RMSIN's batch of 8 (4 GPUs x 2) a step.  A smaller GPU keeps the
# update with BATCH=2 ACCUM=4 (gradients of 4 micro-batches averaged).
BATCH            ?= 8
ACCUM            ?= 1
# RMSIN's AdamW weight decay.
WEIGHT_DECAY     ?= 0.01
# The paper's one learning rate for every part (1); 0.1 gives the pretrained Swin and BERT
# 6e-5, LAVT's range, should 6e-4 disturb them (doc/training.md).
BACKBONE_LR_MULT ?= 1
# RMSIN's seed (its seed_everything(2401)): weights, data order, boxes, dropout.
SEED             ?= 2401
# LAVT's and RMSIN's model selection: the best validation oIoU.
BEST_METRIC      ?= oiou
# RMSIN's own augmentation (black boxes on 20% of its samples), for its run alone: the
# paper retrains RMSIN as published and says nothing of MRSNet using it.
RMSIN_TRAIN_FLAGS ?= --random-erase
# Shorter runs (smoke tests, a look before the real thing): stop every training at update
# MAX_STEPS (the schedule still spans EPOCHS; raising it later resumes the runs), validate
# every VAL_EVERY updates instead of every epoch.  Empty: off.
MAX_STEPS        ?=
VAL_EVERY        ?=
# More rrsis-train options for every run that do not change what is learnt (--threads,
# --log-every, --ckpt-every).
TRAIN_RUN_FLAGS  ?=

# ---- the experiments ----------------------------------------------------------------------
TABLE2_METHODS := lavt rmsin mrsnet
TABLE3_METHODS := psr-only csr-only mrsnet
SETS           := val test

# Each method: its configuration and the jq filter that derives the trained one from it.
CONFIG_lavt      = $(LAVT_CONFIG)
CONFIG_rmsin     = $(RMSIN_CONFIG)
CONFIG_mrsnet    = $(MRSNET_CONFIG)
CONFIG_psr-only  = $(MRSNET_CONFIG)
CONFIG_csr-only  = $(MRSNET_CONFIG)
FILTER_lavt      = .
FILTER_rmsin     = .
FILTER_mrsnet    = .
FILTER_psr-only  = .ifim.csr = false | .name += "-psr-only"
FILTER_csr-only  = .ifim.psr = false | .name += "-csr-only"
# More training options of a method's own.
TRAIN_FLAGS_rmsin = $(RMSIN_TRAIN_FLAGS)
# The rows of the tables.
LABEL_lavt       = LAVT
LABEL_rmsin      = RMSIN
LABEL_mrsnet     = MRSNet
LABEL_psr-only   = PSR only
LABEL_csr-only   = CSR only

TRAIN_OPTS = --epochs $(EPOCHS) --batch $(BATCH) --accum $(ACCUM) --lr $(LR) --schedule $(SCHEDULE) \
             --weight-decay $(WEIGHT_DECAY) --backbone-lr-mult $(BACKBONE_LR_MULT) --seed $(SEED) \
             --best-metric $(BEST_METRIC)
RUN_OPTS   = --device $(DEVICE) $(if $(MAX_STEPS),--max-steps $(MAX_STEPS)) \
             $(if $(VAL_EVERY),--val-every $(VAL_EVERY)) $(TRAIN_RUN_FLAGS)
RECORD     = sh $(HERE)/record.sh

.PHONY: all table2 table3 FORCE
all: table2 table3
table2: $(addprefix $(OUT)/table2.,md csv json)
table3: $(addprefix $(OUT)/table3.,md csv json)
FORCE:

ifneq ($(INIT),)
ifeq ($(wildcard $(INIT)),)
$(error INIT=$(INIT): no such file (pretrained weights: README, Training, step 1))
endif
endif

# Inputs that must already be there: said plainly when they are not.
$(addprefix $(DATA)/,train.jsonl val.jsonl test.jsonl):
	@echo "paper.mk: $@ is missing: DATA=$(DATA) must hold train.jsonl, val.jsonl and test.jsonl" \
	      "(share/experiments/README)" >&2; exit 1
$(sort $(LAVT_CONFIG) $(RMSIN_CONFIG) $(MRSNET_CONFIG)):
	@echo "paper.mk: no configuration $@ (LAVT_CONFIG, RMSIN_CONFIG, MRSNET_CONFIG, SCALE)" >&2; exit 1

# ---- one run folder per method --------------------------------------------------------------
# The configuration trained, and the settings of the training (MAX_STEPS included, so that
# raising it resumes the run): rewritten only when they change, so that their timestamps
# say when they did.
$(OUT)/%/config.json: FORCE | $$(CONFIG_$$*)
	@mkdir -p $(@D)
	@jq '$(FILTER_$*)' $(CONFIG_$*) > $@.new
	@if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi
$(OUT)/%/settings: FORCE
	@mkdir -p $(@D)
	@echo '$(TRAIN_OPTS) $(TRAIN_FLAGS_$*) $(if $(MAX_STEPS),--max-steps $(MAX_STEPS))' > $@.new
	@if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi
# What made the run: make's command line, the configuration's source, the seed, the
# programs' versions and the checkout's git describe (the exact commands: commands.log).
$(OUT)/%/provenance.json: $(OUT)/%/config.json
	@sh $(HERE)/provenance.sh $(BIN) method=$* "label=$(LABEL_$*)" \
	    "make=$(MAKE) -f $(firstword $(MAKEFILE_LIST)) $(filter-out --jobserver%,$(MAKEFLAGS)) $(MAKECMDGOALS)" \
	    config=$(CONFIG_$*) 'config_filter=$(FILTER_$*)' seed=$(SEED) data=$(DATA) init=$(INIT) \
	    device=$(DEVICE) 'training=$(strip $(TRAIN_OPTS) $(TRAIN_FLAGS_$*))' > $@.new
	@mv $@.new $@

# Training.  A run folder with a checkpoint is resumed (rrsis-train checks that the
# configuration and settings are the run's); the run must then have ended by itself (all
# epochs, or MAX_STEPS), not by a signal, before its best validation weights become
# model.safetensors, the file that says this method is trained.
$(OUT)/%/model.safetensors: $(OUT)/%/config.json $(OUT)/%/settings $(DATA)/train.jsonl \
                            $(DATA)/val.jsonl $(INIT) | $(OUT)/%/provenance.json
	@if [ -e $(@D)/last.safetensors ]; then \
	    $(RECORD) $(@D) "$(BIN)/rrsis-train -o $(@D) --resume -c $(@D)/config.json --train $(DATA)/train.jsonl --val $(DATA)/val.jsonl $(TRAIN_OPTS) $(TRAIN_FLAGS_$*) $(RUN_OPTS)"; \
	else \
	    $(RECORD) $(@D) "$(BIN)/rrsis-train -o $(@D) -c $(@D)/config.json --train $(DATA)/train.jsonl --val $(DATA)/val.jsonl $(if $(INIT),--init $(INIT)) $(TRAIN_OPTS) $(TRAIN_FLAGS_$*) $(RUN_OPTS)"; \
	fi
	@end=$$(tail -n 1 $(@D)/log.jsonl | jq -r 'select(.type == "end") | .reason'); \
	if [ "$$end" != done ] && [ "$$end" != max_steps ]; then \
	    echo "paper.mk: the training in $(@D) stopped early ($${end:-no end in its log.jsonl}): make again to resume it" >&2; \
	    exit 1; \
	fi
	cp $(@D)/best.safetensors $@.new && mv $@.new $@

# Inference and scores on one set: masks in OUT/METHOD/masks-SET/, one JSON line per sample
# in results-SET.jsonl, the scores (both protocols, at 480x480 as published) in
# score-SET.json.
define infer_and_score
	@rm -rf $(@D)/masks-$(1)
	$(RECORD) $(@D) "$(BIN)/rrsis-tokenize --queries $(DATA)/$(1).jsonl | $(BIN)/rrsis-encode -m $< --device $(DEVICE) | $(BIN)/rrsis-fuse -m $< --device $(DEVICE) | $(BIN)/rrsis-decode -m $< --device $(DEVICE) --outdir $(@D)/masks-$(1) > $(@D)/results-$(1).jsonl"
	$(RECORD) $(@D) "$(BIN)/rrsis-score --gt $(DATA)/$(1).jsonl --pred $(@D)/masks-$(1) --format json > $@.new"
	@mv $@.new $@
endef
$(OUT)/%/score-val.json: $(OUT)/%/model.safetensors $(DATA)/val.jsonl
	$(call infer_and_score,val)
$(OUT)/%/score-test.json: $(OUT)/%/model.safetensors $(DATA)/test.jsonl
	$(call infer_and_score,test)

# ---- the tables -----------------------------------------------------------------------------
# Table II: methods as rows, each metric on val and test as columns.
TABLE2_SCORES = $(foreach m,$(TABLE2_METHODS),$(foreach s,$(SETS),$(OUT)/$(m)/score-$(s).json))
TABLE2_ARGS   = --table --sets val,test --cols metric,set \
                $(foreach m,$(TABLE2_METHODS),$(foreach s,$(SETS),--label '$(LABEL_$(m))=$(OUT)/$(m)/score-$(s).json'))
# Table III: the ablation on test, metrics as columns.
TABLE3_SCORES = $(foreach m,$(TABLE3_METHODS),$(OUT)/$(m)/score-test.json)
TABLE3_ARGS   = --table --sets test --cols metric \
                $(foreach m,$(TABLE3_METHODS),--label '$(if $(filter mrsnet,$(m)),PSR + CSR,$(LABEL_$(m)))=$(OUT)/$(m)/score-test.json')
CAPTION2 = Table II. Performance comparison across methods (rrsis-score, protocol rmsin, 480x480). The best results are in bold.
CAPTION3 = Table III. Performance results for different PSR and CSR configurations on the test set (rrsis-score, protocol rmsin, 480x480). The best results are in bold.

$(OUT)/table%.md: $$(TABLE$$*_SCORES)
	{ echo '$(CAPTION$*)'; echo; $(BIN)/rrsis-score $(TABLE$*_ARGS) --format md --bold-best; } > $@.new
	@mv $@.new $@
	@cat $@
$(OUT)/table%.csv: $$(TABLE$$*_SCORES)
	$(BIN)/rrsis-score $(TABLE$*_ARGS) --format csv > $@.new
	@mv $@.new $@
$(OUT)/table%.json: $$(TABLE$$*_SCORES)
	$(BIN)/rrsis-score $(TABLE$*_ARGS) --format json > $@.new
	@mv $@.new $@
