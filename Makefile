# The two quick-start commands (README): `make demo` and `make test`. Each creates the virtualenv
# on first use and reinstalls when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test lint install clean mutation lambda-lock

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/e2p demo

# bandit: medium and high findings only (ruff's S rules already cover the rest); offline, ~5 s.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/bandit -q -r handler scripts/e2p -ll

test: lint
	$(BIN)/pytest -n 2

# Mutation testing of core modules (CONTRIBUTING.md): slow, so CI does not run it. MODULES are dotted
# module names; the score per module is printed at the end (killed / mutants tried). Survivors are
# listed by `$(BIN)/mutmut results` and shown with `$(BIN)/mutmut show NAME`.
MODULES ?= handler.decisions handler.delivery.policy handler.message handler.mappers.guardduty handler.mappers.securityhub
MUTATION_JOBS ?= 2

mutation: $(STAMP)
	$(BIN)/mutmut run --max-children $(MUTATION_JOBS) $(foreach m,$(MODULES),'$(m).*')
	$(BIN)/mutmut results --all true | awk -v modules="$(MODULES)" '\
	  BEGIN { n = split(modules, wanted, " "); for (i = 1; i <= n; i++) keep[wanted[i]] = 1 } \
	  { name = $$1; sub(/:$$/, "", name); module = name; sub(/\.[^.]*$$/, "", module) } \
	  !(module in keep) { next } \
	  { tried[module]++; status = $$0; sub(/^[^:]*: /, "", status) } \
	  status == "killed" || status == "timeout" || status == "caught by type check" { killed[module]++ } \
	  status != "killed" && status != "timeout" && status != "caught by type check" { print "  " name ": " status } \
	  END { for (m in tried) printf "%-32s %d/%d killed (%.1f%%)\n", m, killed[m], tried[m], 100 * killed[m] / tried[m] }'

# The Lambda's dependency lock (scripts/e2p/packaging/lambda-requirements.txt): resolved again from
# the floors in lambda_package.RUNTIME_REQUIREMENTS for the function's platform, with each wheel's hash.
lambda-lock: $(STAMP)
	$(BIN)/python -m e2p.packaging.relock

clean:
	rm -rf $(VENV) .e2p-build .pytest_cache .mypy_cache .ruff_cache mutants
