# hookd - a thin front for Meson. `make run` and `make test` are the whole set-up on Debian 12.
PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
FUZZ_SECONDS ?= 20

.PHONY: all deps build run example test install fuzz bench deb clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=$(PREFIX)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# The receiver on 127.0.0.1:8080, store under ./var; a local key pair is made on first run.
run: build
	@scripts/run $(BUILD)/hookd

# The README's worked example: keygen, sign the siprec.failed example, verify it.
example: build
	@scripts/example $(BUILD)/hookd

test: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/test

install: build
	meson configure $(BUILD) --prefix=$(PREFIX)
	meson install -C $(BUILD) $(if $(DESTDIR),--destdir $(DESTDIR))

# Longer fuzzing than `make test` does: FUZZ_SECONDS per target, corpus kept in build-fuzz/corpus.
fuzz: deps
	@scripts/fuzz $(FUZZ_SECONDS)

bench: deps
	@bench/run

# Debian packages (hookd, libhookd0, libhookd-dev) from this tree, left in dist/.
deb: deps
	@scripts/deb

clean:
	rm -rf build build-asan build-fuzz build-bench dist obj-*
