# Two commands for a newcomer: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

PLAYGROUND := tests/e2e/node_modules/@microsoft/m365agentsplayground/cli.js

# Debian's Chromium, and a colour emoji font for the ratings' symbols (🚩, 🟢), for the report
# pages' test (tests/e2e/test_report_page.py: axe-core, the A4 PDF and the screenshots)
CHROMIUM := /usr/bin/chromium
EMOJI_FONT := /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf

.PHONY: run test lint bench sample teams-js clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# Microsoft's Agents Playground, a local Teams, pinned in tests/e2e/package-lock.json
$(PLAYGROUND): tests/e2e/package.json tests/e2e/package-lock.json
	npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error
	@touch $(PLAYGROUND)

$(CHROMIUM) $(EMOJI_FONT):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-noto-color-emoji

## run: prepare perfbot.db with the sample council (if empty), start the bot and the Playground
## (messages may go at any hour here, so that a demo works in the evening too);
## `make run AS=mark` is the same council with you as Amina's escalation owner (AS is also
## make's assembler, so only an AS given on the command line or in the environment counts);
## `make run PORT=3979` if another program has the bot's port 3978
run: $(STAMP) $(PLAYGROUND)
	$(BIN)/perfbot db upgrade
	$(BIN)/perfbot sample load --if-empty
	PERFBOT_SEND_HOURS=$${PERFBOT_SEND_HOURS:-always} $(BIN)/perfbot serve --playground $(if $(filter command line environment,$(origin AS)),--as $(AS)) $(if $(PORT),--port $(PORT))

## test: the whole suite (PostgreSQL tests run when PERFBOT_TEST_POSTGRES_URL is set), spread
## over one pytest-xdist worker per core, each test file whole on one worker (so that a
## module's shared fixture, such as the browser's run of the report pages, is made once);
## `make test WORKERS=0` runs it in one process, and PYTEST_ARGS adds pytest's own options
## (`make test PYTEST_ARGS="-k walkthrough"`)
WORKERS ?= auto
test: $(STAMP) $(PLAYGROUND) $(CHROMIUM) $(EMOJI_FONT)
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadfile $(PYTEST_ARGS)

## lint: ruff and mypy (installed on first use)
lint: $(STAMP)
	$(BIN)/python -m pip install --quiet ruff mypy
	$(BIN)/ruff check .
	$(BIN)/mypy

## bench: run every benchmark in bench/ (bench/council.py is the scale benchmarks' data, not one)
BENCHMARKS := $(filter-out bench/council.py,$(wildcard bench/*.py))
bench: $(STAMP)
	@for b in $(BENCHMARKS); do echo "== $$b"; $(BIN)/python $$b || exit 1; done

## sample: regenerate sample/council (the tests' fixture, as of 23 November 2026) from sample/generate.py
sample: $(STAMP)
	$(BIN)/python -m sample.generate

## teams-js: vendor Microsoft's Teams JavaScript library (npm @microsoft/teams-js, MIT licence)
## into bot/static/ for the board tab, at TEAMS_JS (bot/tab.py's TEAMS_JS_VERSION names the same;
## the tab's test checks the file's SHA-256)
TEAMS_JS := 2.58.0
teams-js:
	rm -rf .teams-js && mkdir .teams-js
	cd .teams-js && npm pack --silent @microsoft/teams-js@$(TEAMS_JS) > /dev/null && tar xzf microsoft-teams-js-$(TEAMS_JS).tgz
	cp .teams-js/package/dist/umd/MicrosoftTeams.min.js bot/static/MicrosoftTeams-$(TEAMS_JS).min.js
	cp .teams-js/package/LICENSE bot/static/MicrosoftTeams-LICENSE.txt
	rm -rf .teams-js

clean:
	rm -rf $(VENV) perfbot.db *.egg-info
