"""A state run's result for people: one line per host, then each failure with its comment.

``salt-ssh '*' state.apply --out=json | python -m saltsphere.summary`` prints
what a newcomer needs instead of every state's detail; the exit status is 1
when any state (or host) failed.
"""

import sys

from saltsphere.installer import parse_json_stream

_REQUISITE = "One or more requisite failed"


def host_lines(host, states) -> tuple:
    """``(summary line, [failure lines])`` of one host's return."""
    if not isinstance(states, dict) or not any(isinstance(s, dict) and "result" in s for s in states.values()):
        detail = states if not isinstance(states, dict) else (states.get("_error") or states.get("stderr") or states)
        return f"{host}: FAILED, no state result", [f"  {str(detail).strip()[:1500]}"]
    results = [s for s in states.values() if isinstance(s, dict) and "result" in s]
    failed = sorted((s for s in results if s["result"] is False), key=lambda s: s.get("__run_num__", 0))
    changed = [s for s in results if s.get("changes")]
    seconds = sum(float(s.get("duration") or 0) for s in results) / 1000
    verdict = "FAILED" if failed else "ok"
    line = (f"{host}: {verdict}, {len(results)} states, {len(changed)} changed, {len(failed)} failed"
            f" ({seconds:.0f} s in states)")
    details = []
    for state in failed:
        comment = str(state.get("comment", "")).strip()
        if comment.startswith(_REQUISITE) and len(failed) > 1:
            continue
        details.append(f"  {state.get('__id__', '?')}: {comment[:1500]}")
    return line, details


def summarize(data) -> tuple:
    """``(lines, ok)`` for salt-ssh's JSON return of every host."""
    lines, ok = [], True
    for host in sorted(data):
        line, details = host_lines(host, data[host])
        ok = ok and not details and "FAILED" not in line
        lines.append(line)
        lines += details
    return lines, ok


def main(stream=None, out=None) -> int:
    stream, out = stream or sys.stdin, out or sys.stdout
    text = stream.read()
    try:
        data = parse_json_stream(text)
    except ValueError:
        print(text[-3000:], file=out)
        print("salt-ssh printed no JSON result (above: the end of what it printed)", file=out)
        return 1
    lines, ok = summarize(data)
    print("\n".join(lines), file=out)
    return 0 if ok and data else 1


if __name__ == "__main__":
    sys.exit(main())
