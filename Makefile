# ngx_tw: build nginx with the module, run it, test it.
#
#   make                nginx with the module compiled in: build/static/nginx
#   make run            build if needed, run it in the foreground (PORT=8080)
#   make test           build everything the tests need, run the suite
#   make vanilla        the same nginx without the module: build/vanilla/nginx
#   make dynamic        build/dynamic/ngx_http_tw_module.so for Debian's nginx
#   make minimal        nginx's default build less TLS, HTTP/2, regexes and
#                       gzip, with the module: build/minimal/nginx
#   make test-dynamic   the suite against Debian's nginx with that .so
#   make demo           nginx with the classic TIME_WAIT problems, traffic,
#                       and the status with its advice
#   make bench          the module's cost against the same nginx without it
#   make test-asan      the suite against nginx and the module built with
#                       AddressSanitizer and UndefinedBehaviorSanitizer
#   make test-valgrind  the suite with every nginx process under memcheck
#   make test-newer     the suite against Debian 13's nginx (1.26), built
#                       with the module from its source package
#
# TW_TEST_LONG=1 make test also runs test-asan, test-valgrind and
# test-newer (.ci/run sets it).
#
# NGINX_SRC=/path builds against another nginx tree (a release tarball or
# a git checkout, 1.22 or newer); by default Debian's source package is
# fetched once into build/nginx-src.

SHELL        := /bin/bash
TOP          := $(CURDIR)
BUILD        := $(TOP)/build
JOBS         ?= $(shell nproc 2>/dev/null || echo 2)
PORT         ?= 8080

# configure runs in the nginx tree: paths given relative to this one are
# made absolute first

override BUILD := $(abspath $(BUILD))

ifeq ($(strip $(NGINX_SRC)),)
override NGINX_SRC := $(BUILD)/nginx-src
else
override NGINX_SRC := $(abspath $(NGINX_SRC))
endif
STATIC       := $(BUILD)/static
VANILLA      := $(BUILD)/vanilla
DYNAMIC      := $(BUILD)/dynamic
UNIT         := $(BUILD)/unit
ASAN         := $(BUILD)/asan
MINIMAL      := $(BUILD)/minimal
NEWER        := $(BUILD)/newer
BENCH_PLAIN  := $(BUILD)/bench-plain
BENCH_MODULE := $(BUILD)/bench-module
RUNDIR       := $(BUILD)/run
DEBIAN_SRC   := /usr/share/nginx/src

NGINX        := $(STATIC)/nginx
MODULE_SO    := $(DYNAMIC)/ngx_http_tw_module.so

NGX_FLAGS    := --with-debug --with-http_ssl_module --with-http_v2_module \
                --with-http_stub_status_module --with-pcre \
                --with-poll_module

MODULE_FILES := $(TOP)/config $(wildcard $(TOP)/ngx_tw_module/*.[ch])

# a release tarball has ./configure, a git checkout auto/configure
CONFIGURE     = $(if $(wildcard $(NGINX_SRC)/configure),./configure,\
                  auto/configure)

PROVE_JOBS   ?= $(JOBS)

.PHONY: all build vanilla dynamic minimal unit run test test-dynamic demo \
        bench bench-builds asan test-asan test-valgrind test-newer clean \
        FORCE

all: build

build: $(STATIC)/Makefile
	$(MAKE) -s -C $(NGINX_SRC) -f $(STATIC)/Makefile -j$(JOBS) \
	    $(STATIC)/nginx

vanilla: $(VANILLA)/Makefile
	$(MAKE) -s -C $(NGINX_SRC) -f $(VANILLA)/Makefile -j$(JOBS) \
	    $(VANILLA)/nginx

dynamic: $(DYNAMIC)/Makefile
	$(MAKE) -s -C $(DEBIAN_SRC) -f $(DYNAMIC)/Makefile -j$(JOBS) modules


# the nginx source tree

ifeq ($(NGINX_SRC),$(BUILD)/nginx-src)
$(NGINX_SRC)/src/core/nginx.h:
	@util/deps.sh build
	util/nginx-src.sh $(NGINX_SRC)
else
$(NGINX_SRC)/src/core/nginx.h:
	@echo "no nginx source tree at NGINX_SRC=$(NGINX_SRC)" >&2; exit 1
endif


# configure again whenever the tree, the flags or config change

$(BUILD)/%.id: FORCE
	@mkdir -p $(@D)
	@echo "$(NGINX_SRC) $(NGX_FLAGS) $(CFLAGS)" | cmp -s - $@ \
	    || echo "$(NGINX_SRC) $(NGX_FLAGS) $(CFLAGS)" > $@

$(STATIC)/Makefile: $(NGINX_SRC)/src/core/nginx.h $(BUILD)/static.id \
                    $(TOP)/config
	@util/deps.sh build
	cd $(NGINX_SRC) && $(CONFIGURE) --builddir=$(STATIC) \
	    --prefix=$(RUNDIR) $(NGX_FLAGS) \
	    $(if $(CFLAGS),--with-cc-opt="$(CFLAGS)") \
	    $(if $(LDFLAGS),--with-ld-opt="$(LDFLAGS)") \
	    --add-module=$(TOP) > $(BUILD)/static.configure.log \
	    || { tail -n 20 $(BUILD)/static.configure.log; exit 1; }

$(VANILLA)/Makefile: $(NGINX_SRC)/src/core/nginx.h $(BUILD)/vanilla.id
	@util/deps.sh build
	cd $(NGINX_SRC) && $(CONFIGURE) --builddir=$(VANILLA) \
	    --prefix=$(RUNDIR) $(NGX_FLAGS) \
	    $(if $(CFLAGS),--with-cc-opt="$(CFLAGS)") \
	    $(if $(LDFLAGS),--with-ld-opt="$(LDFLAGS)") \
	    > $(BUILD)/vanilla.configure.log \
	    || { tail -n 20 $(BUILD)/vanilla.configure.log; exit 1; }

# the module without what nginx builds only on request or with a library:
# no TLS, no HTTP/2, no PCRE (so no rewrite module), no gzip

MINIMAL_FLAGS := --without-pcre --without-http_rewrite_module \
                 --without-http_gzip_module

$(MINIMAL)/Makefile: $(NGINX_SRC)/src/core/nginx.h $(BUILD)/minimal.id \
                     $(TOP)/config
	@util/deps.sh build
	cd $(NGINX_SRC) && $(CONFIGURE) --builddir=$(MINIMAL) \
	    --prefix=$(RUNDIR) $(MINIMAL_FLAGS) \
	    --add-module=$(TOP) > $(BUILD)/minimal.configure.log \
	    || { tail -n 20 $(BUILD)/minimal.configure.log; exit 1; }

minimal: $(MINIMAL)/Makefile
	$(MAKE) -s -C $(NGINX_SRC) -f $(MINIMAL)/Makefile -j$(JOBS) \
	    $(MINIMAL)/nginx

# sanitizers: alignment is left out, nginx's HTTP/2 code stores unaligned
# on x86 on purpose; NGX_DEBUG_PALLOC makes pool allocations visible to
# ASan

ASAN_CC_OPT  := -O1 -g -fno-omit-frame-pointer \
                -fsanitize=address,undefined -fno-sanitize=alignment \
                -DNGX_DEBUG_PALLOC=1

$(ASAN)/Makefile: $(NGINX_SRC)/src/core/nginx.h $(BUILD)/asan.id \
                  $(TOP)/config $(BUILD)/ubsan-options.o
	@util/deps.sh build
	cd $(NGINX_SRC) && $(CONFIGURE) --builddir=$(ASAN) \
	    --prefix=$(RUNDIR) $(NGX_FLAGS) \
	    --with-cc-opt="$(ASAN_CC_OPT)" \
	    --with-ld-opt="-fsanitize=address,undefined \
	                   $(BUILD)/ubsan-options.o" \
	    --add-module=$(TOP) > $(BUILD)/asan.configure.log \
	    || { tail -n 20 $(BUILD)/asan.configure.log; exit 1; }

# UBSan's options, built in: it reads UBSAN_OPTIONS only at its first
# report, when nginx's process title has overwritten the environment (the
# path of t/ubsan.supp in it: made again when the tree moves, as asan.id)

$(BUILD)/ubsan-options.o: $(TOP)/t/lib/ubsan-options.c $(BUILD)/asan.id
	@mkdir -p $(@D)
	$(CC) -c -O -W -Wall -Werror \
	    -DNGX_TW_UBSAN_SUPP='"$(TOP)/t/ubsan.supp"' -o $@ $<

asan: $(ASAN)/Makefile
	$(MAKE) -s -C $(NGINX_SRC) -f $(ASAN)/Makefile -j$(JOBS) $(ASAN)/nginx


# the benchmark's pair: built as a distribution builds nginx (no debug
# log, -O2 and Debian's hardening flags), with and without the module

BENCH_FLAGS  := --with-http_ssl_module --with-http_v2_module \
                --with-http_stub_status_module --with-pcre
BENCH_CC_OPT  = $$(dpkg-buildflags --get CFLAGS) \
                $$(dpkg-buildflags --get CPPFLAGS)
BENCH_LD_OPT  = $$(dpkg-buildflags --get LDFLAGS)

$(BENCH_MODULE)/Makefile: $(NGINX_SRC)/src/core/nginx.h $(TOP)/config
	@util/deps.sh build
	cd $(NGINX_SRC) && $(CONFIGURE) --builddir=$(BENCH_MODULE) \
	    --prefix=$(RUNDIR) $(BENCH_FLAGS) \
	    --with-cc-opt="$(BENCH_CC_OPT)" --with-ld-opt="$(BENCH_LD_OPT)" \
	    --add-module=$(TOP) > $(BUILD)/bench-module.configure.log \
	    || { tail -n 20 $(BUILD)/bench-module.configure.log; exit 1; }

$(BENCH_PLAIN)/Makefile: $(NGINX_SRC)/src/core/nginx.h
	@util/deps.sh build
	cd $(NGINX_SRC) && $(CONFIGURE) --builddir=$(BENCH_PLAIN) \
	    --prefix=$(RUNDIR) $(BENCH_FLAGS) \
	    --with-cc-opt="$(BENCH_CC_OPT)" --with-ld-opt="$(BENCH_LD_OPT)" \
	    > $(BUILD)/bench-plain.configure.log \
	    || { tail -n 20 $(BUILD)/bench-plain.configure.log; exit 1; }

bench-builds: $(BENCH_PLAIN)/Makefile $(BENCH_MODULE)/Makefile
	$(MAKE) -s -C $(NGINX_SRC) -f $(BENCH_PLAIN)/Makefile -j$(JOBS) \
	    $(BENCH_PLAIN)/nginx
	$(MAKE) -s -C $(NGINX_SRC) -f $(BENCH_MODULE)/Makefile -j$(JOBS) \
	    $(BENCH_MODULE)/nginx


# Debian's nginx: its headers (nginx-dev) and its configure flags, which
# include --with-compat, so that /usr/sbin/nginx accepts the module

$(DYNAMIC)/Makefile: $(TOP)/config
	@util/deps.sh build dynamic
	@mkdir -p $(DYNAMIC)
	cd $(DEBIAN_SRC) && . ./conf_flags && ./configure \
	    --with-cc-opt="$$(dpkg-buildflags --get CFLAGS) -fPIC \
	                   $$(dpkg-buildflags --get CPPFLAGS)" \
	    --with-ld-opt="$$(dpkg-buildflags --get LDFLAGS) -fPIC" \
	    "$${NGX_CONF_FLAGS[@]}" \
	    --add-dynamic-module=$(TOP) --builddir=$(DYNAMIC) \
	    > $(BUILD)/dynamic.configure.log \
	    || { tail -n 20 $(BUILD)/dynamic.configure.log; exit 1; }


# the classifier's own unit tests: a plain C program, no nginx process

unit: $(UNIT)/classify $(UNIT)/render $(UNIT)/timewait $(UNIT)/clockshift.so \
      $(UNIT)/probehold.so

$(UNIT)/classify: $(TOP)/t/unit/classify.c \
                  $(TOP)/ngx_tw_module/ngx_http_tw_classify.c \
                  $(TOP)/ngx_tw_module/ngx_http_tw_classify.h \
                  | $(STATIC)/Makefile
	@mkdir -p $(UNIT)
	$(CC) -O -g -W -Wall -Wpointer-arith -Wno-unused-parameter -Werror \
	    -I $(NGINX_SRC)/src/core -I $(NGINX_SRC)/src/event \
	    -I $(NGINX_SRC)/src/event/modules -I $(NGINX_SRC)/src/os/unix \
	    -I $(STATIC) -I $(TOP)/ngx_tw_module \
	    -o $@ $(TOP)/t/unit/classify.c \
	    $(TOP)/ngx_tw_module/ngx_http_tw_classify.c

# a step of the wall clock, for a running nginx (t/45-clock-step.t)

$(UNIT)/clockshift.so: $(TOP)/t/lib/clockshift.c
	@mkdir -p $(UNIT)
	$(CC) -O -W -Wall -Werror -shared -fPIC -o $@ $< -ldl

# a hold before close(), for a client's RST to land in (t/46-probe-hold.t)

$(UNIT)/probehold.so: $(TOP)/t/lib/probehold.c
	@mkdir -p $(UNIT)
	$(CC) -O -W -Wall -Werror -shared -fPIC -o $@ $< -ldl

# the status renderer and the kernel's counts, each with everything else
# of the test build: its compiler flags, its objects but the one the test
# includes and nginx's main(), and its link options; relinked at every run

RENDER_LINK = sed -n '/-o $(subst /,\/,$(NGINX)) /,/^$$/p' $(STATIC)/Makefile \
              | tr -s ' \t\\' '\n'

UNIT_SOURCE_render   = status
UNIT_SOURCE_timewait = timewait

$(UNIT)/render $(UNIT)/timewait: $(UNIT)/%: $(TOP)/t/unit/%.c build
	@mkdir -p $(UNIT)
	objcopy --redefine-sym main=ngx_tw_unit_nginx_main \
	    $(STATIC)/src/core/nginx.o $(UNIT)/nginx.o
	cd $(NGINX_SRC) && $(CC) $$(sed -n 's/^CFLAGS =//p' $(STATIC)/Makefile) \
	    $$(sed -n '/^ALL_INCS/,/^$$/p' $(STATIC)/Makefile \
	       | grep -o -e '-I [^ ]*' | tr '\n' ' ') \
	    -o $@ $(TOP)/t/unit/$*.c \
	    $$($(RENDER_LINK) | grep -e '\.o$$' \
	       | grep -v -e '/src/core/nginx\.o$$' \
	             -e '/ngx_http_tw_$(UNIT_SOURCE_$*)\.o$$') \
	    $(UNIT)/nginx.o \
	    $$($(RENDER_LINK) | grep -e '^-' | grep -v -e '^-o$$')


# the main job: nginx with the module, in the foreground, on 127.0.0.1

run: build
	@sh util/run.sh $(NGINX) $(RUNDIR) $(PORT)


# a few seconds of the classic problems, then the status and its advice

demo: build
	@util/deps.sh test
	@util/demo.sh $(NGINX)


# throughput, latency and instructions per request, against plain nginx

bench: bench-builds
	@util/deps.sh test bench
	BENCH_PLAIN=$(BENCH_PLAIN)/nginx BENCH_MODULE=$(BENCH_MODULE)/nginx \
	    perl bench/bench.pl


# the suite: real nginx processes, real sockets on loopback

test: build dynamic minimal unit
	@util/deps.sh test
	util/prove plain -j$(PROVE_JOBS) t/
ifneq ($(TW_TEST_LONG),)
	$(MAKE) test-asan test-valgrind test-newer
endif

test-dynamic: dynamic
	@util/deps.sh test
	TEST_NGINX_BINARY=/usr/sbin/nginx TEST_NGINX_MODULE=$(MODULE_SO) \
	    util/prove dynamic -j$(PROVE_JOBS) t/

# leaks are not checked: nginx leaves its pools to the exit on purpose;
# t/ubsan.supp lists what nginx itself reports (see there), and the ASan
# build has it built in (t/lib/ubsan-options.c)

test-asan: asan dynamic minimal unit
	@util/deps.sh test
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:suppressions=$(TOP)/t/ubsan.supp \
	TEST_NGINX_BINARY=$(ASAN)/nginx util/prove asan -j$(PROVE_JOBS) t/

test-valgrind: build dynamic minimal unit
	@util/deps.sh test valgrind
	TEST_NGINX_VALGRIND=1 util/prove valgrind t/

# a second nginx release: Debian 13's, from its source package (apt lists
# of its own, the machine's sources left alone), built with the module
# into build/newer/static/nginx: the module's code for nginx 1.25 and
# later compiled, and the whole suite run against it.  The unit tests and
# the dynamic module stay those of the main build; t/42-minimal.t skips
# itself.

NEWER_RELEASE ?= trixie

test-newer: dynamic unit
	@util/deps.sh build test
	NGINX_DEBIAN_RELEASE=$(NEWER_RELEASE) \
	    util/nginx-src.sh $(NEWER)/nginx-src-$(NEWER_RELEASE)
	$(MAKE) BUILD=$(NEWER) \
	    NGINX_SRC=$(NEWER)/nginx-src-$(NEWER_RELEASE) build
	TEST_NGINX_BINARY=$(NEWER)/static/nginx \
	    util/prove newer -j$(PROVE_JOBS) t/

clean:
	rm -rf $(STATIC) $(VANILLA) $(DYNAMIC) $(MINIMAL) $(UNIT) $(ASAN) \
	    $(BENCH_PLAIN) $(BENCH_MODULE) $(NEWER)/static $(NEWER)/*.id \
	    $(NEWER)/*.log $(BUILD)/ubsan-options.o $(BUILD)/*.id \
	    $(BUILD)/*.log

FORCE:
