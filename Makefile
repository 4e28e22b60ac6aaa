# pyperf-probe: `make test` and `make demo` are the two commands of the README.
# The venv's interpreter: the distribution's python3 where it can make a venv, else the first python3 on PATH
# (PYTHON=... chooses another). Debian's is built with profile-guided and link-time optimisation: a cold make.data
# report took 0.83x the CPU under it that it took under pyenv's default build of 3.11 (callgrind: 444M -> 380M
# instructions; bench/report), whose shared libpython also costs every start ~7M instructions of relocations.
SYSTEM_PYTHON := $(shell /usr/bin/python3 -c "import ensurepip, venv" >/dev/null 2>&1 && echo /usr/bin/python3)
PYTHON ?= $(if $(SYSTEM_PYTHON),$(SYSTEM_PYTHON),python3)
VENV := .venv
VPY := $(VENV)/bin/python
# What the tests need from Debian: sdt.h for the SDT workloads, libc's debug symbols, real perf (the oracle),
# the compilers that build the bundled workloads, and libtraceevent (pyperf prints tracepoint fields with it).
# The exports' real consumers: chromium (flame graph page), sqlite3 (databases), golang-go (go tool pprof).
# argdist's references: bpftrace (its counts), bpftool (no program left behind). ping: perf probe's classic
# workflow (inet_pton of ping -6 ::1, tests/test_classic_workflow.py). libdeflate0: the C accelerator dlopens it
# to inflate compressed .debug_info (libc6-dbg's: 41 -> 17 ms; zlib without it; tests/test_perfdata_inflate.py).
# libiberty-dev: the C accelerator links its cplus_demangle, as perf 6.1 does (setup.py; else libbfd's, dlopen'ed).
APT_PACKAGES := systemtap-sdt-dev libc6-dbg linux-perf gcc g++ make binutils libtraceevent1 chromium sqlite3 golang-go \
	bpftrace bpftool iputils-ping libdeflate0 libiberty-dev

.PHONY: test demo apt venv compile workloads npm-tools clean FORCE

# pip's `pyperf` script is then rewritten by entry_script.py to run with `python -S` (no site module: the
# paths site would add are in the script): ~0.5 ms of each command.
# The venv has no setuptools (as Python >= 3.12's venvs and pipx's have none): its distutils-precedence.pth
# imports _distutils_hack at every start of Python, 0.5-1 ms of each pyperf command (bench/probe_funcs). pip
# builds the package with a setuptools of its own, in an isolated environment (pyproject.toml's build-system).
# (.venv-python names the interpreter the venv was made with: another one makes the venv again)
.venv-python: FORCE
	@echo '$(PYTHON)' | cmp -s - $@ || echo '$(PYTHON)' >$@

FORCE:

$(VENV)/.installed: .venv-python setup.cfg setup.py pyproject.toml entry_script.py \
		$(wildcard pyperf_probe/perfdata/_speedups*.[ch])
	$(PYTHON) -m venv --clear $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip uninstall -q -y setuptools
	$(VPY) -m pip install -q -e '.[test]' --config-settings editable_mode=compat
	$(VPY) entry_script.py $(VENV)/bin/pyperf
	touch $@

venv: $(VENV)/.installed

# Where PYTHONDONTWRITEBYTECODE is set (some machines set it), Python reads .pyc files but never writes them: an
# editable install would compile every module at every run (pyperf probe -F -x libc.so.6: 45 ms instead of
# 19). So the package is compiled here, by every target that runs it; compileall only redoes changed modules.
# The modules' code also goes into one file (pyperf_probe/codebundle.py: one stat and one read a module at import).
compile: venv
	@PYTHONDONTWRITEBYTECODE= $(VPY) -m compileall -q pyperf_probe
	@$(VPY) -c 'import sys; from pyperf_probe import codebundle; sys.exit(codebundle.main())'

# The C accelerator (setup.py) also needs the interpreter's Python.h: Debian's python3 has it in python3-dev.
HAVE_PYTHON_H := $(shell $(PYTHON) -c "import os, sysconfig; print(int(os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h'))))" 2>/dev/null)
ifneq ($(HAVE_PYTHON_H),1)
APT_PACKAGES += python3-dev
endif

apt:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "make: the tests need these Debian packages:$$missing (run as root to install them)"; exit 1; fi; \
	  echo "apt-get install$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

workloads:
	$(MAKE) -s -C workloads

# speedscope's importer (tests/test_export_speedscope.py) runs under node, from npm, in build/node. npm comes
# with the machine's nodejs; where there is none, Debian's nodejs and npm.
SPEEDSCOPE := speedscope@1.25.0
build/node/node_modules/speedscope/package.json:
	@command -v npm >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	npm install --prefix build/node --no-audit --no-fund --silent $(SPEEDSCOPE)

npm-tools: build/node/node_modules/speedscope/package.json

# Both README commands install what they need (as root): the bundled workloads need <sys/sdt.h>.
test: apt compile workloads npm-tools
	$(VPY) -m pytest -q -rs $(PYTEST_ARGS)

demo: apt compile workloads
	./demo/demo.sh

clean:
	rm -rf build *.egg-info .pytest_cache
