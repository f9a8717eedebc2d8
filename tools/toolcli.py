"""Shared by the scripts in tools/ (import it before numpy/torch/onnx): a missing Python module is
one line naming the Debian package instead of a traceback (the scripts run with Debian's
/usr/bin/python3 and its python3-* packages), and check() reads the command line before a script
writes anything: -h/--help prints the script's docstring, an unknown option or a wrong number of
arguments is an error with exit status 2 (no folder named "--help" is made)."""
import os
import sys

DEBIAN_PACKAGES = {"numpy": "python3-numpy", "torch": "python3-torch", "onnx": "python3-onnx",
                   "sklearn": "python3-sklearn", "scipy": "python3-scipy"}


def _prog():
    return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "tools script"


def _excepthook(kind, value, tb):
    if issubclass(kind, ModuleNotFoundError) and getattr(value, "name", None):
        top = value.name.split(".")[0]
        pkg = DEBIAN_PACKAGES.get(top)
        hint = ("Debian's %s (apt-get install %s, or tools/setup.sh --with-torch), run with "
                "/usr/bin/python3" % (pkg, pkg)) if pkg else "not one of Debian's packages known here"
        sys.stderr.write("%s: needs the Python module '%s': %s\n" % (_prog(), top, hint))
        sys.exit(2)
    sys.__excepthook__(kind, value, tb)


sys.excepthook = _excepthook


def _print_help():
    print((sys.modules["__main__"].__doc__ or "").strip())
    sys.exit(0)


# -h/--help before the script imports torch (a help text needs no module)
if __name__ != "__main__" and ("-h" in sys.argv[1:] or "--help" in sys.argv[1:]):
    _print_help()


def _usage_error(msg):
    doc = (sys.modules["__main__"].__doc__ or "").strip()
    first = next((line for line in doc.splitlines() if "usage" in line.lower()), "")
    sys.stderr.write("%s: %s\n%s" % (_prog(), msg, (first.strip() + "\n") if first else ""))
    sys.stderr.write("(%s --help for more)\n" % _prog())
    sys.exit(2)


def check(min_args=0, max_args=None, options=(), flags=()):
    """Checks sys.argv[1:]: `options` take one value, `flags` none, the rest are positional
    (min_args..max_args of them; None: any number). Scripts keep reading sys.argv themselves."""
    args = sys.argv[1:]
    if "-h" in args or "--help" in args:
        _print_help()
    positional, i = 0, 0
    while i < len(args):
        a = args[i]
        if a in options:
            if i + 1 >= len(args):
                _usage_error("option %s needs a value" % a)
            i += 2
            continue
        if a.startswith("-") and len(a) > 1 and a not in flags and not _is_number(a):
            _usage_error("unknown option '%s'" % a)
        positional += a not in flags
        i += 1
    if positional < min_args:
        _usage_error("expected at least %d argument(s), got %d" % (min_args, positional))
    if max_args is not None and positional > max_args:
        _usage_error("expected at most %d argument(s), got %d" % (max_args, positional))


def _is_number(a):
    try:
        float(a)
        return True
    except ValueError:
        return False
