# hookd - a thin front for Meson. `make run` and `make test` are the whole set-up on Debian 12.
PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
FUZZ_SECONDS ?= 20

.PHONY: all deps build run test install fuzz bench lint clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=$(PREFIX)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Until the receiver daemon exists: the worked example (keygen, sign, verify) from the README.
run: build
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

clean:
	rm -rf build build-asan build-fuzz build-bench
