# Two commands do all set-up on a fresh Debian/Ubuntu machine:
#   make demo   installs everything, makes a small synthetic demo input and deblurs it
#   make test   installs everything and runs the test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
DEBIAN_PACKAGES := tesseract-ocr tesseract-ocr-eng fonts-liberation2 fonts-dejavu-core \
	fonts-urw-base35 ttf-bitstream-vera
DEMO_STEP ?= 7

TEST_SET := data/test-seed777
# The second sanity set: photographs of another source and technical targets (hdc.unseen), never trained on.
UNSEEN_SET := data/unseen-seed778
TUNING_SETS := data/tune-seed1001 data/tune-seed1002
# Natural tuning images: scikit-image's training photographs (1003, 1004) and hdc.unseen.TUNING (1005: a photograph,
# a phantom, dead leaves), which no network trained on and no sanity set holds.
NATURAL_TUNING_SETS := data/tune-natural-seed1003 data/tune-natural-seed1004 data/tune-natural-seed1005
REAL_DIR ?= ../shared/hdc2021-real/full
# The mild steps 0-3 where Tesseract saturates: 100 text captures per step (seed 1006), enough to tell a gap of a
# point from the noise; the sharp captures' own score is the ceiling.
MILD_SET := data/mild-seed1006
# The same captures (seed 1007) in the look-alike fonts and in two families no training drew (URW's P052, a
# Palatino, and URW Gothic, an Avant Garde): what a font costs, capture by capture.
FONT_STEPS := 4,8,12,14,15,16
LOOKALIKE_SET := data/fontref-seed1007
OTHER_FONTS_SET := data/fontshift-seed1007
# The same captures again through a blurred camera changed beyond what the calibrated cameras draw
# (hdc.physics.shift_camera): other apertures, a display-encoded response, three times the noise, a blur that grows
# across the field (the training camera model "varied" draws these four too), and three that no training draws:
# a ring aperture, an S-shaped response, row and column banding.
CAMERA_SHIFTS := aperture tone noise field annulus curve banding

.PHONY: setup system-packages demo test results mild fonts camera benchmark clean

setup: system-packages $(VENV)/.installed

system-packages:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	$(PYTHON) -m venv --help >/dev/null 2>&1 && $(PYTHON) -c "import ensurepip" 2>/dev/null \
		|| missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

demo: setup
	$(PY) -m hdc.synthetic demo/data --layout train --steps $(DEMO_STEP) --per-font 2 --seed 2021
	$(PY) main.py demo/data/step$(DEMO_STEP)/Verdana/CAM02 demo/output $(DEMO_STEP)
	$(PY) main.py demo/data/step$(DEMO_STEP)/Times/CAM02 demo/output $(DEMO_STEP)
	$(PY) -m evaluation.evaluate demo/output demo/data/step$(DEMO_STEP) --output demo/scores
	@echo "demo: inputs in demo/data, deblurred PNGs in demo/output, scores in demo/scores"

test: setup
	$(PY) -m pytest -q tests

# The published numbers: a synthetic test set (seed never used in training), the Wiener balance tuned on a
# disjoint set, our network and both baselines over every step, the real captures, the leaderboard. The
# leaderboard keeps every row it ranks in docs/results/runs/<name>/ and also ranks the kept rows of earlier
# releases there (not re-run here): article-release, the article's network with the Wiener channel and its
# fixed-weight data consistency (commit f0bb5c7), made by
#   mkdir -p runs/article-release && git archive f0bb5c7 weights/manifest.json weights/synthetic.weights.h5 \
#       | tar -x -C runs/article-release && $(PY) -m evaluation.run $(TEST_SET) runs/eval/article-release \
#       --weights runs/article-release/weights
# unet-19a67fc, the U-Net release before the fresh captures (commit 19a67fc), and unet-da2a580, the release
# before the noisier cameras (commit da2a580, with the destriping and the aperture fit), made the same way from
# those commits.
KEPT_ROWS := $(filter-out network network-alone auto wiener identity,$(notdir $(wildcard docs/results/runs/*)))
results: setup
	test -d $(TEST_SET) || $(PY) -m hdc.synthetic $(TEST_SET) --steps 0-19 --per-font 20 --seed 777 --layout test
	test -d data/tune-seed1001 || $(PY) -m hdc.synthetic data/tune-seed1001 --steps 0-19 --per-font 4 --seed 1001
	test -d data/tune-seed1002 || $(PY) -m hdc.synthetic data/tune-seed1002 --steps 0-19 --per-font 8 --seed 1002 \
		--natural 0
	test -d data/tune-natural-seed1003 || $(PY) -m hdc.synthetic data/tune-natural-seed1003 --steps 0-19 \
		--per-font 0 --natural 3 --seed 1003
	test -d data/tune-natural-seed1004 || $(PY) -m hdc.synthetic data/tune-natural-seed1004 --steps 0-19 \
		--per-font 0 --natural 10 --seed 1004
	test -d data/tune-natural-seed1005 || $(PY) -m hdc.synthetic data/tune-natural-seed1005 --steps 0-19 \
		--per-font 0 --tuning --seed 1005
	test -f evaluation/wiener_balance.json || $(PY) -m evaluation.baselines tune $(TUNING_SETS)
	grep -q '"consistency"' weights/manifest.json || $(PY) -m evaluation.consistency weights \
		--text $(TUNING_SETS) --natural $(NATURAL_TUNING_SETS) --report docs/results
	test -d $(UNSEEN_SET) || $(PY) -m hdc.synthetic $(UNSEEN_SET) --steps 0-19 --per-font 0 --unseen --layout test \
		--seed 778
	for method in network identity wiener; do \
		$(PY) -m evaluation.run $(TEST_SET) runs/eval/$$method --method $$method || exit 1; \
		$(PY) -m evaluation.run $(UNSEEN_SET) runs/eval/$$method-unseen --method $$method || exit 1; \
		if [ -d $(REAL_DIR) ]; then $(PY) -m evaluation.real $(REAL_DIR) runs/eval/$$method/real --method $$method; fi; \
	done
	$(PY) -m evaluation.run $(TEST_SET) runs/eval/network-alone --method "$(PY) main.py --quiet --no-consistency"
	$(PY) -m evaluation.run $(TEST_SET) runs/eval/auto --method auto
	$(PY) -m evaluation.leaderboard runs/eval/network runs/eval/network-alone runs/eval/auto runs/eval/wiener \
		runs/eval/identity \
		$(addprefix docs/results/runs/,$(KEPT_ROWS)) --output docs/results
	$(PY) -m evaluation.examples $(TEST_SET) runs/eval/network docs/results/examples-verdana.png --font Verdana
	$(PY) -m evaluation.examples $(TEST_SET) runs/eval/network docs/results/examples-times.png --font Times
	$(PY) -m evaluation.examples $(TEST_SET) runs/eval/network docs/results/examples-natural.png \
		--natural camera,target_qr,target_star --more $(UNSEEN_SET) runs/eval/network-unseen --steps 0,5,10,15
	mkdir -p docs/results/unseen && for kind in photographs targets; do \
		cp runs/eval/network-unseen/sanity-$$kind/sanity.md docs/results/unseen/sanity-$$kind.md; \
		cp runs/eval/network-unseen/sanity-$$kind/sanity.json docs/results/unseen/sanity-$$kind.json; done
	$(PY) -m evaluation.sweep $(TEST_SET)/steps_5_to_9/CAM02_blurred/focusStep_6_verdanaRef_size_30_sample_0001.tif 6 \
		docs/results/sweep-step6.png

# The mild steps side by side, capture by capture (docs/results/mild/leaderboard.md).
mild: setup
	test -d $(MILD_SET) || $(PY) -m hdc.synthetic $(MILD_SET) --steps 0-3 --per-font 50 --natural 0 --seed 1006 \
		--layout test
	for method in network wiener identity; do \
		$(PY) -m evaluation.run $(MILD_SET) runs/eval-mild/$$method --method $$method || exit 1; done
	$(PY) -m evaluation.run $(MILD_SET) runs/eval-mild/network-alone --method "$(PY) main.py --quiet --no-consistency"
	$(PY) -m evaluation.baselines identity $(MILD_SET)/steps_0_to_4/CAM01_focused runs/eval-mild/sharp/outputs 0
	$(PY) -m evaluation.evaluate runs/eval-mild/sharp/outputs $(MILD_SET) --output runs/eval-mild/sharp/scores
	$(PY) -m evaluation.leaderboard runs/eval-mild/network runs/eval-mild/network-alone runs/eval-mild/wiener \
		runs/eval-mild/identity runs/eval-mild/sharp --no-published --output docs/results/mild

# Other fonts than the look-alikes, capture by capture (docs/results/fonts/leaderboard.md).
# The look-alike set that make fonts and make camera compare against.
$(LOOKALIKE_SET): | setup
	$(PY) -m hdc.synthetic $@ --steps $(FONT_STEPS) --per-font 10 --natural 0 --seed 1007 --layout test

fonts: setup $(LOOKALIKE_SET)
	test -d $(OTHER_FONTS_SET) || $(PY) -m hdc.synthetic $(OTHER_FONTS_SET) --steps $(FONT_STEPS) --per-font 10 \
		--natural 0 --seed 1007 --layout test --fonts "P052,URW Gothic"
	$(PY) -m evaluation.run $(LOOKALIKE_SET) runs/eval-fonts/look-alikes --method network
	$(PY) -m evaluation.run $(OTHER_FONTS_SET) runs/eval-fonts/other-fonts --method network
	$(PY) -m evaluation.run $(OTHER_FONTS_SET) runs/eval-fonts/wiener-other-fonts --method wiener
	$(PY) -m evaluation.leaderboard runs/eval-fonts/look-alikes runs/eval-fonts/other-fonts \
		runs/eval-fonts/wiener-other-fonts --no-published --against look-alikes --output docs/results/fonts

camera: setup $(LOOKALIKE_SET)
	test -d runs/eval-fonts/look-alikes || $(PY) -m evaluation.run $(LOOKALIKE_SET) runs/eval-fonts/look-alikes \
		--method network
	for shift in $(CAMERA_SHIFTS); do \
		test -d data/camera-$$shift-seed1007 || $(PY) -m hdc.synthetic data/camera-$$shift-seed1007 \
			--steps $(FONT_STEPS) --per-font 10 --natural 0 --seed 1007 --layout test --camera-shift $$shift \
			|| exit 1; \
		$(PY) -m evaluation.run data/camera-$$shift-seed1007 runs/eval-camera/$$shift --method network || exit 1; \
		$(PY) -m evaluation.run data/camera-$$shift-seed1007 runs/eval-camera/wiener-$$shift --method wiener \
			|| exit 1; \
	done
	$(PY) -m evaluation.leaderboard runs/eval-fonts/look-alikes $(addprefix runs/eval-camera/,$(CAMERA_SHIFTS)) \
		$(addprefix runs/eval-camera/wiener-,$(CAMERA_SHIFTS)) --no-published --against look-alikes \
		--output docs/results/camera

benchmark: setup
	$(PY) -m evaluation.benchmark --output docs/benchmark

clean:
	rm -rf demo .pytest_cache
