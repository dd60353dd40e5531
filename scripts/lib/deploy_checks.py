"""What validate-deploy.sh's checks share: failures collected as they are found, a line for each
group of checks that passed, and the verdict at the end.

    import deploy_checks as c
    c.start(printed="compose", source="docker-compose.yml")
    since = len(c.errors); c.check(ok, "why not"); c.passed(since, "what holds")
    c.finish()
"""
import sys

errors = []
_printed = _source = ""


def start(printed, source):
    """Names the passing lines (`deploy: <printed>: ...`) and the errors (`error: <source>: ...`)."""
    global _printed, _source
    _printed, _source = printed, source


def check(ok, message):
    if not ok:
        errors.append(message)


def passed(since, summary):
    if len(errors) == since:
        print(f"deploy: {_printed}: {summary}")


def finish():
    for message in errors:
        print(f"error: {_source}: {message}", file=sys.stderr)
    sys.exit(1 if errors else 0)
