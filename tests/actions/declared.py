"""What each composite action writes to $GITHUB_OUTPUT and what reads it, read from its action.yml.

A step writes outputs two ways: `summary.sh outputs FILE KEY...` (the named keys of a command's
--json result; `KEY?` may be absent) and `echo "key=..." >> "$GITHUB_OUTPUT"`. They are read as
`steps.<id>.outputs.<key>` by the action's own outputs, `if:` conditions and `env:` blocks. A step
that uses another action (upload-artifact) gets its outputs from that action and is left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SUMMARY_OUTPUTS = 'summary.sh" outputs'
#: `summary.sh" outputs "$FILE" key1 "key2?" ...` up to the end of the line.
SUMMARY_CALL = re.compile(r'summary\.sh" outputs "[^"]+"(?P<keys>(?: +"?[A-Za-z0-9_-]+\??"?)+) *$', re.MULTILINE)
ECHOED = re.compile(r'echo "(?P<key>[A-Za-z0-9_-]+)=.*>> "\$GITHUB_OUTPUT"')
READ = re.compile(r"steps\.(?P<step>[A-Za-z0-9_-]+)\.outputs\.(?P<key>[A-Za-z0-9_-]+)")


@dataclass(frozen=True)
class StepOutputs:
    """The outputs one `run:` step of an action writes."""

    step: str
    name: str
    #: Keys taken from a JSON result by summary.sh (without the `?`), and those that may be absent.
    json_keys: frozenset[str]
    optional: frozenset[str]
    echoed: frozenset[str]

    @property
    def written(self) -> frozenset[str]:
        return self.json_keys | self.echoed


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def written_outputs(action: dict[str, Any]) -> dict[str, StepOutputs]:
    """Step id -> what the step writes, for every `run:` step with an id."""
    found = {}
    for step in action["runs"]["steps"]:
        script = step.get("run")
        if script is None or "id" not in step:
            continue
        keys: list[str] = []
        for call in SUMMARY_CALL.finditer(script):
            keys += [key.strip('"') for key in call["keys"].split()]
        assert script.count(SUMMARY_OUTPUTS) == len(list(SUMMARY_CALL.finditer(script))), (
            f"step {step['id']}: a `summary.sh outputs` call names no keys (it must list the outputs it writes)"
        )
        found[step["id"]] = StepOutputs(
            step=step["id"],
            name=step.get("name", step["id"]),
            json_keys=frozenset(key.rstrip("?") for key in keys),
            optional=frozenset(key.rstrip("?") for key in keys if key.endswith("?")),
            echoed=frozenset(match["key"] for match in ECHOED.finditer(script)),
        )
    return found


def read_outputs(text: str) -> dict[str, set[str]]:
    """Step id -> the output keys the text reads of it (`steps.<id>.outputs.<key>`)."""
    read: dict[str, set[str]] = {}
    for match in READ.finditer(text):
        read.setdefault(match["step"], set()).add(match["key"])
    return read


def declared_outputs(action: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The outputs the action declares (what a workflow may read of a step that uses it)."""
    outputs: dict[str, dict[str, str]] = action.get("outputs") or {}
    return outputs


#: act's log lines (nektos/act pkg/runner/logger.go: "[<job>] <message>"; pkg/runner/step.go:
#: "⭐ Run <stage> <step>", "✅  Success - <stage> <step> [<time>]"; pkg/runner/command.go:
#: "⚙  ::set-output:: <name>=<value>").
JOB_LINE = re.compile(r"^\[(?P<job>[^\]]+)\] (?P<message>.*)$")
STEP_START = re.compile(r"\u2b50 Run (?:Pre|Main|Post) (?P<name>.+?)\s*$")
STEP_END = re.compile(r"(?:\u2705  Success|\u274c  Failure) - (?:Pre|Main|Post) (?P<name>.+) \[[^\]]*\]\s*$")
SET_OUTPUT = "::set-output:: "


def _job_messages(log: str) -> dict[str, list[str]]:
    jobs: dict[str, list[str]] = {}
    job = ""
    for line in log.splitlines():
        if match := JOB_LINE.match(line):
            job = match["job"]
            jobs.setdefault(job, []).append(match["message"])
        else:  # a continuation of a multi-line message
            jobs.setdefault(job, []).append("")
    return jobs


def outputs_in_log(log: str, actions: dict[str, Path]) -> dict[tuple[str, ...], set[str]]:
    """Step path (our action's step name, then the inner step's) -> the output keys written.

    act logs a step's $GITHUB_OUTPUT lines right after the step's end line; a composite action's
    declared outputs (all of them, once each) after its last inner step, just before the outer
    step ends (pkg/runner/action_composite.go, execAsComposite); and after the outer step ends it
    logs its last inner step's file outputs again (left out here). ``actions``: step name ->
    action.yml of the steps that use our actions."""
    found: dict[tuple[str, ...], set[str]] = {}
    for messages in _job_messages(log).values():
        running: list[str] = []
        owner: tuple[str, ...] = ()
        pending: list[str] = []
        for message in messages:
            if SET_OUTPUT in message:
                pending.append(message.split(SET_OUTPUT, 1)[1].split("=", 1)[0].strip())
                continue
            end = STEP_END.search(message)
            if end and len(running) == 1 and running[0] in actions:
                declared = len(declared_outputs(load(actions[running[0]])))
                split = len(pending) - declared
                found.setdefault(tuple(running), set()).update(pending[split:])
                pending = pending[:split]
            if pending and len(owner) != 1:  # not the replay after an action step
                found.setdefault(owner, set()).update(pending)
            pending = []
            if start := STEP_START.search(message):
                running.append(start["name"])
            elif end:
                assert running and running[-1] == end["name"], f"act log: {end['name']!r} ends, {running} running"
                owner = tuple(running)
                running.pop()
    return found


def local_actions(workflow: dict[str, Any], root: Path) -> dict[str, Path]:
    """Step name -> action.yml, for the steps of the workflow's jobs that use one of our actions."""
    steps = {}
    for job in workflow["jobs"].values():
        for step in job.get("steps") or []:
            uses = step.get("uses", "")
            for prefix in ("./.planet-sentinel/actions/", "./actions/"):
                if uses.startswith(prefix) and "name" in step:
                    steps[step["name"]] = root / "actions" / uses.removeprefix(prefix) / "action.yml"
    return steps


def undeclared_outputs_in_log(log: str, workflow: dict[str, Any], root: Path) -> list[str]:
    """Where a run wrote other outputs than declared: an action step's must be the action's
    declared outputs, an inner step's those its action reads of it (written_outputs)."""
    actions = local_actions(workflow, root)
    problems = []
    checked = 0
    for path, keys in outputs_in_log(log, actions).items():
        if not path or path[0] not in actions or len(path) > 2:
            continue  # the workflow's own steps
        action = load(actions[path[0]])
        if len(path) == 1:
            expected = set(declared_outputs(action))
        else:
            by_name = {step.name: step.written for step in written_outputs(action).values()}
            expected = set(by_name.get(path[1], set()))
        checked += 1
        if keys != expected:
            problems.append(f"{' > '.join(path)} wrote {sorted(keys)}, declared {sorted(expected)}")
    if not checked:
        problems.append("no output of our actions found in the log (has act's log format changed?)")
    return problems
