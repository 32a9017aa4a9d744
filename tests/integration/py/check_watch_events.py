#!/usr/bin/python3
"""tests/integration/py/check_watch_events.py — checks the output of
`gregor cluster watch --output json` recorded by test_cli_watch.c while the
controller broker (which led partition PART of TOPIC) was SIGKILLed and
restarted.

Usage: check_watch_events.py FILE VICTIM TOPIC PART

FILE holds one JSON object per line (docs/cli.md, "cluster watch"). Checked:
every line parses, has an ISO-8601 UTC "time" with milliseconds and an
"event"; the first is "cluster" and names VICTIM as the controller; a
"controller_changed" event has previous=VICTIM and the last one names a
controller other than VICTIM and -1; partition PART has an "isr_shrank"
removing VICTIM with flags holding "under-replicated" and a later
"isr_expanded" adding it back with a full ISR and without that flag; any
"flags_changed" event carries previous_flags different from flags.
Prints what it found; exits 1 with the reason on the first failure.
"""
import json
import re
import sys

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def fail(msg):
    print("check_watch_events: " + msg)
    sys.exit(1)


def main():
    if len(sys.argv) != 5:
        fail("usage: check_watch_events.py FILE VICTIM TOPIC PART")
    path, victim, topic, part = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    lines = open(path).read().splitlines()
    if not lines:
        fail("no output")
    evs = []
    for n, line in enumerate(lines, 1):
        try:
            e = json.loads(line)
        except ValueError as err:
            fail("line %d is not JSON (%s): %s" % (n, err, line))
        if not isinstance(e, dict) or not ISO.match(str(e.get("time", ""))) or not e.get("event"):
            fail("line %d lacks an ISO-8601 time or an event: %s" % (n, line))
        evs.append(e)
    if evs[0]["event"] != "cluster":
        fail("first event is not cluster: %s" % lines[0])
    if evs[0]["controller"] != victim:
        fail("cluster event names controller %s, expected %d" % (evs[0]["controller"], victim))

    cc = [e for e in evs if e["event"] == "controller_changed"]
    for e in cc:
        if not isinstance(e.get("controller"), int) or not isinstance(e.get("previous"), int):
            fail("controller_changed without integer controller/previous: %s" % e)
        if e["controller"] == e["previous"]:
            fail("controller_changed to the same controller: %s" % e)
    if not any(e["previous"] == victim for e in cc):
        fail("no controller_changed from the killed controller %d: %s" % (victim, cc))
    if cc[-1]["controller"] in (-1, victim) or not 0 <= cc[-1]["controller"] <= 2:
        fail("the last controller_changed does not name a live controller: %s" % cc[-1])

    def of_part(name):
        return [(i, e) for i, e in enumerate(evs)
                if e["event"] == name and e.get("topic") == topic and e.get("partition") == part]

    shrank = [(i, e) for i, e in of_part("isr_shrank") if victim in e["removed"]]
    if not shrank:
        fail("no isr_shrank of %s-%d removing %d" % (topic, part, victim))
    i_shrank, e = shrank[0]
    if "under-replicated" not in e["flags"] or victim in e["isr"]:
        fail("isr_shrank without the under-replicated flag: %s" % e)
    expanded = [(i, e) for i, e in of_part("isr_expanded") if victim in e["added"] and i > i_shrank]
    if not expanded:
        fail("no isr_expanded of %s-%d adding %d back" % (topic, part, victim))
    e = expanded[-1][1]
    if "under-replicated" in e["flags"] or sorted(e["isr"]) != sorted(e["replicas"]):
        fail("isr_expanded with a full ISR still flagged under-replicated: %s" % e)

    for e in (e for e in evs if e["event"] == "flags_changed"):
        if not isinstance(e.get("previous_flags"), list) or not isinstance(e.get("flags"), list) \
                or sorted(e["previous_flags"]) == sorted(e["flags"]):
            fail("flags_changed without a change of flags: %s" % e)

    print("check_watch_events: %d events, controller %d -> %d, %s-%d flags %s -> %s" %
          (len(evs), victim, cc[-1]["controller"], topic, part, shrank[0][1]["flags"],
           expanded[-1][1]["flags"]))


if __name__ == "__main__":
    main()
