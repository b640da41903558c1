"""``fewmul doctor``: are all tools there, and the right versions?"""

from fewmul.sim.tools import doctor


def add_parser(sub):
    p = sub.add_parser("doctor", help="check simulators and synthesis tools")
    p.set_defaults(func=run)


def run(args):
    statuses = doctor()
    width = max(len(s.name) for s in statuses)
    for s in statuses:
        mark = "OK  " if s.ok else "FAIL"
        hint = f"   -> {s.hint}" if s.hint and not s.ok else ""
        print(f"{mark} {s.name:<{width}}  {s.version}{hint}")
    failed = [s.name for s in statuses if not s.ok]
    if failed:
        print(f"\n{len(failed)} tool(s) missing or unusable: {', '.join(failed)}")
        return 1
    print("\nall tools OK")
    return 0
